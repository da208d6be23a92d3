"""One queued message: the SES record, the policy and decision that planned its actions, the actions.

`lambda_handler` writes it (`to_message`), `action_handler` reads it back
(`Job.from_message`); a message of any other shape is refused with its reason.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# SES message ids are lowercase alphanumerics; the id names the stored object, so nothing else passes.
_MESSAGE_ID = re.compile(r"[A-Za-z0-9._-]{1,200}\Z")


class BadJob(ValueError):
    """A queued message that is not a job; the message says what is wrong."""


@dataclass(frozen=True)
class Job:
    record: dict[str, Any]
    policy: dict[str, Any]
    decision: dict[str, Any]
    actions: list[dict[str, Any]]

    @property
    def mail(self) -> dict[str, Any]:
        return self.record["ses"]["mail"]

    @property
    def receipt(self) -> dict[str, Any]:
        return self.record["ses"]["receipt"]

    @property
    def message_id(self) -> str:
        return self.mail["messageId"]

    @classmethod
    def from_message(cls, body: str) -> Job:
        try:
            data = json.loads(body)
        except (TypeError, ValueError) as exc:
            raise BadJob(f"queued message is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadJob("queued message is not a JSON object")
        missing = [key for key in ("record", "policy", "decision", "actions") if key not in data]
        if missing:
            raise BadJob(f"queued message has no {', '.join(missing)}")
        record, actions = data["record"], data["actions"]
        ses = record.get("ses") if isinstance(record, dict) else None
        if not isinstance(ses, dict) or not isinstance(ses.get("mail"), dict) or not isinstance(ses.get("receipt"), dict):
            raise BadJob("queued record is not an SES receiving record (ses.mail, ses.receipt)")
        message_id = ses["mail"].get("messageId")
        if not isinstance(message_id, str) or not _MESSAGE_ID.match(message_id):
            raise BadJob(f"queued record has no valid ses.mail.messageId ({message_id!r})")
        if not isinstance(actions, list) or not all(_is_action(a) for a in actions):
            raise BadJob("queued actions are not a list of {rule, type, ...} objects")
        if not isinstance(data["policy"], dict) or not isinstance(data["decision"], dict):
            raise BadJob("queued policy and decision must be objects")
        return cls(record, data["policy"], data["decision"], actions)


def _is_action(action: Any) -> bool:
    return (isinstance(action, dict) and isinstance(action.get("type"), str) and isinstance(action.get("rule"), str)
            and isinstance(action.get("recipients", []), list))


def to_message(record: dict[str, Any], policy: dict[str, Any], decision: dict[str, Any],
               actions: list[dict[str, Any]]) -> str:
    """The SQS message body for one record's actions."""
    return json.dumps({"record": record, "policy": policy,
                       "decision": {"disposition": decision.get("disposition"), "rule": decision.get("rule")},
                       "actions": actions}, separators=(",", ":"))
