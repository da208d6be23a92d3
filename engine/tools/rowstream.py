"""`dry-run` reports written row by row, as inputs are decided: a text table, or JSON.

Rows arrive in input order while later inputs are still being read, so nothing here waits
for the end: the text table's column widths come from what is known at the start (the
policy's rule names and the first inputs' labels; a longer label just pushes its row), and
the JSON document is written piece by piece (the same text `json.dumps(..., indent=2)` gives).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from engine.actions.registry import preview
from engine.policy import Policy
from engine.tools.explain import render_record
from engine.tools.output import rule_label, safe
from engine.tools.progress import Progress
from engine.tools.render import PLACEHOLDER_FROM

HEADERS = ["INPUT", "DISPOSITION", "RULE", "SHADOW", "ACTIONS", "NOTE"]
MAX_ACTIONS_WIDTH = 60     # a longer ACTIONS cell pushes its row, as a longer label does
VERDICT_NAMES = ("spf", "dkim", "dmarc", "spam", "virus")


def assumed_note(assumed: Sequence[str]) -> str:
    """What the NOTE column says about verdicts nobody measured."""
    if not assumed:
        return ""
    if all(name in assumed for name in VERDICT_NAMES):
        return "verdicts assumed PASS (no SES header block)"
    return "assumed: " + ", ".join(assumed)


def summary_line(summary: dict[str, int], shown: int | None) -> str:
    total = sum(v for k, v in summary.items() if k != "skipped")
    counts = ", ".join(f"{k} {v}" for k, v in summary.items() if v or k not in ("unreadable", "skipped"))
    filtered = f" ({shown} shown)" if shown is not None else ""
    return f"{total} input{'s' if total != 1 else ''}: {counts}{filtered}\n"


class TextReport:
    """The table, one line per row as it comes; with ``explain``, each trace as it comes, then the table."""

    def __init__(self, progress: Progress, policy: Policy, labels: Sequence[str], explain: bool,
                 rows: bool = True) -> None:
        self.progress, self.policy, self.explain, self.rows = progress, policy, explain, rows
        names = [rule.name for rule in policy.rules]
        shadows = [rule.name for rule in policy.rules if rule.mode == "shadow"]
        self.widths = [max([len(HEADERS[0]), *(len(safe(label)) for label in labels)]),
                       len("STOP_RULE_SET"), max([len("(on_error)"), *map(len, names)]),
                       max([len(HEADERS[3]), *map(len, shadows)]),
                       min(MAX_ACTIONS_WIDTH, max([len(HEADERS[4]), *map(len, map(_planned, policy.rules))]))]
        self.buffered: list[list[str]] = []
        self.rendered: list[str] = []

    def start(self) -> None:
        self.progress.write(f"policy {self.policy.name} (revision {self.policy.revision})\n")
        if self.explain or not self.rows:
            return
        self.progress.write(self._line(HEADERS))

    def row(self, row: dict[str, Any]) -> None:
        cells = self._cells(row)
        self.rendered += rendered_lines(row)
        if not self.explain:
            self.progress.write(self._line(cells))
            return
        self.progress.write("\n".join(self._trace(row)) + "\n")
        self.buffered.append(cells)

    def finish(self, summary: dict[str, int], shown: int | None) -> None:
        if self.explain:
            self.progress.write("\n" + "".join(self._line(cells) for cells in [HEADERS, *self.buffered]))
        if self.rendered:
            self.progress.write("\n" + "".join(line + "\n" for line in self.rendered))
        self.progress.write("\n" + summary_line(summary, shown))

    def _line(self, cells: list[str]) -> str:
        return ("  ".join(c.ljust(w) for c, w in zip(cells[:-1], self.widths)) + "  " + cells[-1]).rstrip() + "\n"

    def _cells(self, row: dict[str, Any]) -> list[str]:
        if row["disposition"] is None:
            return [safe(row["input"]), "UNREADABLE", "-", "-", "-", safe(row["errors"][0])]
        note = "; ".join(filter(None, ["; ".join(row["errors"]), assumed_note(row["assumed"])]))
        actions = "; ".join(map(preview, row.get("actions") or []))
        return [safe(row["input"]), row["disposition"], rule_label(row["rule"], row["errors"]),
                ",".join(row["shadow"]) or "-", safe(actions) or "-", safe(note)]

    def _trace(self, row: dict[str, Any]) -> list[str]:
        lines = ["", f"== {safe(row['input'])}"]
        if row["disposition"] is None:
            return lines + [f"  unreadable: {safe(row['errors'][0])}"]
        records = row.get("records") or []
        indent = "    " if len(records) > 1 else "  "
        for n, record in enumerate(records, 1):
            if len(records) > 1:
                lines.append(f"  record {n}:")
            lines.extend(render_record(record, indent, assumed=row["assumed"]))
        if not records:
            lines += ["  " + safe("; ".join(row["errors"])), f"  => {row['disposition']}: on_error applied"]
        return lines


def _planned(rule: Any) -> str:
    """A rule's actions as the ACTIONS column shows them (recipients aside): for the column's width."""
    return "; ".join(preview({"type": plan.type, **plan.arguments}) for plan in rule.actions)


def rendered_lines(row: dict[str, Any]) -> list[str]:
    """What `--render` wrote for one row, one line per planned forward."""
    lines = []
    for entry in row.get("rendered") or []:
        where = entry.get("file") or entry.get("outcome")
        lines.append(f"{safe(row['input'])}: forward ({entry['rule']}) from {entry['from']} -> {safe(where)}")
        if entry["from"] == PLACEHOLDER_FROM:
            lines[-1] += " (FORWARD_FROM is not set)"
    return lines


class JsonReport:
    """`{"policy", "results": [...], "summary"}`, each result written when it is decided."""

    def __init__(self, progress: Progress, policy: Policy, rows: bool = True) -> None:
        self.progress, self.policy, self.rows, self.count = progress, policy, rows, 0

    def start(self) -> None:
        head = {"name": self.policy.name, "revision": self.policy.revision}
        self.progress.write('{\n  "policy": ' + _nested(head, 1) + (',\n  "results": [' if self.rows else ""))

    def row(self, row: dict[str, Any]) -> None:
        self.progress.write(("," if self.count else "") + "\n    " + _nested(row, 2))
        self.count += 1

    def finish(self, summary: dict[str, int], shown: int | None) -> None:
        if self.rows:
            self.progress.write(("\n  ]" if self.count else "]"))
        self.progress.write(',\n  "summary": ' + _nested(summary, 1) + "\n}\n")


def _nested(value: Any, level: int) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * level)
