"""The compiled condition tree: what a policy's `when` becomes and what evaluation walks.

Each node has a fast `test(ctx)` and an `explain(ctx)` that records what it saw.
The tree holds no YAML and no compiler state: `engine.lang.compiler` builds it,
`engine.policy` runs it.
"""
from __future__ import annotations

from typing import Any, Callable

from engine.mail.context import RecordContext
from engine.mail.fields import AddressSource, Source


def json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


class Condition:
    def test(self, ctx: RecordContext) -> bool:
        raise NotImplementedError

    def explain(self, ctx: RecordContext) -> dict:
        raise NotImplementedError


class AllOf(Condition):
    def __init__(self, children: list[Condition]):
        self.children = children

    def test(self, ctx: RecordContext) -> bool:
        for child in self.children:
            if not child.test(ctx):
                return False
        return True

    def explain(self, ctx: RecordContext) -> dict:
        parts = []
        for child in self.children:           # stops where test() stops, so the trace shows what ran
            parts.append(child.explain(ctx))
            if not parts[-1]["held"]:
                break
        return {"all": parts, "held": all(p["held"] for p in parts)}


class AnyOf(Condition):
    def __init__(self, children: list[Condition]):
        self.children = children

    def test(self, ctx: RecordContext) -> bool:
        for child in self.children:
            if child.test(ctx):
                return True
        return False

    def explain(self, ctx: RecordContext) -> dict:
        parts = []
        for child in self.children:
            parts.append(child.explain(ctx))
            if parts[-1]["held"]:
                break
        return {"any": parts, "held": any(p["held"] for p in parts)}


class Not(Condition):
    def __init__(self, child: Condition):
        self.child = child

    def test(self, ctx: RecordContext) -> bool:
        return not self.child.test(ctx)

    def explain(self, ctx: RecordContext) -> dict:
        inner = self.child.explain(ctx)
        return {"not": inner, "held": not inner["held"]}


class Named(Condition):
    """A reference to a named condition, resolved after all of them are compiled."""

    def __init__(self, name: str):
        self.name = name
        self.target: Condition | None = None

    def test(self, ctx: RecordContext) -> bool:
        return self.target.test(ctx)  # type: ignore[union-attr]

    def explain(self, ctx: RecordContext) -> dict:
        inner = self.target.explain(ctx)  # type: ignore[union-attr]
        return {"condition": self.name, "then": inner, "held": inner["held"]}


class Check:
    """One operator of a test: its name and argument (for traces) and its built predicate."""
    __slots__ = ("name", "arg", "pred", "negated", "whole")

    def __init__(self, name: str, arg: Any, pred: Callable, negated: bool, whole: bool):
        self.name, self.arg, self.pred, self.negated, self.whole = name, arg, pred, negated, whole

    def holds_on(self, values: list, ctx: RecordContext) -> bool:
        """Whole-set semantics: negations mean no value satisfies the positive operator."""
        if self.whole:
            return self.pred(values, ctx)
        pred = self.pred
        for v in values:
            if pred(v, ctx):
                return False
        return True


class Test(Condition):
    """All checks of one TEST on one source: positives per value, the rest on the whole set."""

    def __init__(self, source: Source, value_checks: list[Check], set_checks: list[Check], match_all: bool):
        self.source = source
        self.value_checks = value_checks
        self.set_checks = set_checks
        self.match_all = match_all
        self._preds = [c.pred for c in value_checks]
        self._single = self._preds[0] if len(self._preds) == 1 and not match_all else None
        if self._single is not None and not set_checks:
            self.test = self._test_single   # type: ignore[method-assign]  # the common case, one call less

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

    def explain(self, ctx: RecordContext) -> dict:
        values = self.source.values(ctx)
        checks = []
        for check in self.value_checks:
            hits = [v for v in values if check.pred(v, ctx)]
            checks.append({"op": check.name, "arg": check.arg, "held": bool(hits) and (
                len(hits) == len(values) if self.match_all else True), "matched": json_safe(hits)})
        for check in self.set_checks:
            checks.append({"op": check.name, "arg": check.arg, "held": check.holds_on(values, ctx)})
        trace = {"test": self.source.label, "values": json_safe(values), "checks": checks, "held": self.test(ctx)}
        if self.match_all:
            trace["match"] = "all"
        return trace


def nesting(condition: Condition, named_depths: dict[str, int]) -> int:
    """Levels evaluation recurses through, counting each named condition's own depth."""
    if isinstance(condition, Named):
        return 1 + named_depths.get(condition.name, 0)
    if isinstance(condition, (AllOf, AnyOf)):
        return 1 + max(nesting(c, named_depths) for c in condition.children)
    if isinstance(condition, Not):
        return 1 + nesting(condition.child, named_depths)
    return 1
