"""What `ses-rules serve` does with one message received over SMTP, away from the SMTP protocol.

The message becomes the event SES would send (`engine.mail.sesevent.message_event` with the
session as its `Arrival`: envelope MAIL FROM as `mail.source`, every RCPT TO a recipient, the
synthetic SES block on top, verdicts PASS and assumed unless `--verdict` set them), is decided
into the same row `dry-run` prints (`engine.replay.rows.dry_row`) plus `smtp`, has its planned
actions run by the real runners against the local backend, and, when `CONTINUE` and a Maildir
was given, is delivered there as SES's S3 action would store it (the synthetic block on top).
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from engine.actions.backend import RunContext, Setup
from engine.actions.execute import JobFailed, Outcome, run_job
from engine.actions.job import Job
from engine.mail.sesblock import synthetic_block
from engine.mail.sesevent import Arrival, message_event
from engine.policy import Policy
from engine.replay.rows import Input, dry_row
from engine.tools.localbackend import LocalBackend, deliver
from engine.tools.render import PLACEHOLDER_FROM

PLACEHOLDER_BOUNCE_SENDER = "bounce-sender@unset.invalid"
LOCAL_BUCKET = "local"          # MAIL_BUCKET unset: the name a store without `bucket` reports


@dataclass(frozen=True)
class Envelope:
    """One SMTP transaction: what the client said around the message."""

    mail_from: str                   # "" for the null sender (MAIL FROM:<>)
    rcpt_tos: tuple[str, ...]
    helo: str
    peer: tuple[str, int]            # (IP, port) of the client

    def to_dict(self) -> dict[str, Any]:
        host, port = self.peer[:2]
        return {"mail_from": self.mail_from, "rcpt_tos": list(self.rcpt_tos),
                "peer": f"[{host}]:{port}" if ":" in host else f"{host}:{port}"}


def local_setup(environ: Mapping[str, str]) -> Setup:
    """The action settings from the environment, with placeholders where only AWS would need a value."""
    setup = Setup.from_env(environ)
    return replace(setup, forward_from=setup.forward_from or PLACEHOLDER_FROM,
                   bounce_sender=setup.bounce_sender or PLACEHOLDER_BOUNCE_SENDER,
                   mail_bucket=setup.mail_bucket or LOCAL_BUCKET)


def new_message_id() -> str:
    """40 lowercase characters like SES's ids; time first, so stored copies sort by arrival."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(14)}"


class Receiver:
    """Decides each message with the current policy and does locally what SES and the actions would."""

    def __init__(self, policy: Callable[[], Policy], verdicts: Mapping[str, str], backend: LocalBackend,
                 setup: Setup, maildir: Path | None) -> None:
        self.policy, self.verdicts, self.backend = policy, dict(verdicts), backend
        self.setup, self.maildir = setup, maildir

    def receive(self, envelope: Envelope, data: bytes) -> tuple[dict[str, Any], str | None]:
        """The row for one message (and its decoded subject), its actions run and the message
        delivered as its decision says."""
        now = datetime.now(timezone.utc)
        arrival = Arrival(helo=envelope.helo, peer=f"unknown [{envelope.peer[0]}]", message_id=new_message_id(),
                          date=format_datetime(now))
        stored = stored_message(envelope, arrival, data)
        item = self._input(envelope, arrival, data, stored)
        policy = self.policy()
        row = {**dry_row(item, policy), "smtp": envelope.to_dict()}
        row.pop("unreadable", None)
        if row.get("actions") and item.event is not None:
            row["outcomes"] = self._run_actions(item, row, policy, stored, now)
        if self.maildir is not None and row["disposition"] == "CONTINUE":
            row["delivered"] = str(deliver(self.maildir, stored))
        return row, _subject(item.event)

    def _input(self, envelope: Envelope, arrival: Arrival, data: bytes, stored: bytes) -> Input:
        fields = {**self.verdicts, "sender": envelope.mail_from, "recipient": list(envelope.rcpt_tos)}
        try:
            made = message_event(data, fields, arrival)
        except ValueError as exc:
            return Input(arrival.message_id, None, str(exc))
        return Input(arrival.message_id, made.event, assumed=made.assumed, raw=stored)

    def _run_actions(self, item: Input, row: dict[str, Any], policy: Policy, stored: bytes,
                     now: datetime) -> list[dict[str, Any]]:
        """The planned actions through the runners (`engine.actions.execute`), one outcome each."""
        assert item.event is not None
        job = Job(item.event["Records"][0], {"name": policy.name, "revision": policy.revision},
                  {"disposition": row["disposition"], "rule": row["rule"]}, row["actions"])
        context = RunContext(backend=self.backend, setup=self.setup, load_raw=lambda: stored, now=lambda: now)
        outcomes: list[dict[str, Any]] = []

        def report(outcome: Outcome) -> None:
            entry = {"type": outcome.action["type"], "rule": outcome.action["rule"], "outcome": outcome.outcome}
            outcomes.append({**entry, **({"detail": outcome.detail} if outcome.detail else {}),
                             "effects": self.backend.drain()})
        self.backend.drain()
        try:
            run_job(job, context, lambda key, call: call(), report)
        except JobFailed:           # each failure is in its outcome; locally nothing is retried
            pass
        return outcomes


def _subject(event: dict[str, Any] | None) -> str | None:
    if event is None:
        return None
    subject = event["Records"][0]["ses"]["mail"]["commonHeaders"].get("subject")
    return subject if isinstance(subject, str) else None


def stored_message(envelope: Envelope, arrival: Arrival, data: bytes) -> bytes:
    """The message as SES's S3 action stores it: the receiving block on top of the bytes received."""
    block = synthetic_block(helo=arrival.helo, peer=arrival.peer, message_id=arrival.message_id,
                            mail_from=envelope.mail_from, rcpt=next(iter(envelope.rcpt_tos), None),
                            date=arrival.date)
    end = data.find(b"\n")
    eol = b"\n" if end >= 0 and data[end - 1:end] != b"\r" else b"\r\n"      # the message's own line ending
    return b"".join(f"{name}: {value}".encode() + eol for name, value in block) + data
