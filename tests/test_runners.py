"""The runners behind the Backend interface, with a recording backend (what `serve` will plug in)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from actions_harness import MESSAGE, record
from engine.actions.backend import Reach, RunContext, Setup
from engine.actions.execute import JobFailed, idempotency_key, run_job
from engine.actions.forwarding import MAX_MESSAGE_BYTES, Forward, rewrite
from engine.actions.job import BadJob, Job

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)


class Recorder:
    """Every call a runner makes, in order."""

    def __init__(self):
        self.calls = []

    def send_raw(self, identity, destinations, message):
        self.calls.append(("send_raw", identity, list(destinations), message))
        return f"sent-{len(self.calls)}"

    def send_bounce(self, request):
        self.calls.append(("send_bounce", request))
        return "bounce-1"

    def put_object(self, bucket, key, body, metadata, kms_key):
        self.calls.append(("put_object", bucket, key, dict(metadata), kms_key))

    def publish(self, topic, message):
        self.calls.append(("publish", topic, message))


def run(actions, raw=MESSAGE, setup=None, **receipt):
    backend, keys = Recorder(), []
    rec = record("m1", raw, **{"timestamp": "2024-01-01T10:00:00.000Z", **receipt})
    job = Job(rec, {"name": "p", "revision": "r"}, {"disposition": "CONTINUE", "rule": None}, actions)
    ctx = RunContext(backend, setup or Setup(forward_from="fwd@relay.example", bounce_sender="mailer@relay.example",
                                             mail_bucket="archive"), lambda: raw, lambda: NOW)
    outcomes = []
    try:
        run_job(job, ctx, lambda key, call: keys.append(key) or call(), outcomes.append)
    except JobFailed:
        pass
    return [o.outcome for o in outcomes], backend.calls, keys


def forward(to, **extra):
    return {"rule": "r", "type": "forward", "to": to, "recipients": ["support@corp.example"], **extra}


def test_a_forward_to_120_addresses_is_three_calls_each_its_own_idempotency_key() -> None:
    to = [f"user{n}@team.example" for n in range(120)]
    outcomes, calls, keys = run([forward(to)])
    assert outcomes == ["done"]
    assert [len(c[2]) for c in calls] == [50, 50, 20]
    assert [k["chunk"] for k in keys] == [0, 1, 2]
    assert len({c[3] for c in calls}) == 1       # the same rewritten bytes each time


def test_a_looping_message_is_skipped() -> None:
    looped = rewrite(MESSAGE, Forward("fwd@relay.example", ["support@corp.example"]))
    assert run([forward(["a@team.example"])], raw=looped)[:2] == (["skipped: loop"], [])


def test_over_40_mb_fails_too_large_and_sends_nothing() -> None:
    outcomes, calls, _ = run([forward(["a@team.example"])], raw=MESSAGE + b"x" * MAX_MESSAGE_BYTES)
    assert (outcomes, calls) == (["failed: too large"], [])


BOUNCE = {"rule": "b", "type": "bounce", "status": "5.1.1", "message": "No such mailbox",
          "recipients": ["ghost@corp.example"]}


@pytest.mark.parametrize("receipt, outcome", [
    ({}, "done"),
    ({"spfVerdict": {"status": "FAIL"}}, "skipped: spf FAIL"),
    ({"spfVerdict": {"status": "GRAY"}}, "skipped: spf GRAY"),
    ({"spamVerdict": {"status": "FAIL"}}, "skipped: spam FAIL"),
    ({"virusVerdict": {"status": "FAIL"}}, "skipped: virus FAIL"),
    ({"timestamp": (NOW - timedelta(hours=25)).isoformat()}, "skipped: older than 24 h"),
    ({"timestamp": "yesterday"}, "skipped: no receipt time"),
])
def test_bounce_guards(receipt, outcome) -> None:
    assert run([BOUNCE], **receipt)[0] == [outcome]


def test_no_envelope_sender_is_never_bounced() -> None:
    raw = b"Return-Path: <>\r\n" + MESSAGE.split(b"\r\n", 1)[1]
    assert run([BOUNCE], raw=raw)[0] == ["skipped: no envelope sender"]


def test_allow_lists_bound_what_the_policy_names_not_the_deployment() -> None:
    reach = Reach.from_env({"ALLOWED_FROM": "other@relay.example, corp.net", "ALLOWED_FORWARD_DOMAINS": "team.example",
                            "ALLOWED_BUCKETS": "quarantine-bucket", "ALLOWED_TOPICS": ""})
    setup = Setup(forward_from="fwd@relay.example", mail_bucket="archive", reach=reach)
    actions = [forward(["a@sub.team.example"]),                                    # subdomain: allowed
               forward(["a@team.example.evil"]),                                  # not a subdomain
               forward(["a@team.example"], **{"from": "ceo@corp.example"}),        # identity not listed
               forward(["a@team.example"], **{"from": "desk@corp.net"}),           # its domain identity is
               {"rule": "s", "type": "store", "prefix": "q/", "recipients": []},   # the archive: always
               {"rule": "s", "type": "store", "prefix": "q/", "bucket": "elsewhere", "recipients": []},
               {"rule": "n", "type": "notify", "topic": "arn:aws:sns:eu-west-1:123456789012:t", "recipients": []}]
    outcomes = run(actions, setup=setup)[0]
    assert outcomes == ["done", "skipped: not allowed", "skipped: not allowed", "done", "done",
                        "skipped: not allowed", "skipped: not allowed"]   # ALLOWED_TOPICS set but empty: none


def test_an_unset_allow_list_restricts_nothing_an_empty_one_allows_nothing_named() -> None:
    notify = {"rule": "n", "type": "notify", "topic": "arn:aws:sns:eu-west-1:123456789012:t", "recipients": []}
    store = {"rule": "s", "type": "store", "prefix": "q/", "recipients": []}      # the archive bucket: trusted
    assert run([notify, store], setup=Setup(mail_bucket="archive", reach=Reach.from_env({})))[0] == ["done", "done"]
    empty = Reach.from_env({"ALLOWED_TOPICS": "", "ALLOWED_BUCKETS": " "})
    assert run([notify, store], setup=Setup(mail_bucket="archive", reach=empty))[0] == [
        "skipped: not allowed", "done"]


def test_idempotency_keys_differ_by_rule_arguments_and_recipients() -> None:
    job = Job(record("m1"), {}, {}, [])
    one = forward(["a@team.example"])
    keys = [idempotency_key(job, a, 0) for a in (one, {**one, "rule": "other"}, forward(["b@team.example"]),
                                                 {**one, "recipients": ["x@corp.example"]})]
    assert len({str(k) for k in keys}) == 4
    assert idempotency_key(job, one, 0) == idempotency_key(job, dict(reversed(one.items())), 0)


@pytest.mark.parametrize("body, reason", [
    ("[]", "not a JSON object"),
    ('{"record": {"ses": {"mail": {"messageId": "../x"}, "receipt": {}}}, "policy": {}, "decision": {}, '
     '"actions": []}', "no valid ses.mail.messageId"),
    ('{"record": {"ses": {"mail": {"messageId": "m1"}, "receipt": {}}}, "policy": {}, "decision": {}, '
     '"actions": [{"type": "forward"}]}', "not a list of {rule, type, ...} objects"),
])
def test_malformed_jobs_are_refused_with_their_reason(body, reason) -> None:
    with pytest.raises(BadJob, match=reason.replace("{", r"\{").replace("}", r"\}").replace(".", r"\.")):
        Job.from_message(body)
