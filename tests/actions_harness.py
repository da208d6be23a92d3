"""A moto account for action tests: the archive bucket, a verified identity, the idempotency table,
a topic and a queue; and the SQS events the action function receives."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from engine.actions.job import to_message
from engine.mail.sesevent import event_from_eml

REGION = "eu-west-1"
ACCOUNT = "123456789012"
BUCKET = "mail-archive"
PREFIX = "inbound/"
TABLE = "ses-rules-idempotency"
IDENTITY = "forwarder@relay.example"
TOPIC = "security-alerts"

MESSAGE = (b"Return-Path: <alice@sender.example>\r\n"
           b"DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=s1; b=AAAA\r\n"
           b"From: Alice Example <alice@sender.example>\r\nTo: support@corp.example\r\n"
           b"Subject: Invoice 42\r\nMessage-ID: <m42@sender.example>\r\n"
           b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nHello,\r\nsee invoice 42.\r\n")


@pytest.fixture
def aws_env(monkeypatch):
    """Credentials and region for every client, real ones never reached."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@dataclass
class World:
    """What the account holds, and where to look for what the actions did."""
    topic_arn: str

    @staticmethod
    def put_message(message_id: str, data: bytes = MESSAGE) -> None:
        boto3.client("s3").put_object(Bucket=BUCKET, Key=PREFIX + message_id, Body=data)

    @staticmethod
    def sent() -> list[Any]:
        from moto.ses.models import ses_backends
        return list(ses_backends[ACCOUNT][REGION].sent_messages)

    def notifications(self) -> list[dict]:
        from moto.sns.models import sns_backends
        return [json.loads(n[1]) for n in sns_backends[ACCOUNT][REGION].topics[self.topic_arn].sent_notifications]


def create_world() -> World:
    """The resources of a deployment with actions (call inside moto)."""
    boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    boto3.client("ses").verify_email_identity(EmailAddress=IDENTITY)
    boto3.client("dynamodb").create_table(
        TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    topic = boto3.client("sns").create_topic(Name=TOPIC)["TopicArn"]
    return World(topic)


def settings(**overrides: str) -> dict[str, str]:
    """The action function's environment as the template sets it."""
    return {"MAIL_BUCKET": BUCKET, "MAIL_PREFIX": PREFIX, "FORWARD_FROM": IDENTITY,
            "BOUNCE_SENDER": "mailer-daemon@relay.example", "IDEMPOTENCY_TABLE": TABLE, **overrides}


def record(message_id: str = "m0001", data: bytes = MESSAGE, **receipt: Any) -> dict:
    """The SES record for `data`, with `receipt` keys overridden."""
    event = event_from_eml(data)
    rec = event["Records"][0]
    rec["ses"]["mail"]["messageId"] = message_id
    rec["ses"]["receipt"].update(receipt)
    return rec


def job(rec: dict, actions: list[dict]) -> str:
    return to_message(rec, {"name": "forwarder", "revision": "abc123"},
                      {"disposition": "CONTINUE", "rule": "route"}, actions)


def forward(to: list[str], rule: str = "route", **extra: Any) -> dict:
    return {"rule": rule, "type": "forward", "to": to, "recipients": ["support@corp.example"], **extra}


def sqs_event(*bodies: str) -> dict:
    return {"Records": [{
        "messageId": f"sqs-{n}", "receiptHandle": f"handle-{n}", "body": body, "attributes": {
            "ApproximateReceiveCount": "1", "SentTimestamp": "1704103200000", "SenderId": "AIDA",
            "ApproximateFirstReceiveTimestamp": "1704103200000"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:ses-rules-actions", "awsRegion": REGION}
        for n, body in enumerate(bodies)]}


class ActionContext:
    """The Lambda context the action function reads (Idempotency asks for the time left)."""
    function_name = "ses-rules-actions"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ses-rules-actions"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def failed_ids(answer: dict) -> list[str]:
    return [item["itemIdentifier"] for item in answer["batchItemFailures"]]
