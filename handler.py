"""AWS Lambda entry point for an SES receipt rule: answer each mail with the policy's disposition.

Configured by environment variables (docs/operations.md). SES's behaviour when the
function raises or times out is undocumented, so whatever fails, the function answers
a valid disposition and says why in its log.
"""
from __future__ import annotations

import contextlib
import os
import random
import time
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from engine.aws import telemetry
from engine.aws.actionqueue import ActionQueue, queue_actions
from engine.aws.policysource import PolicySource
from engine.aws.settings import Settings
from engine.decision import DISPOSITIONS

HERE = Path(__file__).resolve().parent   # where a relative POLICY_FILE is, on Lambda /var/task
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "ses-rules"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "SesRules"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
_source: PolicySource | None = None   # one per execution environment, made at its first invocation
_queue = ActionQueue.from_env()       # the SQS client, made here only when ACTIONS_QUEUE_URL is set
_actions: Any = None                  # the action function's runner, made at its first invocation


def lambda_handler(event: Any, context: Any) -> dict[str, str]:
    """Answer SES; never raises."""
    try:
        handle = _handle if context is None else _handle_in_context
        return handle(event, context)
    except Exception:  # last resort: SES must get a valid answer
        with contextlib.suppress(Exception):
            logger.exception("handler failed, ON_ERROR answered")
        return {"disposition": _source.settings.on_error if _source else "CONTINUE"}


def _handle(event: Any, context: Any) -> dict[str, str]:
    global _source
    if _source is None:
        _source = PolicySource(Settings.from_env(HERE, logger), logger, metrics)
    settings = _source.settings
    telemetry.correlate(logger, event)
    result, level = _decide(event, _source)
    disposition = result.get("disposition")
    try:
        telemetry.log_decision(logger, result, level, event, settings.log_addresses)
        telemetry.publish(metrics, SERVICE, result)
    except Exception:
        logger.exception("could not report the decision")
    queue_actions(_queue, event, result, logger, metrics, SERVICE)
    return {"disposition": disposition if disposition in DISPOSITIONS else settings.on_error}


_handle_in_context = logger.inject_lambda_context(clear_state=True)(_handle)


def _decide(event: Any, source: PolicySource) -> tuple[dict[str, Any], str]:
    """The decision as `Decision.to_dict()` shapes it, and the level to log it at."""
    policy = source.current()
    if policy is None:
        metrics.add_metric(name="PolicyUnavailable", unit=MetricUnit.Count, value=1)
        return _fallback(source.settings.on_error, "no policy loaded", None), "error"
    explain = random.random() < source.settings.trace_rate
    started = time.perf_counter()
    try:
        result = policy.evaluate(event, explain=explain).to_dict()
        result["evaluation_ms"] = round((time.perf_counter() - started) * 1000, 3)
    except Exception as exc:  # evaluate() must not raise; if it does, the policy's on_error answers
        logger.exception("evaluation failed")
        return _fallback(policy.on_error, f"evaluation failed: {exc}", source.describe()), "error"
    result["policy"] = source.describe()
    return result, "warning" if result.get("errors") else "info"


def replay_handler(event: Any, context: Any) -> dict[str, Any]:
    """The Distributed Map worker of examples/sam/replay.yaml: a batch of archived mail, two policies."""
    from engine.aws.replay import run_batch   # only the replay function pays for it
    return run_batch(event)


def _fallback(disposition: str, error: str, policy: dict[str, Any] | None) -> dict[str, Any]:
    return {"disposition": disposition, "rule": None, "shadow": [], "errors": [error],
            "policy": policy, "records": []}


def action_handler(event: Any, context: Any) -> dict[str, Any]:
    """The action function (SQS, partial batch responses): runs the actions lambda_handler queued."""
    global _actions
    if _actions is None:
        from engine.aws.actionfunction import ActionFunction   # the deciding function never imports it

        _actions = ActionFunction(os.environ, logger, metrics, SERVICE)
    return _actions.handle(event, context)
