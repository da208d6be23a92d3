"""The explain trace, typed: each rule tried, each condition, what it saw and whether it held.

`Policy.evaluate(event, explain=True)` builds it; `to_dict()` is the JSON users see
(`dry-run --format json --explain`, `LOG_TRACE` log lines). Readers do not pick
dicts apart: they are visitors over these nodes (`engine.tools.explain` renders,
`engine.aws.telemetry` masks, `engine.tools.policytest` reads coverage).
Arguments appear as the policy wrote them (`"${MAIL_SOURCE}"`, `{"list": "blocked"}`),
never as resolved values: a trace must not print a variable's value or a list's entries.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, TypeVar, Union


@dataclass
class CheckTrace:
    """One operator of a test."""
    op: str                        # as written: `not_in_domain`, `count`, `where`
    arg: Any                       # as written
    held: bool
    matched: list | None = None    # value operators: the values that satisfied it
    counted: int | None = None     # `count`: the number of values counted

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.op, "arg": self.arg, "held": self.held}
        if self.matched is not None:
            data["matched"] = self.matched
        if self.counted is not None:
            data["counted"] = self.counted
        return data


@dataclass
class TestTrace:
    kind: ClassVar[str] = "test"
    test: str                      # the field or path as written (`from.address`, `$.mail.source`)
    values: list                   # what the test saw
    checks: list[CheckTrace]
    held: bool
    match_all: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {"test": self.test, "values": self.values, "checks": [c.to_dict() for c in self.checks],
                "held": self.held}
        if self.match_all:
            data["match"] = "all"
        return data


@dataclass
class AllTrace:
    kind: ClassVar[str] = "all"
    children: list[TraceNode]      # up to the first that decided (failed for all, held for any): what ran
    held: bool

    def to_dict(self) -> dict[str, Any]:
        return {self.kind: [c.to_dict() for c in self.children], "held": self.held}


@dataclass
class AnyTrace(AllTrace):
    kind: ClassVar[str] = "any"


@dataclass
class NotTrace:
    kind: ClassVar[str] = "not"
    child: TraceNode
    held: bool

    def to_dict(self) -> dict[str, Any]:
        return {"not": self.child.to_dict(), "held": self.held}


@dataclass
class NamedTrace:
    kind: ClassVar[str] = "named"
    name: str
    then: TraceNode
    held: bool

    def to_dict(self) -> dict[str, Any]:
        return {"condition": self.name, "then": self.then.to_dict(), "held": self.held}


TraceNode = Union[TestTrace, AllTrace, AnyTrace, NotTrace, NamedTrace]


@dataclass
class RuleTrace:
    kind: ClassVar[str] = "rule"
    rule: str
    mode: str
    disposition: str | None                # None: a routing rule (actions only)
    held: bool
    condition: TraceNode | None = None     # None: the rule has no `when`
    actions: list[dict[str, Any]] | None = None   # what a rule that held planned (rules with actions)

    def to_dict(self) -> dict[str, Any]:
        data = {"rule": self.rule, "mode": self.mode, "disposition": self.disposition, "held": self.held,
                "condition": None if self.condition is None else self.condition.to_dict()}
        if self.actions is not None:
            data["actions"] = self.actions
        return data


T = TypeVar("T")


class TraceVisitor(Generic[T]):
    """Dispatch on the node's kind (`visit_test`, `visit_all`, ...); the defaults walk the children.

    Subclasses override what they need: a renderer returns lines, a collector yields
    names, a transformer (see `TraceTransformer`) returns new nodes.
    """

    def visit(self, node: TraceNode | RuleTrace) -> T:
        return getattr(self, f"visit_{node.kind}")(node)

    def visit_rule(self, node: RuleTrace) -> Any:
        return None if node.condition is None else self.visit(node.condition)

    def visit_test(self, node: TestTrace) -> Any:
        return None

    def visit_all(self, node: AllTrace) -> Any:
        return [self.visit(c) for c in node.children]

    visit_any = visit_all

    def visit_not(self, node: NotTrace) -> Any:
        return self.visit(node.child)

    def visit_named(self, node: NamedTrace) -> Any:
        return self.visit(node.then)


class TraceTransformer(TraceVisitor[Any]):
    """A visitor that returns a new tree: combinators are rebuilt around their visited children."""

    def visit_rule(self, node: RuleTrace) -> RuleTrace:
        return replace(node, condition=None if node.condition is None else self.visit(node.condition))

    def visit_test(self, node: TestTrace) -> TestTrace:
        return node

    def visit_all(self, node: AllTrace) -> AllTrace:
        return replace(node, children=[self.visit(c) for c in node.children])

    visit_any = visit_all   # type: ignore[assignment]

    def visit_not(self, node: NotTrace) -> NotTrace:
        return replace(node, child=self.visit(node.child))

    def visit_named(self, node: NamedTrace) -> NamedTrace:
        return replace(node, then=self.visit(node.then))



def rule_from_dict(data: dict[str, Any]) -> RuleTrace:
    """The inverse of `RuleTrace.to_dict()`: a trace that crossed a process boundary as JSON."""
    condition = data.get("condition")
    return RuleTrace(data["rule"], data["mode"], data["disposition"], data["held"],
                     None if condition is None else node_from_dict(condition), data.get("actions"))


def node_from_dict(data: dict[str, Any]) -> TraceNode:
    key = next(k for k in _FROM_DICT if k in data)
    return _FROM_DICT[key](data)


_FROM_DICT: dict[str, Any] = {
    "test": lambda d: TestTrace(d["test"], d["values"], [CheckTrace(**c) for c in d["checks"]], d["held"],
                                d.get("match") == "all"),
    "all": lambda d: AllTrace([node_from_dict(c) for c in d["all"]], d["held"]),
    "any": lambda d: AnyTrace([node_from_dict(c) for c in d["any"]], d["held"]),
    "not": lambda d: NotTrace(node_from_dict(d["not"]), d["held"]),
    "condition": lambda d: NamedTrace(d["condition"], node_from_dict(d["then"]), d["held"]),
}
