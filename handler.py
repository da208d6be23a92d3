"""AWS Lambda entry point for an SES receipt rule: answer each mail with the policy's disposition.

Configured by environment variables (docs/operations.md). SES's behaviour when the
function raises or times out is undocumented, so whatever fails, the function answers
a valid disposition and says why in its log.
"""
from __future__ import annotations

import contextlib
import functools
import os
import random
import time
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from engine.aws import telemetry, tracing
from engine.aws.actionqueue import ActionQueue, queue_actions
from engine.aws.policysource import PolicySource
from engine.aws.settings import Settings
from engine.decision import DISPOSITIONS, Decision

HERE = Path(__file__).resolve().parent   # where a relative POLICY_FILE is, on Lambda /var/task
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "ses-rules"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "SesRules"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = tracing.tracer(SERVICE)      # None unless the X-Ray SDK is packaged and tracing is on
_queue = ActionQueue.from_env()       # the SQS client, made here only when ACTIONS_QUEUE_URL is set


@functools.cache
def policy_source() -> PolicySource:
    """One per execution environment, made at its first invocation (tests start anew with cache_clear)."""
    return PolicySource(Settings.from_env(HERE, logger), logger, metrics)


def lambda_handler(event: Any, context: Any) -> dict[str, str]:
    """Answer SES; never raises."""
    try:
        handle = _handle if context is None else _handle_in_context
        return handle(event, context)
    except Exception:  # last resort: SES must get a valid answer
        with contextlib.suppress(Exception):
            logger.exception("handler failed, ON_ERROR answered")
        return {"disposition": _last_resort()}


def _handle(event: Any, context: Any) -> dict[str, str]:
    source = policy_source()
    telemetry.correlate(logger, event)
    outcome = _decide(event, source)
    try:
        telemetry.log_decision(logger, outcome, source.settings.log_addresses)
        telemetry.publish(metrics, SERVICE, outcome.decision)
    except Exception:
        logger.exception("could not report the decision")
    queue_actions(_queue, event, outcome.decision, outcome.policy, logger, metrics, SERVICE)
    disposition = outcome.decision.disposition
    return {"disposition": disposition if disposition in DISPOSITIONS else source.settings.on_error}


# Inside lambda_handler's guard: whatever the tracer does, SES gets an answer.
_handle_in_context = tracing.capture(tracer, logger.inject_lambda_context(clear_state=True)(_handle))


def _decide(event: Any, source: PolicySource) -> telemetry.Outcome:
    """The decision, how long it took, and the level to log it at."""
    policy = source.current()
    if policy is None:
        metrics.add_metric(name="PolicyUnavailable", unit=MetricUnit.Count, value=1)
        return telemetry.Outcome(Decision.fallback(source.settings.on_error, "no policy loaded", event), None,
                                 level="error")
    explain = random.random() < source.settings.trace_rate
    started = time.perf_counter()
    try:
        decision = policy.evaluate(event, explain=explain)
    except Exception as exc:  # evaluate() must not raise; if it does, the policy's on_error answers
        logger.exception("evaluation failed")
        decision = Decision.fallback(policy.on_error, f"evaluation failed: {exc}", event, policy.name, policy.revision)
        return telemetry.Outcome(decision, source.describe(), level="error")
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    return telemetry.Outcome(decision, source.describe(), elapsed, "warning" if decision.errors else "info")


def _last_resort() -> str:
    try:
        return policy_source().settings.on_error
    except Exception:  # the settings themselves failed
        return "CONTINUE"


def replay_handler(event: Any, context: Any) -> dict[str, Any]:
    """The Distributed Map worker of examples/sam/replay.yaml: a batch of archived mail, two policies."""
    from engine.aws.replay import run_batch   # only the replay function pays for it
    return run_batch(event)


@functools.cache
def action_function() -> Any:
    """The action function's runner, made at its first invocation (tests start anew with cache_clear)."""
    from engine.aws.actionfunction import ActionFunction   # the deciding function never imports it
    return ActionFunction(os.environ, logger, metrics, SERVICE)


def action_handler(event: Any, context: Any) -> dict[str, Any]:
    """The action function (SQS, partial batch responses): runs the actions lambda_handler queued."""
    return action_function().handle(event, context)


action_handler = tracing.capture(tracer, action_handler)   # a `## action_handler` subsegment when tracing
