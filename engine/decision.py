"""What evaluation answers: per record and for the whole event."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.actionplan import merged

DISPOSITIONS = ("CONTINUE", "STOP_RULE", "STOP_RULE_SET")
# The most restrictive record decides the event.
SEVERITY = {"CONTINUE": 0, "STOP_RULE": 1, "STOP_RULE_SET": 2}


@dataclass
class RecordDecision:
    disposition: str
    rule: str | None = None
    shadow: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    trace: list[dict] | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)         # planned, never run here
    shadow_actions: list[dict[str, Any]] = field(default_factory=list)  # of shadow rules: reported only

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"disposition": self.disposition, "rule": self.rule,
                                "shadow": list(self.shadow), "errors": list(self.errors),
                                "actions": list(self.actions), "shadow_actions": list(self.shadow_actions)}
        if self.trace is not None:
            data["trace"] = self.trace
        return data


@dataclass
class Decision:
    disposition: str
    rule: str | None
    shadow: list[str]
    errors: list[str]
    policy_name: str
    policy_revision: str
    records: list[RecordDecision]

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
    def combine(cls, records: list[RecordDecision], name: str, revision: str) -> "Decision":
        """Most restrictive record wins; its rule is that of the first record with that answer."""
        if len(records) == 1:                 # what SES sends: skip the merging
            r = records[0]
            return cls(r.disposition, r.rule, list(r.shadow), list(r.errors), name, revision, records)
        top = max(records, key=lambda r: SEVERITY[r.disposition])
        first = next(r for r in records if r.disposition == top.disposition)
        shadow = list(dict.fromkeys(s for r in records for s in r.shadow))
        errors = [e for r in records for e in r.errors]
        return cls(top.disposition, first.rule, shadow, errors, name, revision, records)

    def to_dict(self) -> dict[str, Any]:
        return {"disposition": self.disposition, "rule": self.rule, "shadow": list(self.shadow),
                "errors": list(self.errors), "actions": self.actions, "shadow_actions": self.shadow_actions,
                "policy": {"name": self.policy_name, "revision": self.policy_revision},
                "records": [r.to_dict() for r in self.records]}
