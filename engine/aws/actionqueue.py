"""The deciding function's side of actions: one SQS message per record that has actions.

SES's answer never waits on an action: the deciding function only queues them,
and a queue that cannot be reached is logged and counted, never raised. The SQS
client is made at initialisation when ACTIONS_QUEUE_URL is set; otherwise boto3
is never imported.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.aws import telemetry

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

    from engine.decision import Decision

QUEUE_CLIENT = {"connect_timeout": 1, "read_timeout": 2, "retries": {"total_max_attempts": 2, "mode": "standard"}}


class ActionQueue:
    """The deciding function's side: one SQS message per record with actions."""

    def __init__(self, url: str, client: Any = None) -> None:
        self.url = url
        self.client = client
        self.error: str | None = None
        if client is None:
            try:
                import boto3
                from botocore.config import Config

                self.client = boto3.client("sqs", config=Config(**QUEUE_CLIENT))
            except Exception as exc:  # noqa: BLE001 - a bad setting must not stop the function answering SES
                self.error = f"no SQS client: {type(exc).__name__}: {exc}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ActionQueue | None:
        """None when ACTIONS_QUEUE_URL is unset: then boto3 is never imported."""
        url = environ.get("ACTIONS_QUEUE_URL", "").strip()
        return cls(url) if url else None

    def send(self, body: str) -> None:
        if self.error:
            raise RuntimeError(self.error)
        self.client.send_message(QueueUrl=self.url, MessageBody=body)


def queue_actions(queue: ActionQueue | None, event: Any, decision: Decision, policy: dict[str, Any] | None,
                  logger: Logger, metrics: Metrics, service: str) -> None:
    """Queue each record's actions; a failure is logged and counted, never raised."""
    for index, record in enumerate(decision.records):
        actions = record.actions
        if not actions:
            continue
        if queue is None:
            logger.warning("actions not run: ACTIONS_QUEUE_URL is not set", extra={"actions": len(actions)})
            telemetry.count(metrics, service, "ActionsNotRun")
            continue
        try:
            from engine.actions.job import to_message   # a policy without actions never needs it
            queue.send(to_message(event["Records"][index], policy or {},
                                  {"disposition": record.disposition, "rule": record.rule}, actions))
        except Exception:  # noqa: BLE001 - SES's answer must not depend on the queue (nor on a bad record)
            logger.exception("actions not queued", extra={"actions": len(actions)})
            telemetry.count(metrics, service, "ActionsNotQueued")
        else:
            telemetry.count(metrics, service, "ActionsQueued")
