"""The compiled condition tree: what a policy's `when` becomes and what evaluation walks.

Each node has a fast `test(ctx)` and an `explain(ctx)` that returns a typed trace
node (`engine.trace`). Nodes keep where the policy wrote them (`at`) and their
operators as written, so lint reads this tree instead of the YAML. The tree
holds no YAML and no compiler state: `engine.lang.compiler` builds it,
`engine.policy` runs it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from engine.mail.addresses import Address
from engine.mail.context import RecordContext
from engine.mail.fields import AddressSource, PartSpec, Source
from engine.mail.values import as_text

if TYPE_CHECKING:   # the trace is built only with explain: a cold start does not import it
    from engine.trace import AllTrace, AnyTrace, CheckTrace, NamedTrace, NotTrace, TestTrace, TraceNode


class Pos(NamedTuple):
    """1-based line and column in the policy file."""
    line: int
    col: int


NOWHERE = Pos(1, 1)


def json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


class Condition:
    at: Pos = NOWHERE

    def test(self, ctx: RecordContext) -> bool:
        raise NotImplementedError

    def explain(self, ctx: RecordContext) -> TraceNode:
        raise NotImplementedError

    def children(self) -> tuple[Condition, ...]:
        return ()

    def depth(self, named_depths: dict[str, int]) -> int:
        """Levels evaluation recurses through, counting each named condition's own depth."""
        return 1 + max((c.depth(named_depths) for c in self.children()), default=0)


class _Combinator(Condition):
    """`all` or `any`: its children in order; evaluation stops at the first child that `stops`."""

    stops: bool      # the child result that decides the whole: False for `all`, True for `any`

    def __init__(self, children: list[Condition], at: Pos = NOWHERE):
        self.items = children
        self.at = at

    def children(self) -> tuple[Condition, ...]:
        return tuple(self.items)

    def test(self, ctx: RecordContext) -> bool:
        stops = self.stops
        for child in self.items:
            if bool(child.test(ctx)) == stops:
                return stops
        return not stops

    def _explained(self, ctx: RecordContext) -> list:
        parts = []
        for child in self.items:           # stops where test() stops, so the trace shows what ran
            parts.append(child.explain(ctx))
            if bool(parts[-1].held) == self.stops:
                break
        return parts


class AllOf(_Combinator):
    stops = False

    def explain(self, ctx: RecordContext) -> AllTrace:
        from engine.trace import AllTrace
        parts = self._explained(ctx)
        return AllTrace(parts, all(p.held for p in parts))


class AnyOf(_Combinator):
    stops = True

    def explain(self, ctx: RecordContext) -> AnyTrace:
        from engine.trace import AnyTrace
        parts = self._explained(ctx)
        return AnyTrace(parts, any(p.held for p in parts))


class Not(Condition):
    def __init__(self, child: Condition, at: Pos = NOWHERE):
        self.child = child
        self.at = at

    def children(self) -> tuple[Condition, ...]:
        return (self.child,)

    def test(self, ctx: RecordContext) -> bool:
        return not self.child.test(ctx)

    def explain(self, ctx: RecordContext) -> NotTrace:
        from engine.trace import NotTrace
        inner = self.child.explain(ctx)
        return NotTrace(inner, not inner.held)


class Named(Condition):
    """A reference to a named condition, linked to it once every named condition is compiled."""

    def __init__(self, name: str, at: Pos = NOWHERE):
        self.name = name
        self.at = at
        self.target: Condition | None = None

    def depth(self, named_depths: dict[str, int]) -> int:
        return 1 + named_depths.get(self.name, 0)

    def test(self, ctx: RecordContext) -> bool:
        return self.target.test(ctx)  # type: ignore[union-attr]

    def explain(self, ctx: RecordContext) -> NamedTrace:
        from engine.trace import NamedTrace
        inner = self.target.explain(ctx)  # type: ignore[union-attr]
        return NamedTrace(self.name, inner, inner.held)


class Check:
    """One operator of a test: as written (for traces and lint), its argument as read, its predicate."""
    __slots__ = ("op", "written", "value", "pred", "negated", "whole", "at")

    def __init__(self, op: str, written: Any, value: Any, pred: Callable, *, negated: bool = False,
                 whole: bool = False, at: Pos = NOWHERE):
        self.op, self.written, self.value, self.pred = op, written, value, pred
        self.negated, self.whole, self.at = negated, whole, at

    @property
    def positive(self) -> str:
        """The operator without its `not_`."""
        return self.op[4:] if self.negated else self.op

    def holds_on(self, values: list, ctx: RecordContext) -> bool:
        """Whole-set semantics: negations mean no value satisfies the positive operator."""
        if self.whole:
            return self.pred(values, ctx)
        pred = self.pred
        for v in values:
            if pred(v, ctx):
                return False
        return True

    def trace(self, values: list, ctx: RecordContext, match_all: bool = False) -> CheckTrace:
        from engine.trace import CheckTrace
        if self.whole or self.negated:
            return CheckTrace(self.op, self.written, self.holds_on(values, ctx))
        hits = [v for v in values if self.pred(v, ctx)]
        held = bool(hits) and (len(hits) == len(values) if match_all else True)
        return CheckTrace(self.op, self.written, held, matched=json_safe(hits))


class CountCheck(Check):
    """`count`: the number of values satisfies every number check in it."""
    __slots__ = ("checks",)

    def __init__(self, checks: list[Check], written: Any, at: Pos = NOWHERE):
        super().__init__("count", written, checks, self._holds, whole=True, at=at)
        self.checks = checks

    def counts(self, n: int) -> bool:
        for check in self.checks:
            if check.pred(n, None) is check.negated:
                return False
        return True

    def _holds(self, values: list, ctx: RecordContext) -> bool:
        return self.counts(len(values))

    def trace(self, values: list, ctx: RecordContext, match_all: bool = False) -> CheckTrace:
        from engine.trace import CheckTrace
        return CheckTrace(self.op, self.written, self.counts(len(values)), counted=len(values))


class SameAs(Check):
    """`same_as`: a value equal to any value of another field of the same record.

    The other field's values become a set once per record, so a test costs one
    lookup per value, not a scan of the other field.
    """
    __slots__ = ("other", "key", "_cache_key")

    def __init__(self, op: str, written: Any, other: Source, key: Callable[[str], str], at: Pos = NOWHERE):
        super().__init__(op, written, other, self._same, negated=op != "same_as", at=at)
        self.other, self.key = other, key
        # Checks on the same other field, compared the same way, share one set per record.
        self._cache_key = f"same_as:{other.label}:{int(other.form.case_sensitive)}:{key.__name__}"

    def _others(self, ctx: RecordContext) -> frozenset[str]:
        found = ctx.cache.get(self._cache_key)
        if found is None:
            key = self.key
            texts = (as_text(o) for o in self.other.values(ctx))
            found = ctx.cache[self._cache_key] = frozenset(key(t) for t in texts if t is not None)
        return found

    def _same(self, v: Any, ctx: RecordContext) -> bool:
        text = as_text(v)
        return text is not None and self.key(text) in self._others(ctx)


class Test(Condition):
    """All checks of one TEST on one source: positives per value, the rest on the whole set."""

    def __init__(self, source: Source, value_checks: list[Check], set_checks: list[Check], match_all: bool,
                 at: Pos = NOWHERE):
        self.source = source
        self.value_checks = value_checks
        self.set_checks = set_checks
        self.match_all = match_all
        self.at = at
        self._preds = [c.pred for c in value_checks]
        self._single = self._preds[0] if len(self._preds) == 1 and not match_all else None
        if self._single is not None and not set_checks and type(self) is Test:
            self.test = self._test_single   # type: ignore[method-assign]  # the common case, one call less

    def checks(self) -> list[Check]:
        return self.value_checks + self.set_checks

    def _test_single(self, ctx: RecordContext) -> bool:
        pred = self._single
        for v in self.source.values(ctx):
            if pred(v, ctx):  # type: ignore[misc]
                return True
        return False

    def _values_hold(self, values: list, ctx: RecordContext) -> bool:
        preds = self._preds
        if not preds:
            return True
        single = self._single
        if single is not None:
            for v in values:
                if single(v, ctx):
                    return True
            return False
        if self.match_all:
            if isinstance(self.source, AddressSource):
                groups = self.source.per_address(ctx)
                if not groups or any(not g for g in groups):
                    return False
                values = [v for g in groups for v in g]
            if not values:
                return False
            return all(all(p(v, ctx) for p in preds) for v in values)
        return any(all(p(v, ctx) for p in preds) for v in values)

    def test(self, ctx: RecordContext) -> bool:
        values = self.source.values(ctx)
        for check in self.set_checks:
            if not check.holds_on(values, ctx):
                return False
        return self._values_hold(values, ctx)

    def explain(self, ctx: RecordContext) -> TestTrace:
        from engine.trace import TestTrace
        values = self.source.values(ctx)
        checks = [c.trace(values, ctx, self.match_all) for c in self.value_checks]
        checks += [c.trace(values, ctx) for c in self.set_checks]
        return TestTrace(self.source.label, json_safe(values), checks, self.test(ctx), self.match_all)


class PartTest:
    """One part's TEST inside `where`, checked on one address's values of that part.

    Positives: one of the part's values satisfies them all; negations: none of
    its values satisfies the positive operator (about this address alone).
    """

    def __init__(self, part: PartSpec, case_sensitive: bool, value_checks: list[Check], set_checks: list[Check]):
        self.part = part
        self.case_sensitive = case_sensitive
        self.value_checks = value_checks
        self.set_checks = set_checks
        self._preds = [c.pred for c in value_checks]

    def holds(self, address: Address, ctx: RecordContext) -> bool:
        values = self.part.extract(address, self.case_sensitive)
        for check in self.set_checks:
            if not check.holds_on(values, ctx):
                return False
        preds = self._preds
        return not preds or any(all(p(v, ctx) for p in preds) for v in values)


class WhereTest(Test):
    """`where`: one address (every address, with `match: all`) satisfies every part test together,
    and the test's own value operators; the test's negations, `exists` and `count` look at the
    whole set of addresses as usual."""

    def __init__(self, source: AddressSource, value_checks: list[Check], set_checks: list[Check],
                 match_all: bool, at: Pos, parts: list[PartTest], written: Any, where_at: Pos):
        super().__init__(source, value_checks, set_checks, match_all, at)
        self.parts = parts
        self.written = written
        self.where_at = where_at

    def part_checks(self) -> list[Check]:
        return [c for p in self.parts for c in p.value_checks + p.set_checks]

    def _address_holds(self, address: Address, ctx: RecordContext) -> bool:
        source: AddressSource = self.source  # type: ignore[assignment]
        preds = self._preds
        if preds and not any(all(p(v, ctx) for p in preds)
                             for v in source.part.extract(address, source.case_sensitive)):
            return False
        return all(part.holds(address, ctx) for part in self.parts)

    def _where_holds(self, ctx: RecordContext) -> bool:
        groups = self.source.parsed(ctx)  # type: ignore[attr-defined]
        if self.match_all:     # every address, at least one, and no string without an address
            return bool(groups) and all(g and all(self._address_holds(a, ctx) for a in g) for g in groups)
        return any(self._address_holds(a, ctx) for g in groups for a in g)

    def test(self, ctx: RecordContext) -> bool:
        values = self.source.values(ctx)
        for check in self.set_checks:
            if not check.holds_on(values, ctx):
                return False
        return self._where_holds(ctx)

    def explain(self, ctx: RecordContext) -> TestTrace:
        from engine.trace import CheckTrace
        trace = super().explain(ctx)
        hits = [a.address for g in self.source.parsed(ctx) for a in g  # type: ignore[attr-defined]
                if self._address_holds(a, ctx)]
        trace.checks.insert(0, CheckTrace("where", self.written, self._where_holds(ctx), matched=hits))
        return trace
