"""Spoofing suite: every case in spoof_cases.yaml, through SES's commonHeaders and through a raw message.

An allow rule must never hold for a mailbox the sender merely *wrote* somewhere
(display name, comment, quoted local part, encoded word, look-alike domain), and a
blocking rule must always see the real mailbox, however it is padded or disguised.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import load_policy_text
from engine.mail.sesevent import build_event, event_from_eml

CASES = yaml.safe_load((Path(__file__).parent / "spoof_cases.yaml").read_text(encoding="utf-8"))
KINDS = {  # kind -> (rule disposition, policy default)
    "allow": ("CONTINUE", "STOP_RULE_SET"),
    "block": ("STOP_RULE_SET", "CONTINUE"),
}
_MARKER = re.compile(r"(QUOTES|PAD|LIST)(\d+)")
BASE_EVENT = build_event({"to": ["inbox@company.example"], "subject": "quarterly report"})


def expand(text: str) -> str:
    """The padding markers of spoof_cases.yaml, expanded."""
    def one(match: re.Match) -> str:
        kind, n = match.group(1), int(match.group(2))
        if kind == "QUOTES":
            return '"' * n
        if kind == "PAD":
            return " " * n
        return ", ".join(f"user{i}@company.example" for i in range(n))
    return _MARKER.sub(one, text)


def commonheaders_event(case: dict) -> dict:
    """The event SES would send with these exact header strings (verdicts PASS)."""
    event = copy.deepcopy(BASE_EVENT)
    mail = event["Records"][0]["ses"]["mail"]
    for field in ("from", "to"):
        if field in case:
            values = [expand(v) for v in case[field]]
            mail["commonHeaders"][field] = values
            name = field.capitalize()
            mail["headers"] = [h for h in mail["headers"] if h["name"] != name]
            mail["headers"].extend({"name": name, "value": v} for v in values)
    return event


def eml_event(case: dict) -> dict:
    """The event the `.eml` pipeline builds from a message with one `From:` line per string."""
    lines = [f"From: {expand(v)}" for v in case["from"]]
    lines += [f"To: {', '.join(expand(v) for v in case.get('to', ['inbox@company.example']))}",
              "Subject: quarterly report", "Message-ID: <spoof@test.example>", "", "body", ""]
    return event_from_eml("\r\n".join(lines).encode("utf-8"))


def policy_text(kind: str, when: dict) -> str:
    disposition, default = KINDS[kind]
    return yaml.safe_dump({"version": 1, "name": f"spoof-{kind}", "default": default,
                           "rules": [{"name": "r", "when": when, "disposition": disposition}]},
                          allow_unicode=True, sort_keys=False)


def decisions(case: dict) -> list[tuple[str, dict, bool]]:
    return [(kind, when, holds) for kind in KINDS for when, holds in case.get(kind, [])]


def route_params() -> list[Any]:
    params = []
    for case in CASES:
        params.append(pytest.param(case, commonheaders_event, id=f"{case['id']}-commonHeaders"))
        if case.get("eml", True):
            params.append(pytest.param(case, eml_event, id=f"{case['id']}-eml"))
    return params


def test_every_case_states_decisions(security_report) -> None:
    security_report["spoof cases"] = len(CASES)
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for case in CASES:
        assert case.get("why"), case["id"]
        assert case.get("allow") and case.get("block"), f"{case['id']} must state allow and block decisions"


@pytest.mark.parametrize(("case", "route"), route_params())
def test_spoof_case(case: dict, route, hang_guard, security_report) -> None:
    with hang_guard(60, f"building the event for {case['id']}"):
        event = route(case)
    wrong = []
    for kind, when, holds in decisions(case):
        policy = load_policy_text(policy_text(kind, when))
        with hang_guard(60, f"evaluating {case['id']}"):
            decision = policy.evaluate(event)
        assert not decision.errors, (case["id"], decision.errors)
        disposition, default = KINDS[kind]
        expected = disposition if holds else default
        if decision.disposition != expected:
            wrong.append(f"{kind} rule {when}: expected {expected} (holds={holds}), got {decision.disposition}")
        security_report["spoof decisions"] += 1
    if case.get("defect"):
        assert wrong, f"{case['id']} passes now: remove its `defect` entry from spoof_cases.yaml"
        pytest.xfail(case["defect"])
    assert not wrong, f"{case['id']} ({route.__name__}), From {case['from']!r}:\n" + "\n".join(wrong)
