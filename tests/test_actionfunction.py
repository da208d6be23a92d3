"""The action function against moto (S3, SES v1/v2, SNS, DynamoDB): outcomes, idempotency, failure paths."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
from aws_lambda_powertools import Logger, Metrics
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from actions_harness import (
    BUCKET,
    ActionContext,
    IDENTITY,
    PREFIX,
    aws_env,  # noqa: F401 - fixture
    create_world,
    failed_ids,
    forward,
    job,
    record,
    settings,
    sqs_event,
)
from engine.aws.actionfunction import IDEMPOTENCY_TTL, ActionFunction
from engine.aws.backend import AwsBackend
from handler_harness import _CurrentStdout

LOGGER = Logger(service="ses-rules-actions-test", stream=_CurrentStdout())
CONTEXT = ActionContext()


@pytest.fixture
def world(aws_env):  # noqa: F811
    with mock_aws():
        yield create_world()


def function(**overrides: str) -> ActionFunction:
    return make(settings(**overrides))


def make(environ: dict, **parts) -> ActionFunction:
    return ActionFunction(environ, LOGGER, Metrics(namespace="SesRulesTest", service="ses-rules-test"),
                          "ses-rules-test", **parts)


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def action_lines(logs: list[dict]) -> list[tuple]:
    return [(line["action"], line["rule"], line["outcome"]) for line in logs if line.get("message") == "action"]


def test_forward_is_sent_once_even_when_the_message_comes_again(world, capsys) -> None:
    world.put_message("m0001")
    body = job(record("m0001"), [forward(["alice@team.example"])])
    fn = function()
    assert fn.handle(sqs_event(body), CONTEXT) == {"batchItemFailures": []}
    assert fn.handle(sqs_event(body), CONTEXT) == {"batchItemFailures": []}
    (sent,) = world.sent()
    assert sent.source == IDENTITY
    assert sent.destinations == ["alice@team.example"] + ["support@corp.example"]   # moto adds the To header's
    assert "From: \"Alice Example via relay.example\" <forwarder@relay.example>" in sent.raw_data
    assert "DKIM-Signature" not in sent.raw_data
    logs = lines(capsys)
    assert action_lines(logs) == [("forward", "route", "done")] * 2
    assert {line["correlation_id"] for line in logs if line.get("message") == "action"} == {"m0001"}


def test_expiry_outlives_the_dead_letter_queue() -> None:
    assert IDEMPOTENCY_TTL >= 14 * 24 * 3600


def test_two_forwards_of_one_rule_do_not_collide(world) -> None:
    world.put_message("m0002")
    body = job(record("m0002"), [forward(["a@team.example"]), forward(["b@team.example"])])
    assert function().handle(sqs_event(body), CONTEXT) == {"batchItemFailures": []}
    assert len(world.sent()) == 2


def test_missing_object_fails_the_message(world, capsys) -> None:
    body = job(record("m-missing"), [forward(["alice@team.example"])])
    answer = function().handle(sqs_event(body), CONTEXT)
    assert failed_ids(answer) == ["sqs-0"]
    assert action_lines(lines(capsys)) == [("forward", "route", "failed: NoSuchKey: The specified key does not exist.")]
    assert world.sent() == []


def test_unverified_identity_fails_and_the_message_goes_back(world, capsys) -> None:
    world.put_message("m0003")
    body = job(record("m0003"), [forward(["alice@team.example"], **{"from": "nobody@unverified.example"})])
    answer = function().handle(sqs_event(body), CONTEXT)
    assert failed_ids(answer) == ["sqs-0"]
    (line,) = action_lines(lines(capsys))
    assert line[2].startswith("failed: MessageRejected")
    assert world.sent() == []


def test_throttling_fails_the_message_and_the_retry_sends_once(world, capsys) -> None:
    world.put_message("m0004")
    sesv2 = _Throttled(boto3.client("sesv2"), times=1)
    fn = make(settings(), backend=AwsBackend(sesv2=sesv2))
    body = job(record("m0004"), [forward(["alice@team.example"])])
    assert failed_ids(fn.handle(sqs_event(body), CONTEXT)) == ["sqs-0"]    # back to the queue
    assert fn.handle(sqs_event(body), CONTEXT) == {"batchItemFailures": []}
    assert len(world.sent()) == 1
    outcomes = [o[2] for o in action_lines(lines(capsys))]
    assert outcomes == ["failed: TooManyRequestsException: Maximum sending rate exceeded.", "done"]


def test_dynamodb_unavailable_fails_the_message_and_sends_nothing_twice(world, capsys) -> None:
    world.put_message("m0005")
    body = job(record("m0005"), [forward(["alice@team.example"])])
    assert function().handle(sqs_event(body), CONTEXT) == {"batchItemFailures": []}
    answer = function(IDEMPOTENCY_TABLE="no-such-table").handle(sqs_event(body), CONTEXT)
    assert failed_ids(answer) == ["sqs-0"]
    outcomes = action_lines(lines(capsys))
    assert outcomes[0][2] == "done" and outcomes[1][2].startswith("failed: ")
    assert len(world.sent()) == 1


def test_malformed_message_fails_alone(world, capsys) -> None:
    world.put_message("m0006")
    good = job(record("m0006"), [forward(["alice@team.example"])])
    answer = function().handle(sqs_event("not json", good, json.dumps({"record": {}})), CONTEXT)
    assert failed_ids(answer) == ["sqs-0", "sqs-2"]
    assert len(world.sent()) == 1
    errors = [line for line in lines(capsys) if line.get("message") == "queued message failed"]
    assert "queued message is not JSON" in errors[0]["exception"]
    assert "queued message has no policy, decision, actions" in errors[1]["exception"]


def test_a_failed_action_fails_its_message_and_the_done_one_is_not_repeated(world, capsys) -> None:
    world.put_message("m0007")
    actions = [forward(["alice@team.example"]),
               {"rule": "quarantine", "type": "store", "prefix": "quarantine/", "bucket": "late-bucket",
                "recipients": ["support@corp.example"]}]
    body = job(record("m0007"), actions)
    assert failed_ids(function().handle(sqs_event(body), CONTEXT)) == ["sqs-0"]
    boto3.client("s3").create_bucket(Bucket="late-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert function().handle(sqs_event(body), CONTEXT) == {"batchItemFailures": []}
    assert len(world.sent()) == 1
    outcomes = [o[2].split(":")[0] for o in action_lines(lines(capsys))]
    assert outcomes == ["done", "failed", "done", "done"]
    stored = boto3.client("s3").get_object(Bucket="late-bucket", Key="quarantine/m0007")
    assert stored["Metadata"] == {"policy": "forwarder", "revision": "abc123", "rule": "quarantine"}


def test_store_into_the_archive_bucket_with_a_kms_key(world) -> None:
    world.put_message("m0008")
    kms = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    action = {"rule": "keep", "type": "store", "prefix": "kept/", "kms_key": kms, "recipients": []}
    assert function().handle(sqs_event(job(record("m0008"), [action])), CONTEXT) == {"batchItemFailures": []}
    stored = boto3.client("s3").get_object(Bucket=BUCKET, Key="kept/m0008")
    assert stored["Body"].read() == boto3.client("s3").get_object(Bucket=BUCKET, Key=PREFIX + "m0008")["Body"].read()
    assert stored["ServerSideEncryption"] == "aws:kms" and stored["SSEKMSKeyId"] == kms


def test_notify_publishes_the_summary_with_masked_addresses(world) -> None:
    action = {"rule": "alert", "type": "notify", "topic": world.topic_arn, "recipients": ["support@corp.example"]}
    assert function().handle(sqs_event(job(record("m0009"), [action])), CONTEXT) == {"batchItemFailures": []}
    (summary,) = world.notifications()
    assert summary == {
        "messageId": "m0009", "timestamp": summary["timestamp"], "source": "a***@sender.example",
        "from": ["Alice Example <a***@sender.example>"], "subject": "Invoice 42", "recipients": ["s***@corp.example"],
        "disposition": "CONTINUE", "rule": "route", "action_rule": "alert", "policy": "forwarder",
        "revision": "abc123", "s3": {"bucket": BUCKET, "key": PREFIX + "m0009"}}


def test_bounce_sends_the_exact_request(world, capsys) -> None:
    ses = boto3.client("ses")
    now = datetime.now(timezone.utc).isoformat()
    expected = {"OriginalMessageId": "m0010", "BounceSender": "mailer-daemon@relay.example",
                "Explanation": "No such mailbox here",
                "BouncedRecipientInfoList": [{"Recipient": "nobody@corp.example",
                                              "RecipientDsnFields": {"Action": "failed", "Status": "5.1.1"}}]}
    action = {"rule": "unknown", "type": "bounce", "status": "5.1.1", "message": "No such mailbox here",
              "recipients": ["nobody@corp.example"]}
    body = job(record("m0010", timestamp=now), [action])
    with Stubber(ses) as stub:
        stub.add_response("send_bounce", {"MessageId": "bounce-1"}, expected)
        fn = make(settings(), backend=AwsBackend(ses=ses))
        assert fn.handle(sqs_event(body), CONTEXT) == {"batchItemFailures": []}
        assert fn.handle(sqs_event(body), CONTEXT) == {"batchItemFailures": []}   # not bounced twice
        stub.assert_no_pending_responses()
    assert action_lines(lines(capsys)) == [("bounce", "unknown", "done")] * 2


def test_bounce_guard_skips_old_mail(world, capsys) -> None:
    action = {"rule": "unknown", "type": "bounce", "status": "5.1.1", "message": "x", "recipients": ["n@corp.example"]}
    assert function().handle(sqs_event(job(record("m0011"), [action])), CONTEXT) == {"batchItemFailures": []}
    assert action_lines(lines(capsys)) == [("bounce", "unknown", "skipped: older than 24 h")]


def test_allow_lists_skip_what_the_deployment_does_not_name(world, capsys) -> None:
    world.put_message("m0012")
    actions = [forward(["mallory@evil.example"]), forward(["ops@team.example"]),
               {"rule": "alert", "type": "notify", "topic": world.topic_arn.replace("security", "other"),
                "recipients": []}]
    fn = function(ALLOWED_FORWARD_DOMAINS="team.example", ALLOWED_TOPICS=world.topic_arn)
    assert fn.handle(sqs_event(job(record("m0012"), actions)), CONTEXT) == {"batchItemFailures": []}
    logs = lines(capsys)
    assert [o[2] for o in action_lines(logs)] == ["skipped: not allowed", "done", "skipped: not allowed"]
    assert len(world.sent()) == 1
    detail = [line["detail"] for line in logs if line.get("outcome") == "skipped: not allowed"]
    assert detail[0] == "m***@evil.example is not in ALLOWED_FORWARD_DOMAINS"


@pytest.mark.parametrize("missing, action", [
    ("MAIL_BUCKET", forward(["a@team.example"])),
    ("FORWARD_FROM", forward(["a@team.example"])),
    ("BOUNCE_SENDER", {"rule": "b", "type": "bounce", "status": "5.1.1", "message": "x", "recipients": ["n@c.example"]}),
])
def test_a_missing_setting_fails_the_message_naming_it(world, capsys, missing, action) -> None:
    world.put_message("m0013")
    rec = record("m0013", timestamp=datetime.now(timezone.utc).isoformat())
    answer = function(**{missing: ""}).handle(sqs_event(job(rec, [action])), CONTEXT)
    assert failed_ids(answer) == ["sqs-0"]
    (line,) = action_lines(lines(capsys))
    assert line[2].startswith(f"failed: {missing} is not set")


def test_no_idempotency_table_fails_every_message(world, capsys) -> None:
    answer = function(IDEMPOTENCY_TABLE="").handle(sqs_event(job(record("m0014"), [forward(["a@t.example"])])), CONTEXT)
    assert failed_ids(answer) == ["sqs-0"]
    assert "IDEMPOTENCY_TABLE is not set" in lines(capsys)[0]["exception"]


def test_metrics_per_type_and_outcome(world, capsys) -> None:
    world.put_message("m0015")
    function().handle(sqs_event(job(record("m0015"), [forward(["a@team.example"])])), CONTEXT)
    (blob,) = [line for line in lines(capsys) if "Actions" in line]
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["service"], ["service", "Type"], ["service", "Outcome"]]
    assert (blob["Type"], blob["Outcome"], blob["Actions"]) == ("forward", "done", [1.0])


class _Throttled:
    """An SES v2 client that answers SendEmail with throttling `times` times, as SES does past
    the sending rate (after botocore's own retries), then sends."""

    def __init__(self, client, times: int):
        self.client, self.left = client, times

    def send_email(self, **request):
        if self.left:
            self.left -= 1
            raise ClientError({"Error": {"Code": "TooManyRequestsException",
                                         "Message": "Maximum sending rate exceeded."}}, "SendEmail")
        return self.client.send_email(**request)
