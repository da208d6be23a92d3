"""The explain trace as an operator reads it: each rule tried, each condition, what it saw, the outcome."""
from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from engine.actions.registry import preview
from engine.decision import RecordDecision
from engine.tools.output import safe
from engine.trace import AllTrace, CheckTrace, NamedTrace, NotTrace, RuleTrace, TestTrace, TraceVisitor

NESTED = "      "


def render_record(record: RecordDecision | dict[str, Any], indent: str = "  ",
                  assumed: Collection[str] = ()) -> list[str]:
    """One record's trace: every rule tried with its conditions, then the outcome.

    A record may come as JSON (a `dry-run` row from another process). ``assumed`` names
    verdicts the input did not carry (PASS by default): their tests say so.
    """
    if isinstance(record, dict):
        record = RecordDecision.from_dict(record)
    lines = []
    for step in record.trace or []:
        lines.extend(_Renderer(indent, assumed).visit(step))
    lines.extend(f"{indent}error: {safe(error)}" for error in record.errors)
    if record.rule:
        lines.append(f"{indent}=> {record.disposition}: rule {record.rule} decided")
    elif record.errors:
        lines.append(f"{indent}=> {record.disposition}: on_error applied")
    else:
        lines.append(f"{indent}=> {record.disposition}: no rule decided, the policy default applied")
    if record.shadow:
        lines.append(f"{indent}   shadow rules that matched: {', '.join(record.shadow)}")
    for planned, what in ((record.actions, "actions planned"), (record.shadow_actions, "shadow actions (never run)")):
        if planned:
            lines.append(f"{indent}   {what}:")
            lines.extend(f"{indent}     {safe(preview(a))} (rule {a['rule']})" for a in planned)
    return lines


class _Renderer(TraceVisitor[list[str]]):
    """Lines for one node and its children, each child indented below its parent."""

    def __init__(self, indent: str, assumed: Collection[str] = ()):
        self.indent = indent
        self.assumed = assumed

    def _nested(self, node: Any) -> list[str]:
        return _Renderer(self.indent + NESTED, self.assumed).visit(node)

    def _mark(self, held: bool) -> str:
        return f"{self.indent}{'[yes]' if held else '[no] '}"

    def visit_rule(self, node: RuleTrace) -> list[str]:
        mode = ", shadow" if node.mode == "shadow" else ""
        outcome = "matched" if node.held else "no match"
        lines = [f"{self.indent}rule {node.rule} ({node.disposition or 'routing'}{mode}): {outcome}"]
        if node.condition is None:
            lines.append(f"{self.indent}  [yes] no `when`: always matches")
        else:
            lines += _Renderer(self.indent + "  ", self.assumed).visit(node.condition)
        return lines + [f"{self.indent}  action: {safe(preview(a))}" for a in node.actions or []]

    def visit_test(self, node: TestTrace) -> list[str]:
        checks = ", ".join(_check_text(c) for c in node.checks)
        every = " (match: all, every value must)" if node.match_all else ""
        guess = " (assumed)" if node.test in self.assumed else ""
        return [f"{self._mark(node.held)} {safe(node.test)} saw {_values_text(node.values)}{guess}{every}: {checks}"]

    def visit_all(self, node: AllTrace) -> list[str]:
        lines = [f"{self._mark(node.held)} {node.kind} of:"]
        for child in node.children:
            lines.extend(self._nested(child))
        return lines

    visit_any = visit_all   # type: ignore[assignment]

    def visit_not(self, node: NotTrace) -> list[str]:
        return [f"{self._mark(node.held)} not:"] + self._nested(node.child)

    def visit_named(self, node: NamedTrace) -> list[str]:
        return [f"{self._mark(node.held)} condition {node.name}:"] + self._nested(node.then)


def _check_text(check: CheckTrace) -> str:
    counted = f", counted {check.counted}" if check.counted is not None else ""
    return f"{check.op} {_values_text(check.arg)} ({'yes' if check.held else 'no'}{counted})"


def _values_text(values: Any) -> str:
    if values == []:
        return "nothing"
    text = safe(json.dumps(values, ensure_ascii=False))
    return text if len(text) <= 200 else text[:197] + "..."
