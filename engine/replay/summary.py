"""`diff` rows grouped into what an operator reads: fate transitions, rule changes, action changes.

The local `diff` and `diff --results` (rows the replay worker wrote) both feed rows here, so the
two report the same thing for the same objects. Rows are taken in input order; each group keeps
its first ``limit`` inputs (0: all) and counts the rest.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.decision import DISPOSITIONS
from engine.replay.rows import action_key, changes
from engine.suggest import did_you_mean

WORD_TOKENS = ("rules", "actions", "unreadable")


@dataclass
class Group:
    """Inputs that changed the same way: a count and the first few inputs."""

    count: int = 0
    inputs: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: dict[str, Any], limit: int) -> None:
        self.count += 1
        if not limit or len(self.rows) < limit:
            self.rows.append(row)
            self.inputs.append(row["input"])


@dataclass
class DiffSummary:
    old: dict[str, Any]                  # {"name", "revision"}
    new: dict[str, Any]
    limit: int = 10
    inputs: int = 0
    skipped: int = 0
    changed: int = 0
    unreadable: list[dict[str, Any]] = field(default_factory=list)
    transitions: dict[tuple[str, str], Group] = field(default_factory=dict)
    rule_changes: dict[tuple[str, Any, Any], Group] = field(default_factory=dict)
    action_changes: dict[tuple[tuple[str, ...], tuple[str, ...]], Group] = field(default_factory=dict)

    def add_all(self, rows: Iterable[dict[str, Any]]) -> "DiffSummary":
        for row in rows:
            self.add(row)
        return self

    def add_in_any_order(self, rows: Iterable[dict[str, Any]]) -> "DiffSummary":
        """Rows in any order (the worker's batches), summarised as if in input order.

        Only changed and unreadable rows are listed, so only they are kept and sorted by input
        (key order, as S3 lists); the rest are counted as they come, in bounded memory.
        """
        listed = []
        for row in rows:
            if row.get("skipped") or ("error" not in row and not changes(row["old"], row["new"])):
                self.add(row)
            else:
                listed.append(row)
        return self.add_all(sorted(listed, key=lambda row: row["input"]))

    def add(self, row: dict[str, Any]) -> None:
        if row.get("skipped"):
            self.skipped += 1
            return
        self.inputs += 1
        if "error" in row:
            self.unreadable.append(row)
            return
        old, new = row["old"], row["new"]
        found = changes(old, new)
        self.changed += bool(found)
        if "fate" in found:
            self.transitions.setdefault((old["disposition"], new["disposition"]), Group()).add(row, self.limit)
        if "rule" in found:
            key = (new["disposition"], old["rule"], new["rule"])
            self.rule_changes.setdefault(key, Group()).add(row, self.limit)
        if "actions" in found:
            key = (action_key(old["actions"]), action_key(new["actions"]))
            self.action_changes.setdefault(key, Group()).add(row, self.limit)

    def to_dict(self) -> dict[str, Any]:
        """The JSON of `diff --format json` (docs/cli.md); groups largest first, inputs in input order."""
        return {
            "old": self.old, "new": self.new, "inputs": self.inputs, "unreadable": len(self.unreadable),
            "skipped": self.skipped, "changed": self.changed,
            "transitions": [{"from": a, "to": b, "count": g.count, "inputs": g.inputs}
                            for (a, b), g in largest_first(self.transitions)],
            "rule_changes": [{"input": row["input"], "disposition": d, "old_rule": o, "new_rule": n}
                             for (d, o, n), g in largest_first(self.rule_changes) for row in g.rows],
            "action_changes": [{"input": row["input"], "old": row["old"]["actions"],
                                "new": row["new"]["actions"]}
                               for _, g in largest_first(self.action_changes) for row in g.rows],
        }

    def failures(self, tokens: list[str]) -> list[str]:
        """The ``--fail-on`` tokens that occurred, each with how often."""
        found = []
        for token in tokens:
            count = self._occurrences(token)
            if count:
                found.append(f"{token} ({count})")
        return found

    def _occurrences(self, token: str) -> int:
        if token == "rules":
            return sum(g.count for g in self.rule_changes.values())
        if token == "actions":
            return sum(g.count for g in self.action_changes.values())
        if token == "unreadable":
            return len(self.unreadable)
        src, dst = token.split("->")
        return sum(g.count for (a, b), g in self.transitions.items()
                   if src in ("*", a) and dst in ("*", b))


def largest_first(groups: dict[Any, Group]) -> list[tuple[Any, Group]]:
    """Groups by count, largest first; equal counts keep the order they were first seen in."""
    return sorted(groups.items(), key=lambda item: -item[1].count)


def parse_fail_on(text: str) -> list[str]:
    """`--fail-on` as canonical tokens; ``ValueError`` names a bad one and what was meant."""
    tokens = []
    for raw in text.split(","):
        token = raw.strip()
        if not token:
            continue
        if token.lower() in WORD_TOKENS:
            tokens.append(token.lower())
            continue
        if "->" not in token:
            close = did_you_mean(token.lower(), WORD_TOKENS)
            hint = f"did you mean {close}? " if close else ""
            raise ValueError(f"--fail-on: {token!r} is not a token ({hint}tokens: FROM->TO with "
                             f"dispositions or *, {', '.join(WORD_TOKENS)})")
        tokens.append("->".join(_side_token(part, token) for part in token.split("->", 1)))
    if not tokens:
        raise ValueError("--fail-on: no token given")
    return tokens


def _side_token(part: str, token: str) -> str:
    word = part.strip().upper()
    if word == "*" or word in DISPOSITIONS:
        return word
    close = did_you_mean(word, DISPOSITIONS)
    hint = f" (did you mean {close}?)" if close else ""
    raise ValueError(f"--fail-on: {part.strip()!r} in {token!r} is not a disposition or *{hint}")
