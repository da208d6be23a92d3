"""Running one job's actions: allow-lists first, then each runner, one outcome per action.

Every action is attempted even when an earlier one failed (what completed is
recorded by idempotency and not repeated); the job fails when any action
failed, so its queued message is retried and, in the end, dead-lettered.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.actions.backend import ActionFailed, MissingSetting, RunContext
from engine.actions.job import Job
from engine.actions.registry import ACTION_TYPES, Action


@dataclass(frozen=True)
class Outcome:
    action: Action
    outcome: str           # done | skipped: REASON | failed: REASON
    detail: str = ""       # for the log line: which allow-list refused, say

    @property
    def failed(self) -> bool:
        return self.outcome.startswith("failed")


class JobFailed(Exception):
    """At least one action failed; the queued message must be retried."""

    def __init__(self, outcomes: list[Outcome]):
        failed = [f"{o.action.get('type')} ({o.action.get('rule')}): {o.outcome}" for o in outcomes if o.failed]
        super().__init__("; ".join(failed))
        self.outcomes = outcomes


def action_hash(action: Action) -> str:
    """The action's type and canonical resolved arguments (rule and recipients are keyed apart)."""
    arguments = {k: v for k, v in action.items() if k not in ("rule", "recipients")}
    return hashlib.sha256(json.dumps(arguments, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def idempotency_key(job: Job, action: Action, chunk: int) -> dict[str, Any]:
    """What makes one side effect unique: message id, rule, action hash, recipients acted for, chunk."""
    return {"message_id": job.message_id, "rule": action["rule"], "action": action_hash(action),
            "recipients": sorted(action.get("recipients") or []), "chunk": chunk}


def run_job(job: Job, ctx: RunContext, once: Callable[[dict[str, Any], Callable[[], Any]], Any],
            report: Callable[[Outcome], None]) -> list[Outcome]:
    """Run every action of `job`; `once(key, call)` makes a side effect idempotent."""
    outcomes = []
    for action in job.actions:
        ctx.once = lambda chunk, call, a=action: once(idempotency_key(job, a, chunk), call)
        result = run_action(action, job, ctx)
        report(result)
        outcomes.append(result)
    if any(o.failed for o in outcomes):
        raise JobFailed(outcomes)
    return outcomes


def run_action(action: Action, job: Job, ctx: RunContext) -> Outcome:
    kind = ACTION_TYPES.get(action["type"])
    if kind is None:
        return Outcome(action, f"failed: unknown action type {action['type']!r}")
    try:
        refused = ctx.setup.reach.refusals(kind.reaches(action))
        if refused:
            return Outcome(action, "skipped: not allowed", "; ".join(refused))
        return Outcome(action, kind.run(action, job, ctx))
    except (ActionFailed, MissingSetting) as exc:
        return Outcome(action, f"failed: {exc}")
    except Exception as exc:  # noqa: BLE001 - any backend error fails this action, not the batch
        return Outcome(action, f"failed: {_describe(exc)}")


def _describe(exc: Exception) -> str:
    """botocore's ClientError carries the service's code and message; others their type."""
    error = getattr(exc, "response", {}).get("Error", {}) if hasattr(exc, "response") else {}
    if error.get("Code"):
        return f"{error['Code']}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"
