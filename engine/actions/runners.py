"""The four runners: each takes one resolved action of a job and answers its outcome.

An outcome is `done` or `skipped: REASON`; a failure raises (ActionFailed, MissingSetting,
or whatever the backend raised), which fails the job's queued message so it is retried.
Every side effect goes through `ctx.once(chunk, call)`: the action function wraps it in
Powertools Idempotency, so a retried message does not repeat what completed.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from engine.actions.backend import ActionFailed, BounceRequest, RunContext
from engine.actions.job import Job

BOUNCE_WINDOW = timedelta(hours=24)     # SES refuses to bounce older mail


def forward(action: dict[str, Any], job: Job, ctx: RunContext) -> str:
    # Imported here: the stdlib email parser and folder cost the deciding function's cold start,
    # which loads this module (through the registry) but never forwards.
    from engine.actions.forwarding import Forward, Loop, TooLarge, chunks, rewrite

    setup = ctx.setup
    identity = action.get("from") or setup.need("FORWARD_FROM", setup.forward_from, "a forward without `from`")
    headers = list((action.get("headers") or {}).items())
    spec = Forward(identity, action.get("recipients", []), action.get("subject_prefix"), headers)
    try:
        message = rewrite(ctx.raw(), spec, envelope_sender=str(job.mail.get("source") or ""))
    except Loop:
        return "skipped: loop"
    except TooLarge:
        raise ActionFailed("too large") from None
    for number, destinations in enumerate(chunks(action["to"])):
        ctx.once(number, lambda d=destinations: ctx.backend.send_raw(identity, d, message))
    return "done"


def bounce_guard(job: Job, now: datetime) -> str | None:
    """Why a bounce must not be sent (it goes to the envelope sender, which may be forged), or None."""
    source = job.mail.get("source")
    if not isinstance(source, str) or source.strip() in ("", "<>"):
        return "no envelope sender"
    verdicts = {name: _status(job.receipt, f"{name}Verdict") for name in ("spf", "spam", "virus")}
    if verdicts["spf"] != "PASS":
        return f"spf {verdicts['spf'] or 'missing'}"
    for name in ("virus", "spam"):
        if verdicts[name] == "FAIL":
            return f"{name} FAIL"
    received = _timestamp(job.receipt.get("timestamp") or job.mail.get("timestamp"))
    if received is None:
        return "no receipt time"
    if now - received > BOUNCE_WINDOW:
        return "older than 24 h"
    return None


def bounce(action: dict[str, Any], job: Job, ctx: RunContext) -> str:
    reason = bounce_guard(job, ctx.now())
    if reason:
        return f"skipped: {reason}"
    setup = ctx.setup
    sender = action.get("sender") or setup.need("BOUNCE_SENDER", setup.bounce_sender, "a bounce without `sender`")
    request = BounceRequest(job.message_id, sender, tuple(action["recipients"]), action["status"], action["message"])
    ctx.once(0, lambda: ctx.backend.send_bounce(request))
    return "done"


def store(action: dict[str, Any], job: Job, ctx: RunContext) -> str:
    setup = ctx.setup
    bucket = action.get("bucket") or setup.need("MAIL_BUCKET", setup.mail_bucket, "a store without `bucket`")
    metadata = {"policy": _header_safe(job.policy.get("name")), "revision": _header_safe(job.policy.get("revision")),
                "rule": _header_safe(action["rule"])}
    key = action["prefix"] + job.message_id
    ctx.once(0, lambda: ctx.backend.put_object(bucket, key, ctx.raw(), metadata, action.get("kms_key")))
    return "done"


def notify(action: dict[str, Any], job: Job, ctx: RunContext) -> str:
    ctx.once(0, lambda: ctx.backend.publish(action["topic"], json.dumps(summary(action, job, ctx))))
    return "done"


def summary(action: dict[str, Any], job: Job, ctx: RunContext) -> dict[str, Any]:
    """The notification's JSON (docs/policy-language.md, "Actions"), addresses as LOG_ADDRESSES says."""
    mail, headers = job.mail, job.mail.get("commonHeaders") or {}
    setup = ctx.setup
    return {
        "messageId": job.message_id, "timestamp": mail.get("timestamp"),
        "source": ctx.mask(mail.get("source")), "from": ctx.mask(headers.get("from")),
        "subject": headers.get("subject"), "recipients": ctx.mask(job.receipt.get("recipients")),
        "disposition": job.decision.get("disposition"), "rule": job.decision.get("rule"),
        "action_rule": action["rule"], "policy": job.policy.get("name"), "revision": job.policy.get("revision"),
        "s3": {"bucket": setup.mail_bucket or None, "key": setup.mail_prefix + job.message_id},
    }


def _status(receipt: dict[str, Any], key: str) -> str | None:
    verdict = receipt.get(key)
    status = verdict.get("status") if isinstance(verdict, dict) else None
    return status.upper() if isinstance(status, str) else None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _header_safe(value: Any) -> str:
    """S3 user metadata travels as HTTP headers: ASCII only."""
    text = "" if value is None else str(value)
    return text if text.isascii() and text.isprintable() else quote(text, safe="")
