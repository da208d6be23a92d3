"""What lint knows about a compiled condition: whether it can hold, what it requires, where its tests are.

Every function here walks `engine.conditions` nodes (the loader's own result, with
positions), never the YAML: the condition grammar lives in the compiler alone.
"""
from __future__ import annotations

import math
from functools import singledispatch
from typing import Iterator

from engine.conditions import AllOf, AnyOf, Check, Condition, CountCheck, Named, Not, Test, WhereTest
from engine.mail.fields import AddressSource
from engine.mail.values import NumberLiteral
from engine.tools.lint.paths import PathProblem, check_path

_VERDICT_PATHS = {"$.receipt.dmarcVerdict.status": "dmarc", "$.receipt.spfVerdict.status": "spf"}


def is_path_test(test: Test) -> bool:
    return test.source.form.kind == "json"


def path_problem(test: Test) -> PathProblem | None:
    """Why a path test's path cannot exist in an SES record (None for field tests), read from the
    path the loader parsed."""
    if not is_path_test(test):
        return None
    [getter] = test.source.getters  # type: ignore[attr-defined]
    return check_path(test.source.label, getter.expr)


def checks_of(test: Test) -> list[Check]:
    """Every check of a test: its own, those inside `where` and those inside `count`."""
    checks = test.checks() + (test.part_checks() if isinstance(test, WhereTest) else [])
    return checks + [inner for c in checks if isinstance(c, CountCheck) for inner in c.checks]


def nodes(condition: Condition | None) -> Iterator[Condition]:
    """Every node written in one condition, in order (named conditions are not entered: each is
    walked once, from its definition)."""
    stack = [condition] if condition is not None else []
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children()))


def tests_in(condition: Condition | None) -> Iterator[Test]:
    return (node for node in nodes(condition) if isinstance(node, Test))


def references(condition: Condition | None) -> Iterator[Named]:
    return (node for node in nodes(condition) if isinstance(node, Named))


# --- truth: can a condition hold at all? ---------------------------------------------------

def _combine(results: list[bool | None], decisive: bool) -> bool | None:
    """`all` (decisive False) or `any` (decisive True) over known and unknown results."""
    if decisive in results:
        return decisive
    return (not decisive) if results and all(r is (not decisive) for r in results) else None


@singledispatch
def truth(condition: Condition | None) -> bool | None:
    """True: always holds; False: never holds; None: depends on the mail (no `when`: always)."""
    return True if condition is None else None


@truth.register
def _(condition: Named) -> bool | None:
    return truth(condition.target)


@truth.register(AllOf)
@truth.register(AnyOf)
def _(condition: AllOf | AnyOf) -> bool | None:
    return _combine([truth(c) for c in condition.items], isinstance(condition, AnyOf))


@truth.register
def _(condition: Not) -> bool | None:
    inner = truth(condition.child)
    return None if inner is None else not inner


@truth.register
def _(test: Test) -> bool | None:
    impossible = path_problem(test) is not None
    results = [_check_truth(c, impossible) for c in test.checks()]
    if isinstance(test, WhereTest):
        results.append(False if impossible else None)
    return _combine(results, False)


def _check_truth(check: Check, impossible: bool) -> bool | None:
    if isinstance(check, CountCheck):
        return check.counts(0) if impossible else count_truth(check)
    if check.op == "exists":
        return (not check.value) if impossible else None
    if impossible:
        return check.negated      # no values: every negation holds, every positive fails
    return None


def count_truth(check: CountCheck) -> bool | None:
    """Whether a count test holds for every count, none, or some: its outcome changes only at its
    limits, so the counts around each limit (and 0, and one past the last) decide."""
    limits: list[float] = []
    for inner in check.checks:
        values = inner.value if isinstance(inner.value, list) else [inner.value]
        limits += [v.value if isinstance(v, NumberLiteral) else v for v in values
                   if isinstance(v, (int, float, NumberLiteral))]
    samples = {0} | {max(0, n) for limit in limits for base in (math.floor(limit), math.ceil(limit))
                     for n in (base - 1, base, base + 1)}
    samples.add(max(samples) + 1)
    outcomes = {check.counts(n) for n in samples}
    return outcomes.pop() if len(outcomes) == 1 else None


# --- verdicts a condition requires ---------------------------------------------------------

def verdict_fact(test: Test) -> str | None:
    """'dmarc' / 'spf' when this test requires that verdict to be PASS."""
    name = _VERDICT_PATHS.get(test.source.label) if is_path_test(test) else \
        test.source.field.name if test.source.field else None
    if name not in ("dmarc", "spf"):
        return None
    for check in test.value_checks:
        if check.op in ("equals", "in"):
            values = check.value if isinstance(check.value, list) else [check.value]
            texts = [v.text if isinstance(v, NumberLiteral) else v for v in values]
            if texts and all(t.upper() == "PASS" for t in texts):
                return name
    return None


@singledispatch
def implied(condition: Condition | None) -> set[str]:
    """Verdicts ('dmarc', 'spf') that must be PASS whenever `condition` holds."""
    return set()


@implied.register
def _(condition: Named) -> set[str]:
    return implied(condition.target)


@implied.register(AllOf)
@implied.register(AnyOf)
def _(condition: AllOf | AnyOf) -> set[str]:
    sets = [implied(c) for c in condition.items]
    return set().union(*sets) if isinstance(condition, AllOf) else set.intersection(*sets)


@implied.register
def _(condition: Test) -> set[str]:
    fact = verdict_fact(condition)
    return {fact} if fact else set()


# --- which tests select mail, and under which guards ----------------------------------------

@singledispatch
def selections(condition: Condition | None, guards: frozenset[str] = frozenset(), positive: bool = True
               ) -> Iterator[tuple[Test, bool, frozenset[str]]]:
    """Every test a rule's condition depends on, with its polarity (False under an odd number of
    `not`) and the verdicts its branch requires to be PASS (from the siblings of an `all`)."""
    return iter(())


@selections.register
def _(condition: Named, guards: frozenset[str] = frozenset(), positive: bool = True) -> Iterator:
    return selections(condition.target, guards, positive)


@selections.register
def _(condition: Not, guards: frozenset[str] = frozenset(), positive: bool = True) -> Iterator:
    return selections(condition.child, guards, not positive)


@selections.register(AllOf)
@selections.register(AnyOf)
def _(condition: AllOf | AnyOf, guards: frozenset[str] = frozenset(), positive: bool = True) -> Iterator:
    conjunctive = isinstance(condition, AllOf) == positive
    for child in condition.items:
        extra: set[str] = set()
        if conjunctive and positive:
            for sibling in condition.items:
                if sibling is not child:
                    extra |= implied(sibling)
        yield from selections(child, guards | extra, positive)


@selections.register
def _(condition: Test, guards: frozenset[str] = frozenset(), positive: bool = True) -> Iterator:
    yield condition, positive, guards


def selects(test: Test, positive: bool) -> bool:
    """Whether the test picks mail out (rather than ruling it out) where it stands: a positive
    operator under even polarity, a negation under odd."""
    ops = [c for c in test.checks() if c.op not in ("exists", "count")]
    return any(c.negated != positive for c in ops) or (positive and isinstance(test, WhereTest))


def multi_address(test: Test) -> AddressSource | None:
    """The source when the test reads an address field that may hold several addresses."""
    source = test.source
    return source if isinstance(source, AddressSource) and source.multi else None
