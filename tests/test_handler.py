"""The Lambda handler: answers, the decision log line and the EMF metrics, for real events."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

import engine
import handler
from engine.aws import settings, telemetry
from conftest import corpus_files, need
from handler_harness import ROOT, Invocation, Lambda, lam, read_event  # noqa: F401  (lam: fixture)

EVENTS = ROOT / "examples" / "events"
EXPECTED = yaml.safe_load((EVENTS / "expected.yaml").read_text())
CASES = [pytest.param(policy, event, want, id=f"{Path(policy).stem}:{event}")
         for policy, table in EXPECTED.items() for event, want in table.items()]
DISPOSITIONS = {"CONTINUE", "STOP_RULE", "STOP_RULE_SET"}


def _masked(address: str) -> str:
    """What LOG_ADDRESSES=masked shows: first letter of the local part, the whole domain."""
    local, _, domain = address.rpartition("@")
    return f"{local[0]}***@{domain}"


def _event(**receipt: object) -> dict:
    """virus-fail.json with its receipt fields overridden."""
    event = read_event(EVENTS / "virus-fail.json")
    event["Records"][0]["ses"]["receipt"].update(receipt)
    return event


def _check_published(run: Invocation, disposition: str, rule_dimension: str, shadow: list[str]) -> None:
    assert run.metric("Decisions") == 1
    assert run.metric("Decisions", Disposition=disposition) == 1
    assert run.metric("Decisions", Rule=rule_dimension) == 1
    assert run.metric("ShadowMatches") == len(shadow)
    for name in shadow:
        assert run.metric("ShadowMatches", Rule=name) == 1
    for blob in run.emf:
        assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SesRules"
        assert blob["service"] == "ses-rules"


@pytest.mark.parametrize(("policy", "event", "want"), CASES)
def test_every_example_event_is_answered_logged_and_counted(lam: Lambda, monkeypatch, policy, event, want):
    monkeypatch.setenv("POLICY_FILE", str(ROOT / policy))
    data = read_event(EVENTS / event)
    loaded = engine.load_policy(ROOT / policy)
    run = lam.invoke(data)

    assert run.answer == {"disposition": want["disposition"]}
    line = run.decision
    on_error = want.get("on_error", False)   # the record could not be evaluated
    assert line["level"] == ("WARNING" if on_error else "INFO")
    assert bool(line["errors"]) is on_error
    # Powertools leaves out keys whose value is None: no `rule` when the default decided.
    assert (line["disposition"], line.get("rule")) == (want["disposition"], want["rule"])
    assert line["shadow"] == want.get("shadow", [])
    assert line["policy"] == {"name": loaded.name, "revision": loaded.revision,
                              "source": f"file:{ROOT / policy}"}
    mail = data["Records"][0]["ses"]["mail"]
    assert line["correlation_id"] == mail["messageId"]
    assert line["sender"] == _masked(mail["source"])
    assert mail["source"] not in json.dumps(run.logs)
    action = data["Records"][0]["ses"].get("receipt", {}).get("action", {})
    assert line.get("invocation_type") == action.get("invocationType")
    assert line["evaluation_ms"] >= 0
    assert line["function_request_id"] == "52fdfc07-2182-154f-163f-5f0f9a621d72"
    assert "trace" not in line
    fallback = "(on_error)" if on_error else "(default)"
    _check_published(run, want["disposition"], want["rule"] or fallback, want.get("shadow", []))
    assert run.metric("EvaluationErrors") == int(on_error)


def test_the_examples_cover_every_disposition_and_deciding_rule():
    """The parametrized test above only proves something if the table exercises everything."""
    assert {want["disposition"] for table in EXPECTED.values() for want in table.values()} == DISPOSITIONS
    for policy, table in EXPECTED.items():
        decided = {want["rule"] for want in table.values()} | {
            name for want in table.values() for name in want.get("shadow", [])} | {
            rule for want in table.values() for rule, _ in want.get("actions", [])}   # routing rules
        rules = {rule.name for rule in engine.load_policy(ROOT / policy).rules if rule.enabled}
        assert rules <= decided, f"{policy}: no example event reaches {sorted(rules - decided)}"


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_files("ses-events", "*.json"))
def test_every_corpus_event_is_answered_as_the_engine_decides(lam: Lambda, monkeypatch, path: Path):
    event = read_event(need(path))
    for policy in EXPECTED:
        monkeypatch.setenv("POLICY_FILE", str(ROOT / policy))
        handler.policy_source.cache_clear()
        want = engine.load_policy(ROOT / policy).evaluate(copy.deepcopy(event))
        run = lam.invoke(event)
        assert run.answer == {"disposition": want.disposition}
        line = run.decision
        assert (line["disposition"], line.get("rule"), line["shadow"]) == (want.disposition, want.rule, want.shadow)
        mail = event["Records"][0]["ses"]["mail"] if "Records" in event else None
        if mail is None:   # an SNS notification, not a Lambda event: answered with on_error
            assert line["errors"] and line["level"] == "WARNING"
            assert "correlation_id" not in line or line["correlation_id"] is None
            assert run.metric("EvaluationErrors") == 1
            assert run.metric("Decisions", Rule="(on_error)") == 1
        else:
            assert line["errors"] == [] and line["level"] == "INFO"
            assert line["correlation_id"] == mail["messageId"]
            assert line["sender"] == _masked(mail["source"])
            assert mail["source"] not in json.dumps(run.logs)
            assert run.metric("EvaluationErrors") == 0


def test_addresses_are_logged_full_masked_or_not_at_all(lam: Lambda, monkeypatch):
    event = read_event(EVENTS / "virus-fail.json")
    source = event["Records"][0]["ses"]["mail"]["source"]
    for mode, want in (("full", source), ("masked", _masked(source)), ("none", None)):
        monkeypatch.setenv("LOG_ADDRESSES", mode)
        handler.policy_source.cache_clear()
        run = lam.invoke(event)
        assert run.decision.get("sender") == want
        assert (source in json.dumps(run.logs)) == (mode == "full")


def test_trace_is_logged_on_request_with_addresses_and_local_parts_masked(lam: Lambda, monkeypatch, tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nname: trace\nrules:\n"
                      "  - {name: by-user, when: {from.user: nobody}, disposition: STOP_RULE}\n"
                      "  - {name: by-sender, when: {sender: {ends_with: .invalid}}, disposition: STOP_RULE}\n")
    monkeypatch.setenv("POLICY_FILE", str(policy))
    monkeypatch.setenv("LOG_TRACE", "all")
    event = read_event(EVENTS / "virus-fail.json")
    mail = event["Records"][0]["ses"]["mail"]
    run = lam.invoke(event)
    trace = run.decision["trace"]
    text = json.dumps(trace)
    assert [step["rule"] for step in trace[0]] == ["by-user", "by-sender"]
    assert mail["source"] not in text and _masked(mail["source"]) in text
    user = mail["commonHeaders"]["from"][0].split("@")[0].split("<")[-1].split("+")[0]
    assert trace[0][0]["condition"]["values"] == [f"{user[0]}***"]
    assert f'"{user}"' not in text

    monkeypatch.setenv("LOG_TRACE", "none")
    handler.policy_source.cache_clear()
    assert "trace" not in lam.invoke(event).decision


@pytest.mark.parametrize(("draw", "traced"), [(0.24, True), (0.26, False)])
def test_trace_sampling_follows_the_fraction(lam: Lambda, monkeypatch, draw, traced):
    monkeypatch.setenv("LOG_TRACE", "0.25")
    monkeypatch.setattr(handler.random, "random", lambda: draw)
    assert ("trace" in lam.invoke(read_event(EVENTS / "virus-fail.json")).decision) is traced


def test_event_invocations_are_answered_and_logged_alike(lam: Lambda):
    event = _event(action={"type": "Lambda", "invocationType": "Event",
                           "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:ses-rules"})
    run = lam.invoke(event)
    assert run.answer == {"disposition": "STOP_RULE_SET"}
    assert run.decision["invocation_type"] == "Event"
    assert run.decision["rule"] == "drop-virus"


@pytest.mark.parametrize("event", [None, [], "mail", {}, {"Records": "x"}, {"Records": [1]},
                                   {"Records": [{"eventSource": "aws:ses", "ses": []}]}],
                         ids=repr)
def test_malformed_events_get_on_error_and_a_logged_reason(lam: Lambda, event):
    run = lam.invoke(event)
    assert run.answer == {"disposition": "CONTINUE"}   # default.yaml's on_error
    assert run.decision["errors"] and run.decision["level"] == "WARNING"
    assert run.metric("EvaluationErrors") == 1
    assert run.metric("Decisions", Rule="(on_error)") == 1


def test_correlation_id_follows_each_message(lam: Lambda):
    first = lam.invoke(read_event(EVENTS / "virus-fail.json")).decision["correlation_id"]
    second = lam.invoke(read_event(EVENTS / "spam-fail.json")).decision["correlation_id"]
    assert first != second and second == read_event(EVENTS / "spam-fail.json")["Records"][0]["ses"]["mail"]["messageId"]
    assert lam.invoke({}).decision.get("correlation_id") is None


def test_a_policy_that_does_not_load_answers_on_error_every_time(lam: Lambda, monkeypatch, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nrules:\n  - {name: x, disposition: STOPP}\n")
    monkeypatch.setenv("POLICY_FILE", str(broken))
    monkeypatch.setenv("ON_ERROR", "stop_rule")
    first = lam.invoke(read_event(EVENTS / "virus-fail.json"))
    failure = next(line for line in first.logs if line["message"] == "policy load failed")
    assert failure["level"] == "ERROR" and failure["source"] == f"file:{broken}"
    assert any("STOP_RULE" in detail for detail in failure["details"])   # the did-you-mean hint
    assert first.metric("PolicyLoadFailures") == 1
    for run in (first, lam.invoke(read_event(EVENTS / "virus-fail.json"))):
        assert run.answer == {"disposition": "STOP_RULE"}
        assert run.decision["level"] == "ERROR" and run.decision["errors"] == ["no policy loaded"]
        assert "policy" not in run.decision
        assert run.metric("PolicyUnavailable") == 1
        assert run.metric("Decisions", Rule="(on_error)") == 1
    assert "policy load failed" not in [line["message"] for line in run.logs]   # the file is tried once


def test_a_missing_policy_file_answers_on_error(lam: Lambda, monkeypatch, tmp_path):
    monkeypatch.setenv("POLICY_FILE", str(tmp_path / "absent.yaml"))
    run = lam.invoke(read_event(EVENTS / "virus-fail.json"))
    assert run.answer == {"disposition": "CONTINUE"}
    assert run.messages("ERROR") == ["policy load failed", "decision"]


def test_a_relative_policy_file_is_found_beside_the_handler(lam: Lambda, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLICY_FILE", "examples/policies/subject-filter.yaml")
    run = lam.invoke(read_event(EVENTS / "virus-fail.json"))
    assert run.decision["rule"] == "wrong-source"


DOCUMENTED_DEFAULTS = {"ON_ERROR": "CONTINUE", "LOG_ADDRESSES": "masked", "LOG_TRACE": "none",
                       "POWERTOOLS_PARAMETERS_MAX_AGE": "300"}


@pytest.mark.parametrize(("variable", "value"), [("ON_ERROR", "DROP"), ("LOG_ADDRESSES", "some"),
                                                 ("LOG_TRACE", "1.5"), ("LOG_TRACE", "often"),
                                                 ("POWERTOOLS_PARAMETERS_MAX_AGE", "-1")])
def test_a_bad_setting_is_logged_and_its_default_used(lam: Lambda, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    run = lam.invoke(read_event(EVENTS / "virus-fail.json"))
    assert run.answer == {"disposition": "STOP_RULE_SET"}
    bad = next(line for line in run.logs if line["message"] == "invalid setting, default used")
    assert (bad["level"], bad["variable"], bad["value"]) == ("ERROR", variable, value)
    assert bad["default"] == DOCUMENTED_DEFAULTS[variable]          # as docs/operations.md writes it
    assert run.decision["sender"].endswith("***@globex.example")   # masked: the default
    assert "trace" not in run.decision


def test_an_evaluation_that_raises_answers_the_policys_on_error(lam: Lambda, monkeypatch):
    def broken(self, event, explain=False):
        raise RuntimeError("bug")
    monkeypatch.setattr(engine.Policy, "evaluate", broken)
    monkeypatch.setenv("POLICY_FILE", str(ROOT / "examples/policies/partner-support.yaml"))
    on_error = engine.load_policy(ROOT / "examples/policies/partner-support.yaml").on_error
    run = lam.invoke(read_event(EVENTS / "virus-fail.json"))
    assert run.answer == {"disposition": on_error}
    assert "evaluation failed" in run.messages("ERROR")
    assert run.decision["errors"] == ["evaluation failed: bug"]
    assert run.metric("EvaluationErrors") == 1


def test_a_failure_while_reporting_keeps_the_decision(lam: Lambda, monkeypatch):
    def broken(*args):
        raise OSError("stdout closed")
    monkeypatch.setattr(telemetry, "log_decision", broken)
    run = lam.invoke(read_event(EVENTS / "virus-fail.json"))
    assert run.answer == {"disposition": "STOP_RULE_SET"}
    assert "could not report the decision" in run.messages("ERROR")


def test_a_failure_outside_any_decision_still_answers(lam: Lambda, monkeypatch):
    def broken(*args):
        raise MemoryError
    monkeypatch.setenv("ON_ERROR", "STOP_RULE")
    monkeypatch.setattr(handler, "_decide", broken)
    run = lam.invoke(read_event(EVENTS / "virus-fail.json"))
    assert run.answer == {"disposition": "STOP_RULE"}
    assert run.messages("ERROR") == ["handler failed, ON_ERROR answered"]


def test_without_a_context_the_handler_still_decides(lam: Lambda):
    run = lam.invoke(read_event(EVENTS / "virus-fail.json"), context=None)
    assert run.answer == {"disposition": "STOP_RULE_SET"}
    assert run.decision["rule"] == "drop-virus"


def test_metrics_can_be_switched_off_without_piling_up(lam: Lambda, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(3):
        assert lam.invoke(read_event(EVENTS / "virus-fail.json")).emf == []
    assert handler.metrics.provider.metric_set == {}


def test_the_documented_refresh_default_is_powertools_own():
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_MAX_AGE_SECS
    assert settings.MAX_AGE_DEFAULT == int(DEFAULT_MAX_AGE_SECS)
