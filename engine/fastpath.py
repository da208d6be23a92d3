"""The evaluation's fast path: each rule's condition tree compiled into closures, once, at load.

The condition tree (`engine.conditions`) holds what the policy says, and each node's
`test(ctx)` walks it: the reference semantics, which `explain` follows and lint reads.
Walking costs a method call and an attribute lookup per node, a list of values per
test and a loop around one predicate. Here every node becomes a closure over its
children's closures, and the common tests (one operator on a field, one negation, a
field that holds at most one value) become one function that reads the value and
compares it. Every other test keeps the node's own `test`. tests/test_fastpath.py
holds the two routes equal on the corpus, the engine cases and generated events.
"""
from __future__ import annotations

from typing import Any, Callable

from engine.conditions import AllOf, AnyOf, Condition, CountCheck, Named, Not, Test
from engine.mail.context import RecordContext
from engine.mail.fields import AddressSource, PathSource, Source
from engine.mail.jsonpath import MISSING

Predicate = Callable[[RecordContext], bool]


def always(ctx: RecordContext) -> bool:
    """A rule without `when`."""
    return True


def tree_walk(condition: Condition | None) -> Predicate:
    """The condition's own `test`: the reference the compiled closures are held equal to."""
    return always if condition is None else condition.test


def compile_condition(condition: Condition | None, memo: dict[int, Predicate] | None = None) -> Predicate:
    """The closure equal to `condition.test`; `memo` shares the closure of a named condition
    among the rules that use it."""
    if condition is None:
        return always
    memo = {} if memo is None else memo
    key = id(condition)
    if key not in memo:
        memo[key] = _compile(condition, memo)
    return memo[key]


def _compile(node: Condition, memo: dict[int, Predicate]) -> Predicate:
    kind = type(node)
    if kind is AllOf or kind is AnyOf:
        children = tuple(compile_condition(c, memo) for c in node.children())
        return _all(children) if kind is AllOf else _any(children)
    if kind is Not:
        child = compile_condition(node.child, memo)   # type: ignore[attr-defined]
        return lambda ctx: not child(ctx)
    if kind is Named:
        return compile_condition(node.target, memo)   # type: ignore[attr-defined]
    if kind is Test:
        return _test(node)                            # type: ignore[arg-type]
    return node.test                                  # `where` and anything new: the node's own walk


def compile_plan(plan: tuple[tuple[Predicate, tuple[str, str | None, bool, tuple]], ...], default: str,
                 decided: Callable[[str, str | None, list[str]], Any]) -> Callable[[RecordContext], Any] | None:
    """`Policy._decide`'s loop over the rules as one generated function: a test and what follows
    per rule, without the loop's unpacking; None when a rule has actions (their collection stays
    in the loop). The source holds only names made here; the closures, rule names and
    dispositions are passed in as constants, never written into it."""
    if any(actions for _, (_, _, _, actions) in plan):
        return None
    constants: dict[str, Any] = {"decided": decided, "default": default}
    lines = ["def decide(ctx):", " shadow = []"]
    for i, (holds, (name, disposition, is_shadow, _)) in enumerate(plan):
        constants[f"h{i}"], constants[f"n{i}"], constants[f"d{i}"] = holds, name, disposition
        if is_shadow:
            lines += [f" if h{i}(ctx):", f"  shadow.append(n{i})"]
        elif disposition is not None:
            lines += [f" if h{i}(ctx):", f"  return decided(d{i}, n{i}, shadow)"]
        else:                       # decides nothing, but its tests run (they charge the address budget)
            lines.append(f" h{i}(ctx)")
    lines.append(" return decided(default, None, shadow)")
    exec(compile("\n".join(lines), "<rule plan>", "exec"), constants)  # noqa: S102
    return constants["decide"]


def _all(children: tuple[Predicate, ...]) -> Predicate:
    if len(children) == 1:
        return children[0]
    if len(children) == 2:
        first, second = children
        return lambda ctx: first(ctx) and second(ctx)
    if len(children) == 3:
        first, second, third = children
        return lambda ctx: first(ctx) and second(ctx) and third(ctx)

    def every(ctx: RecordContext) -> bool:
        for child in children:
            if not child(ctx):
                return False
        return True
    return every


def _any(children: tuple[Predicate, ...]) -> Predicate:
    if len(children) == 1:
        return children[0]
    if len(children) == 2:
        first, second = children
        return lambda ctx: first(ctx) or second(ctx)

    def some(ctx: RecordContext) -> bool:
        for child in children:
            if child(ctx):
                return True
        return False
    return some


def _one_value(source: Source) -> Callable | None:
    """A function giving the field's one value or MISSING, when the source reads one plain path
    that selects at most one value (verdicts, `subject`, `sender`'s string...)."""
    if type(source) is PathSource and len(source.getters) == 1:
        return source.getters[0].one
    return None


def _test(node: Test) -> Predicate:
    """One operator, or one negation, on one source: read and compare in one closure."""
    if node.match_all or len(node.value_checks) + len(node.set_checks) != 1:
        return node.test
    values, one = node.source.values, _one_value(node.source)
    check = node.value_checks[0] if node.value_checks else node.set_checks[0]
    if type(check) is CountCheck and type(node.source) is AddressSource and node.source.part.value is not None:
        return _count(node.source, check)                   # one value per address: count addresses
    if check.whole:
        whole = check.pred
        return lambda ctx: whole(values(ctx), ctx)
    negated = not node.value_checks
    members = getattr(check.pred, "members", None)
    if members is not None and type(node.source) is AddressSource:   # addresses in a set: one C call
        return (lambda ctx: members.isdisjoint(values(ctx))) if negated else \
            (lambda ctx: not members.isdisjoint(values(ctx)))
    texts = getattr(check.pred, "ascii_texts", None)
    if texts is not None and one is not None:
        field = node.source.field
        return _in_on_one(check.pred, one, *texts, negated, field.values if field is not None else (),
                          node.source.getters[0].keys)
    return (_negation if negated else _positive)(check.pred, values, one)


def _count(source: AddressSource, check: CountCheck) -> Predicate:
    """`count: {...}` on the number of addresses; one comparison (`gt: 10`) inline, decided by the
    bound `at_most` gives when the count's answer is the same from none up to the bound (every
    comparison a count takes is monotone in it), which spares parsing one recipient to learn it
    is one address."""
    count = source.count
    compare = getattr(check.checks[0].pred, "compare", None) if len(check.checks) == 1 else None
    if compare is None:
        counts = check.counts
        return lambda ctx: counts(count(ctx))
    test, limit = compare
    negated = check.checks[0].negated
    at_most = source.at_most
    at_none = test(0, limit) is not negated

    def holds(ctx: RecordContext) -> bool:
        bound = at_most(ctx)
        if bound is not None and (test(bound, limit) is not negated) is at_none:
            return at_none
        return test(count(ctx), limit) is not negated
    return holds


def _in_on_one(pred: Callable, one: Callable, texts: frozenset[str], fold: bool, negated: bool,
               declared: tuple[str, ...], keys: tuple[str, ...] | None) -> Predicate:
    """`in` (or `not_in`) on a field of one value: ASCII text looked up here, as `pred` would; the
    answer for each value the field declares (a verdict's PASS, FAIL, ...) worked out at load."""
    def holds(ctx: RecordContext) -> bool:
        value = one(ctx.ses)
        if type(value) is str and value.isascii():
            return ((value.lower() if fold else value) in texts) is not negated
        return (value is not MISSING and pred(value, ctx)) is not negated
    answers = {v: ((v.lower() if fold else v) in texts) is not negated for v in declared if v.isascii()}
    if answers and keys is not None and len(keys) in (2, 3):     # every verdict and enum field
        return _declared_by_keys(keys, answers, holds)
    return holds


_EMPTY: dict = {}   # what a missing member of the path reads as (never written to)


def _declared_by_keys(keys: tuple[str, ...], answers: dict[str, bool], otherwise: Predicate) -> Predicate:
    """A declared value's answer read through the path's gets inline (`receipt.spfVerdict.status`,
    `receipt.dmarcPolicy`): the path's `one` without a call of its own. Anything but a declared
    value, or a member that is no object, goes to `otherwise`, which reads it again."""
    if len(keys) == 3:
        first, second, third = keys

        def holds3(ctx: RecordContext) -> bool:
            try:
                answer = answers.get(ctx.ses.get(first, _EMPTY).get(second, _EMPTY).get(third))
            except (AttributeError, TypeError):     # no object on the way, or an unhashable value
                return otherwise(ctx)
            return otherwise(ctx) if answer is None else answer
        return holds3
    first, second = keys

    def holds2(ctx: RecordContext) -> bool:
        try:
            answer = answers.get(ctx.ses.get(first, _EMPTY).get(second))
        except (AttributeError, TypeError):
            return otherwise(ctx)
        return otherwise(ctx) if answer is None else answer
    return holds2


def _positive(pred: Callable, values: Callable, one: Callable | None) -> Predicate:
    """Some value satisfies `pred`."""
    if one is not None:
        def holds_on_one(ctx: RecordContext) -> bool:
            value = one(ctx.ses)
            return value is not MISSING and pred(value, ctx)
        return holds_on_one

    def holds(ctx: RecordContext) -> bool:
        for value in values(ctx):
            if pred(value, ctx):
                return True
        return False
    return holds


def _negation(pred: Callable, values: Callable, one: Callable | None) -> Predicate:
    """No value satisfies `pred` (a negation looks at the whole set of values)."""
    if one is not None:
        def holds_on_one(ctx: RecordContext) -> bool:
            value = one(ctx.ses)
            return value is MISSING or not pred(value, ctx)
        return holds_on_one

    def holds(ctx: RecordContext) -> bool:
        for value in values(ctx):
            if pred(value, ctx):
                return False
        return True
    return holds
