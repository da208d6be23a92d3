"""Every real SES event of the shared corpus through every shipped policy: no raise, no error on Lambda events."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, corpus_files, need
from engine import load_policy

POLICIES = sorted((ROOT / "policies").glob("*.yaml")) + sorted((ROOT / "examples" / "policies").glob("*.yaml"))


def _read(path: Path):
    return json.loads(path.read_text(encoding="utf-8-sig"))


@pytest.fixture(scope="module")
def policies():
    assert POLICIES, "no shipped policies found"
    return [load_policy(p) for p in POLICIES]


@pytest.mark.parametrize("path", corpus_files("ses-events", "*.json"))
def test_corpus_event_decides(path, policies):
    event = _read(need(path))
    is_lambda_event = isinstance(event, dict) and "Records" in event
    for policy in policies:
        decision = policy.evaluate(event, explain=True)
        assert decision.disposition in ("CONTINUE", "STOP_RULE", "STOP_RULE_SET")
        json.dumps(decision.to_dict())
        if is_lambda_event:
            assert decision.errors == [], (policy.name, decision.errors)
        else:   # an SNS notification is not a Lambda event: on_error, with the reason
            assert decision.errors and decision.disposition == policy.on_error


def test_the_corpus_holds_ten_lambda_events(ses_events_dir):
    lambda_events = [p for p in ses_events_dir.glob("*.json") if "Records" in _read(p)
                     and _read(p)["Records"][0].get("eventSource") == "aws:ses"]
    assert len(lambda_events) == 10
