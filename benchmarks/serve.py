"""Benchmark 9, serve: messages a second through `ses-rules serve` from one smtplib client.

`serve` runs as a user runs it (a subprocess on 127.0.0.1, the shipped default policy, JSON
rows to a pipe), once without and once with a Maildir for the CONTINUE mail; one `smtplib`
connection sends the corpus messages (`../shared/corpus/eml`, line endings made CRLF, each with
the envelope `dry-run` gives it) over and over, each answered 250 only once it is decided (and
delivered) and its row written. Without the corpus, generated messages are sent instead, and
the measure says so.

The baseline, in this process and on the same messages, is what `dry-run` does for each
(`from_message` + `dry_row`); the ratio says what SMTP and the process boundary add on top of
deciding.
"""
from __future__ import annotations

import smtplib
import tempfile
import time
from pathlib import Path

from engine import load_policy
from engine.mail.sesevent import message_event
from engine.replay.rows import dry_row, from_message
from tests.s3server import ses_message
from tests.serve_harness import served

from .report import Row
from .timing import median

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "default.yaml"
CORPUS = ROOT.parent / "shared" / "corpus" / "eml"
MESSAGES, QUICK_MESSAGES = 1000, 50
ROUNDS = 3
GENERATED = 200

Message = tuple[str, list[str], bytes]


def messages() -> tuple[list[Message], str]:
    """(MAIL FROM, RCPT TOs, data) to send, and where they come from."""
    files = sorted(CORPUS.glob("*.eml")) if CORPUS.is_dir() else []
    raw = [f.read_bytes() for f in files] or [ses_message(n) for n in range(GENERATED)]
    found = []
    for data in raw:
        ses = message_event(data).event["Records"][0]["ses"]
        crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        found.append((ses["mail"]["source"], ses["receipt"]["recipients"], crlf))
    return found, (f"the {len(files)} corpus messages" if files else f"{GENERATED} generated messages (no corpus)")


def _send(port: int, batch: list[Message], count: int) -> float:
    """Seconds to send ``count`` messages on one connection, cycling through ``batch``."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo()
        started = time.perf_counter()
        for n in range(count):
            sender, recipients, data = batch[n % len(batch)]
            options = ([] if (sender + "".join(recipients)).isascii() else ["SMTPUTF8"]) + \
                      ([] if data.isascii() else ["BODY=8BITMIME"])
            smtp.sendmail(sender, recipients, data, mail_options=options)
        return time.perf_counter() - started


def _baseline(batch: list[Message], count: int) -> float:
    """Seconds for `dry-run`'s own work on the same ``count`` messages, in this process."""
    policy = load_policy(POLICY)
    started = time.perf_counter()
    for n in range(count):
        dry_row(from_message("m", batch[n % len(batch)][2]), policy)
    return time.perf_counter() - started


def _rounds(batch: list[Message], count: int, rounds: int, *args: str) -> list[float]:
    """Seconds per round through one `serve` process started with ``args``."""
    with served(POLICY, *args) as server:
        _send(server.port, batch[:5], 5)                            # warm: imports, first writes
        seconds = [_send(server.port, batch, count) for _ in range(rounds)]
        code, _, said = server.stop()
    if code != 0:
        raise RuntimeError(f"serve did not stop cleanly ({code}): {said}")
    return seconds


def run(quick: bool = False) -> tuple[list[Row], dict]:
    count = QUICK_MESSAGES if quick else MESSAGES
    rounds = 1 if quick else ROUNDS
    batch, source = messages()
    base = [_baseline(batch, count) for _ in range(rounds)]
    plain = _rounds(batch, count, rounds)
    with tempfile.TemporaryDirectory() as folder:
        delivering = _rounds(batch, count, rounds, "--maildir", str(Path(folder, "md")))
    overhead = median(plain) / median(base)
    rows = [
        Row("9 serve", f"messages a second through serve, one smtplib connection, {source}",
            count / median(plain), "msg/s", note="each decided and its row written before its 250"),
        Row("9 serve", "the same with --maildir (CONTINUE mail delivered)", count / median(delivering), "msg/s",
            note="mailbox.Maildir syncs each delivered file to disk"),
        Row("9 serve", "serve's time per message over dry-run's work on the same messages in process", overhead, "x",
            note="what SMTP and the process boundary add (medians)"),
    ]
    return rows, {"messages": count, "rounds": rounds, "source": source, "serve_seconds": plain,
                  "maildir_seconds": delivering, "baseline_seconds": base}
