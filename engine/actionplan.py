"""A rule's actions as evaluation sees them: arguments resolved at load, recipients per record.

The loader resolves every argument once (lists expanded, `${VAR}` substituted);
per record only the recipients an action acts for are worked out: the record's
`receipt.recipients`, narrowed by the action's `recipients:` test, which is
evaluated on each recipient alone. Planning never runs anything.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, NamedTuple

from engine.conditions import Condition
from engine.mail.context import RecordContext


class ActionPlan(NamedTuple):    # immutable; a NamedTuple costs a cold start a fifth of a frozen dataclass
    type: str
    arguments: dict[str, Any]                 # resolved, JSON-ready, without `recipients`
    rule: str
    recipients: Condition | None = None      # the test on one recipient address
    line: int = 1
    col: int = 1
    lists: tuple[str, ...] = ()              # the named lists its arguments read (lint: used lists)

    def plan(self, ctx: RecordContext) -> dict[str, Any] | None:
        """`{"rule", "type", ...arguments, "recipients"}` for this record, or None: no recipient to act for."""
        found = ctx.ses["receipt"].get("recipients")
        recipients = [r for r in found if isinstance(r, str)] if isinstance(found, list) else []
        if self.recipients is not None:
            recipients = [r for r in recipients if self.recipients.test(_one_recipient(ctx, r))]
            if not recipients:
                return None
        return {"rule": self.rule, "type": self.type, **self.arguments, "recipients": recipients}


def _one_recipient(ctx: RecordContext, recipient: str) -> RecordContext:
    ses = {"mail": ctx.ses["mail"], "receipt": {**ctx.ses["receipt"], "recipients": [recipient]}}
    return RecordContext(ses)


class Collected:
    """Actions collected while a record is decided: in order, the same action once (first rule kept)."""
    __slots__ = ("actions", "shadow_actions", "_seen", "_seen_shadow")

    def __init__(self) -> None:
        self.actions: list[dict[str, Any]] = []
        self.shadow_actions: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._seen_shadow: set[str] = set()

    def add(self, plans: Iterable[ActionPlan], ctx: RecordContext, shadow: bool) -> None:
        target, seen = (self.shadow_actions, self._seen_shadow) if shadow else (self.actions, self._seen)
        for plan in plans:
            action = plan.plan(ctx)
            if action is None:
                continue
            key = identity(action)
            if key not in seen:
                seen.add(key)
                target.append(action)


def identity(action: dict[str, Any]) -> str:
    """Equal for the same action with the same arguments and recipients, whichever rule asked."""
    return json.dumps({k: v for k, v in action.items() if k != "rule"}, sort_keys=True)


def merged(lists: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Several records' actions in order, each action once."""
    seen: set[str] = set()
    out = []
    for actions in lists:
        for action in actions:
            key = identity(action)
            if key not in seen:
                seen.add(key)
                out.append(action)
    return out
