"""Fuzzing the per-mail path: arbitrary JSON and mutated real SES events into `Policy.evaluate` and
`lambda_handler`. Whatever arrives, the answer is a valid disposition, and `on_error` (with a reason)
exactly where the record is not an SES receiving record.

Example counts come from the Hypothesis profile (tests/conftest.py): `ci` in `make test`,
`fuzz` (many more) in `make fuzz`.
"""
from __future__ import annotations

import copy
import io
import json
import types
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import handler
from engine import load_policy, load_policy_text
from engine.mail.sesevent import build_event

pytestmark = pytest.mark.fuzz

FUZZ_POLICY = Path(__file__).parent / "fuzz_policy.yaml"
POLICY = load_policy(FUZZ_POLICY)
RULES = {r.name for r in POLICY.rules}
RANK = {"CONTINUE": 0, "STOP_RULE": 1, "STOP_RULE_SET": 2}
SES_EVENTS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "ses-events"
CONTEXT = types.SimpleNamespace(  # what Powertools' inject_lambda_context reads from the real context
    function_name="ses-rules", function_version="$LATEST", memory_limit_in_mb=128, aws_request_id="fuzz",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:ses-rules")
FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Strings strangers put in headers: spoofs, parser traps, padding, encodings, control characters.
NASTY = [
    '"boss@company.example" <attacker@evil.example>', "boss@company.example <attacker@evil.example>",
    "alice@example.org)<bob@example.org>", "a@b@<c@d>", "undisclosed-recipients:;", "Friends: a@b, c@d;",
    "=?utf-8?b?Ym9zc0Bjb21wYW55LmV4YW1wbGU+LCA8?= <x@y>", "=?x-unknown?q?=ff?=", "=?utf-8?q?", "<>", "@", "a@",
    "@b", "x@xn--", "x@xn--zz", "x@" + "a" * 64 + ".example", "x@" + "b." * 200, "\ud800@example.com", "a\udcffb",
    "x@exa\u0000mple.com", "\u202eevil@example.com", "x@ｐａｙｐａｌ.com", "x@straße.de", "x@EXAMPLE.COM.",
    "${PAYLOAD}", "$${x}", "(a+)+$", "1e309", "-0", "NaN", "true", "",
]
_PAD = st.builds(lambda unit, n: unit * n, st.sampled_from(['"', "a@b ", "<", "(", "\\", ",", " ", "=?"]),
                 st.integers(1, 3000))
hostile_text = st.one_of(st.text(), st.sampled_from(NASTY), _PAD)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), hostile_text)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(hostile_text, inner, max_size=5)), max_leaves=25)


def _corpus_events() -> list[Any]:
    return [json.loads(p.read_text(encoding="utf-8-sig")) for p in sorted(SES_EVENTS.glob("*.json"))]


CORPUS_EVENTS = _corpus_events()


def is_not_ses_record(record: Any) -> bool:
    """SPEC 3.7, restated as the oracle: the records that must get on_error."""
    if not isinstance(record, dict) or record.get("eventSource") != "aws:ses":
        return True
    ses = record.get("ses")
    return not (isinstance(ses, dict) and isinstance(ses.get("mail"), dict) and isinstance(ses.get("receipt"), dict))


def check_decision(event: Any) -> None:
    """Evaluate and check every promise of SPEC 3.7 on the result."""
    decision = POLICY.evaluate(event)
    result = decision.to_dict()
    json.dumps(result, allow_nan=False)  # JSON-ready, always
    assert result["disposition"] in RANK
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        assert (result["disposition"], result["rule"]) == (POLICY.on_error, None)
        assert result["errors"], "on_error without a reason"
        return
    assert len(result["records"]) == len(records)
    for record, outcome in zip(records, result["records"]):
        if is_not_ses_record(record):
            assert (outcome["disposition"], outcome["rule"]) == (POLICY.on_error, None)
            assert outcome["errors"], "on_error without a reason"
        else:  # wrong types deeper in a valid record are not errors
            assert outcome["errors"] == [], outcome["errors"]
            assert outcome["rule"] is None or outcome["rule"] in RULES
    worst = max(result["records"], key=lambda r: RANK[r["disposition"]])
    assert result["disposition"] == worst["disposition"]


ADDRESS_KEYS = ("from", "to", "cc", "bcc", "replyTo", "reply-to", "sender", "returnPath")


@st.composite
def mutated_corpus_event(draw: st.DrawFn) -> Any:
    """A real SES event (corpus) with random edits: replace, delete or add anywhere in the tree, and
    hostile strings in the address headers the policy parses."""
    event = copy.deepcopy(draw(st.sampled_from(CORPUS_EVENTS)))
    for record in event.get("Records") or [] if isinstance(event, dict) else []:
        common = record.get("ses", {}).get("mail", {}).get("commonHeaders") if isinstance(record, dict) else None
        if isinstance(common, dict):
            for key in draw(st.lists(st.sampled_from(ADDRESS_KEYS), max_size=3, unique=True)):
                common[key] = draw(st.lists(hostile_text, min_size=1, max_size=3))
    for _ in range(draw(st.integers(0, 6))):
        containers = _containers(event)
        parent, key = draw(st.sampled_from(containers))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace" and key is not None:
            parent[key] = draw(json_values)
        elif action == "delete" and key is not None:
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(hostile_text)] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return event


def _containers(root: Any) -> list[tuple[Any, Any]]:
    """(container, key) for every slot in the tree, plus (container, None) to add to it."""
    found: list[tuple[Any, Any]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.append((node, None))
            found.extend((node, k) for k in node)
            stack.extend(node.values())
        elif isinstance(node, list):
            found.append((node, None))
            found.extend((node, i) for i in range(len(node)))
            stack.extend(node)
    return found


def test_corpus_loaded(ses_events_dir: Path) -> None:
    assert len(CORPUS_EVENTS) == len(list(ses_events_dir.glob("*.json"))) > 0


@given(event=st.one_of(
    json_values,
    st.fixed_dictionaries({"Records": json_values}),
    st.fixed_dictionaries({"Records": st.lists(json_values, min_size=1, max_size=4)}),
    st.fixed_dictionaries({"Records": st.lists(st.fixed_dictionaries(
        {"eventSource": st.just("aws:ses"), "ses": st.fixed_dictionaries(
            {"mail": st.dictionaries(hostile_text, json_values), "receipt": st.dictionaries(hostile_text, json_values)})}),
        min_size=1, max_size=3)}),
))
def test_arbitrary_json(event: Any, security_report) -> None:
    check_decision(event)
    security_report["fuzz examples: arbitrary JSON"] += 1


@FIXTURE_OK
@given(event=mutated_corpus_event())
def test_mutated_corpus_events(event: Any, ses_events_dir: Path, security_report) -> None:
    check_decision(event)
    security_report["fuzz examples: mutated SES events"] += 1


@pytest.fixture
def fuzz_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Callable, io.StringIO]]:
    """handler.lambda_handler on a fresh cold start with the fuzz policy (traces logged for every
    mail), and the stream its Powertools logger writes to."""
    monkeypatch.setenv("POLICY_FILE", str(FUZZ_POLICY))
    monkeypatch.delenv("POLICY_SSM_PARAMETER", raising=False)
    monkeypatch.setenv("LOG_TRACE", "all")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SesRulesFuzz")
    handler.policy_source.cache_clear()
    log = io.StringIO()
    previous = handler.logger.registered_handler.setStream(log)
    try:
        yield handler.lambda_handler, log
    finally:
        handler.logger.registered_handler.setStream(previous)
        handler.policy_source.cache_clear()


def decision_log_line(log: io.StringIO) -> dict:
    """The handler's one structured "decision" line, read and cleared from the log stream."""
    lines = [json.loads(line) for line in log.getvalue().split("\n") if line]  # not splitlines: \u2028 is data
    log.seek(0)
    log.truncate()
    (decision,) = [line for line in lines if line.get("message") == "decision"]
    return decision


@FIXTURE_OK
@given(event=st.one_of(mutated_corpus_event(), json_values))
def test_lambda_handler(event: Any, fuzz_handler, ses_events_dir: Path, security_report) -> None:
    """The deployed entry point answers what the policy decides, whatever the event, and logs why."""
    lambda_handler, log = fuzz_handler
    expected = POLICY.evaluate(copy.deepcopy(event))
    assert lambda_handler(event, CONTEXT) == {"disposition": expected.disposition}
    logged = decision_log_line(log)
    assert logged["disposition"] == expected.disposition
    assert bool(logged["errors"]) == bool(expected.errors), logged
    security_report["fuzz examples: lambda_handler"] += 1


def test_decision_logged_despite_lone_surrogate(fuzz_handler) -> None:
    """One structured line per decision (SPEC 5), also when the sender wrote something odd."""
    lambda_handler, log = fuzz_handler
    event = build_event({"subject": "quarterly report"})
    event["Records"][0]["ses"]["mail"]["source"] = "a\ud800@example.com"
    expected = POLICY.evaluate(copy.deepcopy(event)).disposition
    assert lambda_handler(event, CONTEXT) == {"disposition": expected}
    assert decision_log_line(log)["disposition"] == expected


@pytest.mark.parametrize("when", ["{subject: {matches: x}}", "{subject: {glob: '*x*'}}",
                                  "{header.X-Mailer: {matches: x}}"])
def test_lone_surrogate_in_text(when: str) -> None:
    """JSON can carry "\\ud800"; a value the regex cannot take must simply not match, not fail the record.

    Found by `make fuzz` (RE2 raised UnicodeEncodeError, so the whole record got on_error).
    """
    policy = load_policy_text(f"version: 1\nrules:\n  - name: r\n    when: {when}\n    disposition: STOP_RULE_SET\n")
    event = build_event({"subject": "quarterly report", "header": ["X-Mailer: mailer"]})
    mail = event["Records"][0]["ses"]["mail"]
    mail["commonHeaders"]["subject"] = "a\ud800b"
    mail["headers"] = [{"name": "X-Mailer", "value": "\udcff"}]
    decision = policy.evaluate(event)
    assert (decision.disposition, decision.errors) == ("CONTINUE", [])
