"""The two handlers together, in-process against moto: lambda_handler queues, action_handler runs (SPEC 5)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

import handler
from actions_harness import (
    ActionContext,
    aws_env,  # noqa: F401 - fixture
    create_world,
    settings,
    sqs_event,
)
from engine.aws.actionqueue import ActionQueue
from engine.mail.sesevent import event_from_eml
from handler_harness import ROOT, lam  # noqa: F401 - fixture

FORWARDER = str(ROOT / "examples" / "policies" / "forwarder.yaml")
MESSAGE = (b"From: Dana <dana@customer.example>\r\nTo: support@corp.example\r\nSubject: Order 7\r\n"
           b"Message-ID: <o7@customer.example>\r\n\r\nHello.\r\n")


@pytest.fixture
def deployment(aws_env, lam, monkeypatch):  # noqa: F811
    """moto, the forwarder policy, a queue, and the action function's settings."""
    with mock_aws():
        world = create_world()
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="ses-rules-actions")["QueueUrl"]
        monkeypatch.setenv("POLICY_FILE", FORWARDER)
        monkeypatch.setattr(handler, "_queue", ActionQueue(url, client=sqs))
        handler.action_function.cache_clear()
        for name, value in settings().items():
            monkeypatch.setenv(name, value)
        yield world, sqs, url, lam


def received(sqs, url: str) -> list[dict]:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return answer.get("Messages", [])


def test_decision_queues_its_actions_and_the_action_function_forwards_once(deployment) -> None:
    world, sqs, url, lam = deployment
    event = event_from_eml(MESSAGE)
    message_id = event["Records"][0]["ses"]["mail"]["messageId"]
    world.put_message(message_id, MESSAGE)
    invocation = lam.invoke(event)
    assert invocation.answer == {"disposition": "CONTINUE"}
    assert invocation.metric("ActionsQueued") == 1
    (queued,) = received(sqs, url)
    body = json.loads(queued["Body"])
    assert body["record"] == event["Records"][0]
    assert body["policy"]["name"] == "forwarder" and body["decision"] == {"disposition": "CONTINUE", "rule": None}
    assert [(a["rule"], a["to"]) for a in body["actions"]] == [
        ("forward-support", ["alice@team.example", "bob@team.example"])]
    for _ in range(2):   # delivered twice (at least once): sent once
        assert handler.action_handler(sqs_event(queued["Body"]), ActionContext()) == {"batchItemFailures": []}
    (sent,) = world.sent()
    assert "X-Original-To: support@corp.example" in sent.raw_data


def test_a_queue_that_fails_leaves_the_answer_alone(deployment, monkeypatch) -> None:
    world, sqs, url, lam = deployment
    monkeypatch.setattr(handler, "_queue", ActionQueue("https://sqs.eu-west-1.amazonaws.com/123456789012/gone",
                                                       client=sqs))
    invocation = lam.invoke(event_from_eml(MESSAGE))
    assert invocation.answer == {"disposition": "CONTINUE"}
    assert invocation.metric("ActionsNotQueued") == 1
    assert "actions not queued" in invocation.messages("ERROR")


def test_no_queue_configured_logs_the_actions_as_not_run(deployment, monkeypatch) -> None:
    world, sqs, url, lam = deployment
    monkeypatch.setattr(handler, "_queue", None)
    invocation = lam.invoke(event_from_eml(MESSAGE))
    assert invocation.answer == {"disposition": "CONTINUE"}
    assert invocation.metric("ActionsNotRun") == 1
    assert received(sqs, url) == []


def test_a_decision_without_actions_queues_nothing(deployment) -> None:
    world, sqs, url, lam = deployment
    invocation = lam.invoke({"Records": [{"eventSource": "aws:ses", "ses": {"mail": {}, "receipt": {}}}]})
    assert invocation.answer == {"disposition": "CONTINUE"}
    assert received(sqs, url) == []
    assert invocation.metric("ActionsQueued") == 0


@pytest.mark.parametrize("queue_url, imported", [("", False), ("https://sqs.eu-west-1.amazonaws.com/1/q", True)])
def test_boto3_is_imported_at_initialisation_only_with_a_queue(queue_url, imported) -> None:
    probe = ("import sys, handler; "
             "handler.lambda_handler({'Records': [{'eventSource': 'aws:ses', 'ses': {'mail': {}, 'receipt': {}}}]}, None); "
             "print('boto3' in sys.modules)")
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "eu-west-1", "POLICY_FILE": FORWARDER,
           "ACTIONS_QUEUE_URL": queue_url, "POWERTOOLS_METRICS_DISABLED": "true"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(imported)
