"""examples/policies/subject-filter.yaml decides exactly like the hand-written filter it replaces.

The reference below is SPEC section 1's function as teams write it (a missing
subject read as "", the usual `.get` idiom). The intended differences have
their own tests: the empty-entry bug is fixed, and an incomplete record gets
on_error.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import corpus_files, need
from engine import load_policy
from engine.mail.sesevent import event_from_eml

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "policies" / "subject-filter.yaml"
EVENTS = ROOT / "examples" / "events"


def hand_written(event: dict, context: object = None) -> dict:
    """The function being replaced, kept faithful (bugs included); reads its environment per call."""
    records = event.get("Records")
    if not records:
        return {"disposition": "STOP_RULE_SET"}
    mail = records[0]["ses"]["mail"]
    if mail["source"] != os.environ["MAIL_SOURCE"]:
        return {"disposition": "STOP_RULE_SET"}
    subjects = [s.strip() for s in os.environ["MAIL_SUBJECTS"].split(";")]
    subject = mail["commonHeaders"].get("subject", "")
    if any(s in subject for s in subjects):
        return {"disposition": "CONTINUE"}
    return {"disposition": "STOP_RULE_SET"}


def both(event: dict, env: dict[str, str]) -> tuple[str, str]:
    """(hand-written, engine) dispositions for one event under one deployment environment."""
    with mock.patch.dict(os.environ, env):
        engine = load_policy(POLICY).evaluate(copy.deepcopy(event)).disposition
        return hand_written(copy.deepcopy(event))["disposition"], engine


def first_mail(event: dict) -> dict | None:
    records = event.get("Records")
    return records[0]["ses"]["mail"] if records else None


def deployments(event: dict) -> list[dict[str, str]]:
    """Configurations that drive the filter down each branch for this event."""
    mail = first_mail(event) or {}
    source = mail.get("source") or "nobody@nowhere.example"
    subject = mail.get("commonHeaders", {}).get("subject") or "subject"
    fragment = subject[: max(1, len(subject) // 2)].strip() or subject
    return [
        {"MAIL_SOURCE": source, "MAIL_SUBJECTS": f" {fragment} ; other"},
        {"MAIL_SOURCE": source, "MAIL_SUBJECTS": fragment.swapcase() + ";zzz-not-there"},
        {"MAIL_SOURCE": source, "MAIL_SUBJECTS": "zzz-not-there"},
        {"MAIL_SOURCE": source.upper() if source != source.upper() else source.lower(),
         "MAIL_SUBJECTS": fragment},
        {"MAIL_SOURCE": "other@elsewhere.example", "MAIL_SUBJECTS": fragment},
    ]


def assert_same(event: dict) -> set[str]:
    outcomes = set()
    for env in deployments(event):
        ref, got = both(event, env)
        assert got == ref, env
        outcomes.add(got)
    return outcomes


@pytest.mark.parametrize("path", corpus_files("ses-events", "*.json"))
def test_same_on_corpus_events(path):
    event = json.loads(need(path).read_text(encoding="utf-8-sig"))
    outcomes = assert_same(event)
    if first_mail(event) is not None:
        assert outcomes == {"CONTINUE", "STOP_RULE_SET"}


def example_event(name: str) -> dict:
    path = EVENTS / name
    return (event_from_eml(path.read_bytes()) if path.suffix == ".eml"
            else json.loads(path.read_text(encoding="utf-8")))


EXAMPLE_NAMES = sorted(p.name for p in EVENTS.iterdir() if p.suffix in {".json", ".eml"})
# A record without `receipt` is not an SES receiving record: the engine answers
# on_error (STOP_RULE_SET here) where the original would read it anyway.
INCOMPLETE = "malformed-no-receipt.json"


@pytest.mark.parametrize("name", [n for n in EXAMPLE_NAMES if n != INCOMPLETE])
def test_same_on_example_events(name):
    assert assert_same(example_event(name)) == {"CONTINUE", "STOP_RULE_SET"}


def test_incomplete_record_is_stopped_under_every_deployment():
    event = example_event(INCOMPLETE)
    for env in deployments(event):
        with mock.patch.dict(os.environ, env):
            decision = load_policy(POLICY).evaluate(event)
        assert (decision.disposition, decision.rule) == ("STOP_RULE_SET", None)
        assert decision.errors


def test_defaults_apply_without_environment():
    with mock.patch.dict(os.environ, clear=True):
        policy = load_policy(POLICY)
    zabbix = event_from_eml((EVENTS / "zabbix-problem.eml").read_bytes())
    assert policy.evaluate(zabbix).disposition == "CONTINUE"
    assert policy.evaluate({"Records": []}).disposition == "STOP_RULE_SET"


# -- generated events --------------------------------------------------------

# Environment values cannot hold NUL or lone surrogates.
CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
TEXT = st.text(CHARS, max_size=24)
PAD = st.text(" \t\n\r\x0b\x0c\xa0\u2003\u3000", max_size=2)   # what str.strip() removes
ENTRY = st.text(st.characters(codec="utf-8", exclude_characters="\x00;"), min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and s)


@st.composite
def deployment_and_event(draw) -> tuple[dict[str, str], dict]:
    source = draw(st.text(CHARS, min_size=1, max_size=24))
    entries = draw(st.lists(ENTRY, min_size=1, max_size=4))
    env = {"MAIL_SOURCE": source,
           "MAIL_SUBJECTS": ";".join(draw(PAD) + e + draw(PAD) for e in entries)}
    records = draw(st.sampled_from(["missing", "empty", "one"]))
    if records == "missing":
        return env, draw(st.sampled_from([{}, {"records": []}, {"Records": None}]))
    if records == "empty":
        return env, {"Records": []}
    mail_source = draw(st.one_of(st.just(source), st.just(source.swapcase()), TEXT))
    entry = draw(st.sampled_from(entries))
    subject = draw(st.one_of(
        st.none(),
        TEXT,
        st.builds(lambda a, b: a + entry + b, TEXT, TEXT),
        st.builds(lambda a, b: a + entry.swapcase() + b, TEXT, TEXT),
    ))
    common = {"from": [mail_source], "to": ["alerts@corp.example"]}
    if subject is not None:
        common["subject"] = subject
    record = {"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {
        "mail": {"source": mail_source, "messageId": "generated", "destination": ["alerts@corp.example"],
                 "headersTruncated": False, "headers": [], "commonHeaders": common},
        "receipt": {"recipients": ["alerts@corp.example"], "processingTimeMillis": 400,
                    "spamVerdict": {"status": "PASS"}, "virusVerdict": {"status": "PASS"},
                    "spfVerdict": {"status": "PASS"}, "dkimVerdict": {"status": "PASS"},
                    "dmarcVerdict": {"status": "PASS"},
                    "action": {"type": "Lambda", "invocationType": "RequestResponse"}}}}
    return env, {"Records": [record]}


@given(deployment_and_event())
def test_same_on_generated_events(case):
    env, event = case
    ref, got = both(event, env)
    assert got == ref


# -- the one intended difference -----------------------------------------------

def test_trailing_separator_no_longer_lets_everything_through():
    env = {"MAIL_SOURCE": "zabbix@monitoring.corp.example", "MAIL_SUBJECTS": "PROBLEM:;RESOLVED:;"}
    event = event_from_eml((EVENTS / "zabbix-low-severity.eml").read_bytes())
    with mock.patch.dict(os.environ, env):
        policy = load_policy(POLICY)
        assert policy.lists["subjects"] == ["PROBLEM:", "RESOLVED:"]
        assert hand_written(event)["disposition"] == "CONTINUE"  # "" is in every subject
        decision = policy.evaluate(event)
    assert (decision.disposition, decision.rule) == ("STOP_RULE_SET", None)
