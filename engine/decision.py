"""What evaluation answers: per record and for the whole event."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.actionplan import merged
from engine.valueclass import Frozen, Value

if TYPE_CHECKING:   # the trace is built only with explain: a cold start does not import it
    from engine.trace import RuleTrace

DISPOSITIONS = ("CONTINUE", "STOP_RULE", "STOP_RULE_SET")
# The most restrictive record decides the event.
SEVERITY = {"CONTINUE": 0, "STOP_RULE": 1, "STOP_RULE_SET": 2}


class RecordDecision(Value):
    __slots__ = ("disposition", "rule", "shadow", "errors", "trace", "actions", "shadow_actions")

    def __init__(self, disposition: str, rule: str | None = None, shadow: list[str] | None = None,
                 errors: list[str] | None = None, trace: list[RuleTrace] | None = None,
                 actions: list[dict[str, Any]] | None = None,
                 shadow_actions: list[dict[str, Any]] | None = None) -> None:
        self.disposition, self.rule = disposition, rule
        self.shadow = [] if shadow is None else shadow
        self.errors = [] if errors is None else errors
        self.trace = trace      # with explain=True: every rule tried
        self.actions = [] if actions is None else actions     # planned, never run here
        self.shadow_actions = [] if shadow_actions is None else shadow_actions   # of shadow rules: reported only

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"disposition": self.disposition, "rule": self.rule,
                                "shadow": list(self.shadow), "errors": list(self.errors),
                                "actions": list(self.actions), "shadow_actions": list(self.shadow_actions)}
        if self.trace is not None:
            data["trace"] = [step.to_dict() for step in self.trace]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordDecision:
        """The inverse of `to_dict()` (a record that crossed a process boundary as JSON)."""
        from engine.trace import rule_from_dict
        trace = data.get("trace")
        return cls(data["disposition"], data.get("rule"), list(data.get("shadow", [])), list(data.get("errors", [])),
                   None if trace is None else [rule_from_dict(step) for step in trace],
                   list(data.get("actions", [])), list(data.get("shadow_actions", [])))


class MailFacts(Frozen):
    """What a decision's log line names besides the decision, read from the event's first record."""
    __slots__ = ("message_id", "sender", "invocation_type")

    def __init__(self, message_id: str | None = None, sender: str | None = None,
                 invocation_type: str | None = None) -> None:
        # mail.messageId: the correlation id and the archive's key; mail.source: the envelope
        # sender; receipt.action.invocationType
        self._set(message_id=message_id, sender=sender, invocation_type=invocation_type)

    @classmethod
    def of(cls, event: Any) -> MailFacts:
        """Never raises: a part the event does not have is None."""
        records = event.get("Records") if isinstance(event, dict) else None
        record = records[0] if isinstance(records, list) and records else None
        ses = record.get("ses") if isinstance(record, dict) else None
        mail = ses.get("mail") if isinstance(ses, dict) else None
        receipt = ses.get("receipt") if isinstance(ses, dict) else None
        action = receipt.get("action") if isinstance(receipt, dict) else None
        return cls(_text(mail, "messageId"), _text(mail, "source"), _text(action, "invocationType"))


def _text(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


class Decision(Value):
    __slots__ = ("disposition", "rule", "shadow", "errors", "policy_name", "policy_revision", "records", "event")
    _not_compared = ("event",)

    def __init__(self, disposition: str, rule: str | None, shadow: list[str], errors: list[str], policy_name: str,
                 policy_revision: str, records: list[RecordDecision], event: Any = None) -> None:
        self.disposition, self.rule, self.shadow, self.errors = disposition, rule, shadow, errors
        self.policy_name, self.policy_revision, self.records = policy_name, policy_revision, records
        self.event = event      # what was decided (for `mail`)

    @property
    def mail(self) -> MailFacts:
        return MailFacts.of(self.event)

    @property
    def actions(self) -> list[dict[str, Any]]:
        """Every record's actions, in order, each once: `{"rule", "type", ...resolved arguments}`."""
        if len(self.records) == 1:
            return list(self.records[0].actions)
        return merged(r.actions for r in self.records)

    @property
    def shadow_actions(self) -> list[dict[str, Any]]:
        if len(self.records) == 1:
            return list(self.records[0].shadow_actions)
        return merged(r.shadow_actions for r in self.records)

    @classmethod
    def fallback(cls, disposition: str, error: str, event: Any, name: str = "", revision: str = "") -> Decision:
        """The answer when no policy could decide (none loaded, or evaluation itself failed)."""
        return cls(disposition, None, [], [error], name, revision, [], event)

    @classmethod
    def of_one(cls, r: RecordDecision, name: str, revision: str, event: Any) -> Decision:
        """`combine([r], ...)`: the event of one record (what SES sends) decides as that record, with
        its lists (nothing changes a decision once made)."""
        return cls(r.disposition, r.rule, r.shadow, r.errors, name, revision, [r], event)

    @classmethod
    def combine(cls, records: list[RecordDecision], name: str, revision: str, event: Any = None) -> Decision:
        """Most restrictive record wins; its rule is that of the first record with that answer."""
        if len(records) == 1:
            return cls.of_one(records[0], name, revision, event)
        top = max(records, key=lambda r: SEVERITY[r.disposition])
        first = next(r for r in records if r.disposition == top.disposition)
        shadow = list(dict.fromkeys(s for r in records for s in r.shadow))
        errors = [e for r in records for e in r.errors]
        return cls(top.disposition, first.rule, shadow, errors, name, revision, records, event)

    def to_dict(self) -> dict[str, Any]:
        return {"disposition": self.disposition, "rule": self.rule, "shadow": list(self.shadow),
                "errors": list(self.errors), "actions": self.actions, "shadow_actions": self.shadow_actions,
                "policy": {"name": self.policy_name, "revision": self.policy_revision},
                "records": [r.to_dict() for r in self.records]}
