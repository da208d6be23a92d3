"""One input, one row: what a policy (or two) decided for one stored message or event.

`dry-run`, `diff` and the replay worker (`handler.replay_handler`) build their rows here, so a
row means the same thing on a laptop and in a Distributed Map. Rows are plain JSON.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.mail.sesevent import message_event
from engine.policy import Policy

SIDE_KEYS = ("disposition", "rule", "actions")


@dataclass
class Input:
    """One input: the event to evaluate, or why there is none, or why it is no input at all."""

    label: str
    event: dict | None
    error: str | None = None
    assumed: tuple[str, ...] = ()        # verdicts the message did not carry (see engine.mail.sesblock)
    skipped: str | None = None           # not mail at all, on purpose (SES's setup notification)
    raw: bytes | None = None             # the message itself, for a raw message (what `--render` rewrites)


def from_message(label: str, data: bytes) -> Input:
    """A raw message (`.eml`, an object of SES's S3 action) as an input."""
    try:
        made = message_event(data)
    except ValueError as exc:
        return Input(label, None, str(exc))
    return Input(label, made.event, assumed=made.assumed, raw=data)


def dry_row(item: Input, policy: Policy, explain: bool = False) -> dict[str, Any]:
    """The `dry-run` row (docs/cli.md): disposition, rule, shadow, errors, assumed, actions, records."""
    if item.event is None:
        return {"input": item.label, "disposition": None, "rule": None, "shadow": [],
                "errors": [item.error or "unreadable"], "assumed": [], "unreadable": True}
    decision = policy.evaluate(item.event, explain=explain).to_dict()
    row = {"input": item.label, **{k: decision[k] for k in ("disposition", "rule", "shadow", "errors")},
           "assumed": list(item.assumed)}
    if "actions" in decision:
        row["actions"] = decision["actions"]
    if explain:
        row["records"] = decision["records"]
    return row


def diff_row(item: Input, old: Policy, new: Policy) -> dict[str, Any]:
    """The `diff` row: each policy's disposition, deciding rule and actions, and whether they differ."""
    if item.skipped:
        return {"input": item.label, "skipped": item.skipped}
    if item.event is None:
        return {"input": item.label, "error": item.error or "unreadable"}
    sides = [_side(policy.evaluate(item.event).to_dict()) for policy in (old, new)]
    return {"input": item.label, "old": sides[0], "new": sides[1], "changed": changes(*sides) != ()}


def _side(decision: dict[str, Any]) -> dict[str, Any]:
    return {"disposition": decision["disposition"], "rule": decision["rule"],
            "actions": decision.get("actions", [])}


def changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    """What differs between two sides: ``fate`` (disposition), ``rule``, ``actions``."""
    found = []
    if old["disposition"] != new["disposition"]:
        found.append("fate")
    elif old["rule"] != new["rule"]:
        found.append("rule")
    if action_key(old["actions"]) != action_key(new["actions"]):
        found.append("actions")
    return tuple(found)


def action_key(actions: list[dict[str, Any]]) -> tuple[str, ...]:
    """Actions compared by what they do: type and resolved arguments, in order, not by which rule asked."""
    return tuple(json.dumps({k: v for k, v in action.items() if k != "rule"}, sort_keys=True)
                 for action in actions)


def action_text(action: dict[str, Any]) -> str:
    """One action as a person reads it: `forward(to=["a@x.example"])`."""
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in action.items()
                     if k not in ("rule", "type"))
    return f"{action.get('type', '?')}({args})"
