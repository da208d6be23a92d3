"""POLICY_ENVIRONMENT (the templates' PolicyEnvironment): the policy's ${VAR}s from the deployment.

The JSON object's entries are added to the environment the loader interpolates
from; they never replace a variable the function already has, and a refused
entry is logged by name, never by value.
"""
from __future__ import annotations

import json

import pytest

import handler
from engine.aws.settings import POLICY_ENVIRONMENT
from handler_harness import ROOT, Lambda, lam, read_event  # noqa: F401  (lam: fixture)

POLICY = ROOT / "examples" / "policies" / "subject-filter.yaml"
EVENT = ROOT / "examples" / "events" / "partner-ticket.json"   # from wile@acme.example, "[CASE-104233] ..."
SECRET = "s3cr3t-value-never-logged"


@pytest.fixture
def subject_filter(lam: Lambda, monkeypatch) -> Lambda:  # noqa: F811
    monkeypatch.setenv("POLICY_FILE", str(POLICY))
    monkeypatch.delenv("MAIL_SOURCE", raising=False)
    monkeypatch.delenv("MAIL_SUBJECTS", raising=False)
    return lam


def _invoke(lam: Lambda, monkeypatch, value: str | None):  # noqa: F811
    if value is not None:
        monkeypatch.setenv(POLICY_ENVIRONMENT, value)
    return lam.invoke(read_event(EVENT))


def _ignored(run, message: str) -> list[dict]:
    return [line for line in run.logs if line["message"] == message]


def test_without_it_the_policy_takes_its_defaults(subject_filter: Lambda, monkeypatch) -> None:
    run = _invoke(subject_filter, monkeypatch, None)
    assert (run.answer, run.decision["rule"]) == ({"disposition": "STOP_RULE_SET"}, "wrong-source")


def test_its_variables_configure_the_policy(subject_filter: Lambda, monkeypatch) -> None:
    run = _invoke(subject_filter, monkeypatch,
                  json.dumps({"MAIL_SOURCE": "wile@acme.example", "MAIL_SUBJECTS": "CASE-;ALARM"}))
    assert (run.answer, run.decision["rule"]) == ({"disposition": "CONTINUE"}, "subject-allowed")
    assert run.messages("ERROR") == []


def test_the_revision_follows_the_values_in_force(subject_filter: Lambda, monkeypatch) -> None:
    first = _invoke(subject_filter, monkeypatch, json.dumps({"MAIL_SOURCE": "wile@acme.example"}))
    handler.policy_source.cache_clear()
    second = _invoke(subject_filter, monkeypatch, json.dumps({"MAIL_SOURCE": "road@runner.example"}))
    assert first.decision["policy"]["revision"] != second.decision["policy"]["revision"]


def test_the_functions_own_environment_is_never_overridden(subject_filter: Lambda, monkeypatch) -> None:
    monkeypatch.setenv("MAIL_SOURCE", "road@runner.example")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "the-runtime-credential")
    run = _invoke(subject_filter, monkeypatch,
                  json.dumps({"MAIL_SOURCE": "wile@acme.example", "AWS_SESSION_TOKEN": SECRET,
                              "MAIL_SUBJECTS": "CASE-"}))
    assert run.decision["rule"] == "wrong-source"          # the function's MAIL_SOURCE stayed
    refused = {line["entry"]: line["reason"] for line in _ignored(run, "policy environment entry ignored")}
    assert set(refused) == {"MAIL_SOURCE", "AWS_SESSION_TOKEN"}
    assert "never overridden" in refused["MAIL_SOURCE"] and "reserved" in refused["AWS_SESSION_TOKEN"]
    assert SECRET not in json.dumps(run.logs)


@pytest.mark.parametrize("value, reason", [
    ('{"MAIL_SOURCE": "x", ' + f'"{SECRET}', "not JSON"),
    (json.dumps([SECRET]), "expected a JSON object"),
    ("[" * 100_000, "not JSON"),
])
def test_an_invalid_value_is_ignored_and_logged_without_its_text(subject_filter: Lambda, monkeypatch,
                                                                value: str, reason: str) -> None:
    run = _invoke(subject_filter, monkeypatch, value)
    assert run.decision["rule"] == "wrong-source"          # the policy loaded with its defaults
    bad, = _ignored(run, "invalid setting, ignored")
    assert bad["variable"] == POLICY_ENVIRONMENT and reason in bad["reason"]
    assert SECRET not in json.dumps(run.logs)


@pytest.mark.parametrize("entry, value, reason", [
    ("AWS_SECRET_ACCESS_KEY", SECRET, "reserved"),
    ("LAMBDA_RUNTIME_DIR", SECRET, "reserved"),
    ("_HANDLER", SECRET, "reserved"),
    ("MAIL SOURCE", "x", "not a variable name"),
    ("1ST", "x", "not a variable name"),
    ("MAIL_SUBJECTS", ["CASE-"], "expected a string"),
    ("MAIL_SUBJECTS", 5, "expected a string"),
])
def test_a_bad_entry_is_refused_and_the_others_apply(subject_filter: Lambda, monkeypatch,
                                                      entry: str, value: object, reason: str) -> None:
    run = _invoke(subject_filter, monkeypatch, json.dumps({entry: value, "MAIL_SOURCE": "wile@acme.example"}))
    assert run.decision.get("rule") != "wrong-source"    # MAIL_SOURCE applied
    refused, = _ignored(run, "policy environment entry ignored")
    assert refused["entry"] == entry and reason in refused["reason"]
    assert SECRET not in json.dumps(run.logs)
