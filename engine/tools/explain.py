"""The explain trace as an operator reads it: each rule tried, each condition, what it saw, the outcome."""
from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from engine.actions.registry import preview
from engine.tools.output import safe


def render_record(record: dict[str, Any], indent: str = "  ", assumed: Collection[str] = ()) -> list[str]:
    """One record's trace as an operator reads it: each rule tried, each condition, the outcome.

    ``assumed`` names verdicts the input did not carry (PASS by default): their tests say so.
    """
    lines = []
    for step in record.get("trace") or []:
        mode = ", shadow" if step.get("mode") == "shadow" else ""
        outcome = "matched" if step.get("held") else "no match"
        lines.append(f"{indent}rule {step['rule']} ({step.get('disposition') or 'routing'}{mode}): {outcome}")
        if step.get("condition") is None:
            lines.append(f"{indent}  [yes] no `when`: always matches")
        else:
            lines.extend(_render_condition(step["condition"], indent + "  ", assumed))
        lines.extend(f"{indent}  action: {safe(preview(a))}" for a in step.get("actions") or [])
    errors = record.get("errors") or []
    lines.extend(f"{indent}error: {safe(error)}" for error in errors)
    outcome = record.get("disposition")
    if record.get("rule"):
        lines.append(f"{indent}=> {outcome}: rule {record['rule']} decided")
    elif errors:
        lines.append(f"{indent}=> {outcome}: on_error applied")
    else:
        lines.append(f"{indent}=> {outcome}: no rule decided, the policy default applied")
    if record.get("shadow"):
        lines.append(f"{indent}   shadow rules that matched: {', '.join(record['shadow'])}")
    for key, what in (("actions", "actions planned"), ("shadow_actions", "shadow actions (never run)")):
        if record.get(key):
            lines.append(f"{indent}   {what}:")
            lines.extend(f"{indent}     {safe(preview(a))} (rule {a['rule']})" for a in record[key])
    return lines


def _mark(node: dict[str, Any]) -> str:
    return "[yes]" if node.get("held") else "[no] "


def _render_condition(node: dict[str, Any], indent: str, assumed: Collection[str] = ()) -> list[str]:
    """A condition trace node (see engine/compiler.py `explain`) and its children."""
    deeper = indent + "      "
    if "test" in node:
        checks = ", ".join(f"{c['op']} {_values_text(c.get('arg'))} ({'yes' if c.get('held') else 'no'})"
                           for c in node.get("checks", []))
        every = " (match: all, every value must)" if node.get("match") == "all" else ""
        guess = " (assumed)" if node["test"] in assumed else ""
        return [f"{indent}{_mark(node)} {node['test']} saw {_values_text(node.get('values'))}{guess}{every}: {checks}"]
    for key in ("all", "any"):
        if key in node:
            lines = [f"{indent}{_mark(node)} {key} of:"]
            for child in node[key]:
                lines.extend(_render_condition(child, deeper, assumed))
            return lines
    if "not" in node:
        return [f"{indent}{_mark(node)} not:"] + _render_condition(node["not"], deeper, assumed)
    if "condition" in node:
        return [f"{indent}{_mark(node)} condition {node['condition']}:"] + \
            _render_condition(node["then"], deeper, assumed)
    return [f"{indent}{_mark(node)} {_values_text(node)}"]


def _values_text(values: Any) -> str:
    if values == []:
        return "nothing"
    text = json.dumps(values, ensure_ascii=False)
    return text if len(text) <= 200 else text[:197] + "..."
