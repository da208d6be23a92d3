"""`diff` as a person reads it (text), and one CSV row per input.

Text: a summary line first, then each kind of change, its groups largest first, with up to
``--limit`` inputs each.
"""
from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from engine.replay.rows import action_text
from engine.replay.summary import DiffSummary, largest_first
from engine.tools.output import safe

CSV_COLUMNS = ["input", "old_disposition", "old_rule", "old_actions", "new_disposition", "new_rule",
               "new_actions", "changed"]


def write_text(out: TextIO, summary: DiffSummary) -> None:
    out.write(headline(summary) + "\n")
    for title, lines in (("fate", _transitions(summary)), ("rule", _rule_changes(summary)),
                         ("actions", _action_changes(summary)), ("unreadable", _unreadable(summary))):
        if lines:
            out.write("\n" + "\n".join(lines) + "\n")


def headline(summary: DiffSummary) -> str:
    fate = sum(g.count for g in summary.transitions.values())
    rules = sum(g.count for g in summary.rule_changes.values())
    acts = sum(g.count for g in summary.action_changes.values())
    old, new = summary.old, summary.new
    return (f"{old['name']} ({old['revision']}) -> {new['name']} ({new['revision']}): "
            f"{summary.inputs} input{'s' if summary.inputs != 1 else ''}, {summary.changed} changed "
            f"({fate} fate, {rules} deciding rule, {acts} actions), {len(summary.unreadable)} unreadable, "
            f"{summary.skipped} skipped")


def _more(count: int, shown: int) -> list[str]:
    return [f"    ... and {count - shown} more"] if count > shown else []


def _transitions(summary: DiffSummary) -> list[str]:
    lines = []
    for (src, dst), group in largest_first(summary.transitions):
        lines.append(f"{src} -> {dst}: {group.count}")
        width = max(len(safe(row["input"])) for row in group.rows)
        lines += [f"    {safe(row['input']).ljust(width)}  rule {_name(row['old']['rule'])} -> "
                  f"{_name(row['new']['rule'])}" for row in group.rows]
        lines += _more(group.count, len(group.rows))
    return lines


def _rule_changes(summary: DiffSummary) -> list[str]:
    lines = []
    for (disposition, old, new), group in largest_first(summary.rule_changes):
        lines.append(f"{disposition}, rule {_name(old)} -> {_name(new)}: {group.count}")
        lines += [f"    {safe(row['input'])}" for row in group.rows]
        lines += _more(group.count, len(group.rows))
    return lines


def _action_changes(summary: DiffSummary) -> list[str]:
    lines = []
    for _, group in largest_first(summary.action_changes):
        first = group.rows[0]
        lines.append(f"actions {_actions(first['old']['actions'])} -> {_actions(first['new']['actions'])}: "
                     f"{group.count}")
        lines += [f"    {safe(row['input'])}" for row in group.rows]
        lines += _more(group.count, len(group.rows))
    return lines


def _unreadable(summary: DiffSummary) -> list[str]:
    rows = summary.unreadable
    if not rows:
        return []
    shown = rows if not summary.limit else rows[:summary.limit]
    return ([f"unreadable: {len(rows)}"] + [f"    {safe(r['input'])}: {safe(r['error'])}" for r in shown]
            + _more(len(rows), len(shown)))


def _name(rule: str | None) -> str:
    return rule if rule else "(default)"


def _actions(actions: list[dict[str, Any]]) -> str:
    return "[" + ", ".join(safe(action_text(a)) for a in actions) + "]"


class CsvRows:
    """One CSV row per input, written as it is decided."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(CSV_COLUMNS)

    def row(self, row: dict[str, Any]) -> None:
        if row.get("skipped"):
            return
        if "error" in row:
            self.writer.writerow([row["input"], "UNREADABLE", "", "", "UNREADABLE", "", "", "false"])
        else:
            old, new = row["old"], row["new"]
            self.writer.writerow([row["input"], old["disposition"], old["rule"] or "", _cell(old["actions"]),
                                  new["disposition"], new["rule"] or "", _cell(new["actions"]),
                                  "true" if row["changed"] else "false"])
        self.out.flush()


def _cell(actions: list[dict[str, Any]]) -> str:
    return json.dumps(actions, ensure_ascii=False, separators=(",", ":")) if actions else ""
