"""`ses-rules serve` as a subprocess on 127.0.0.1, and a recording SMTP server to relay to.

Every wait is bounded: the server's start, each row, its stop. The server listens on port 0
(a free port the kernel picks) and says which in its `listening on` line.
"""
from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("ses-rules")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "engine"]
START_TIMEOUT = 30
ROW_TIMEOUT = 60
STOP_TIMEOUT = 20
_LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


def _pump(stream: Any, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


@dataclass
class Served:
    """A running `serve`: its port, its rows (JSON lines or text) and what it said on stderr."""

    process: subprocess.Popen
    port: int = 0
    stdout: queue.Queue = field(default_factory=queue.Queue)
    stderr: queue.Queue = field(default_factory=queue.Queue)
    said: list[str] = field(default_factory=list)

    def _next(self, lines: queue.Queue, timeout: float, waiting_for: str) -> str:
        """The next line of ``lines``; a clear failure when none comes in time or the server ended."""
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {waiting_for} within {timeout} s; stderr: {''.join(self.said)}") from None
        if line is None:
            rest = self.drain_stderr() if lines is self.stdout else []
            raise AssertionError(f"serve ended before {waiting_for}; stderr: {''.join(self.said + rest)}")
        return line

    def line(self, timeout: float = ROW_TIMEOUT) -> str:
        return self._next(self.stdout, timeout, "a row")

    def row(self, timeout: float = ROW_TIMEOUT) -> dict[str, Any]:
        return json.loads(self.line(timeout))

    def wait_said(self, pattern: str, timeout: float = ROW_TIMEOUT) -> str:
        """The next stderr line matching ``pattern`` (lines before it are kept in ``said``)."""
        wanted = re.compile(pattern)
        while True:
            line = self._next(self.stderr, timeout, f"saying {pattern!r}")
            self.said.append(line)
            if wanted.search(line):
                return line

    def drain_stderr(self) -> list[str]:
        lines = []
        while True:
            try:
                line = self.stderr.get(timeout=STOP_TIMEOUT)
            except queue.Empty:
                return lines
            if line is None:
                return lines
            lines.append(line)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Send ``sig`` (to the process group: `make serve` included); the exit code, the rest of
        stdout and all of stderr."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        code = self.process.wait(timeout=STOP_TIMEOUT)
        rest = []
        while (line := self.stdout.get(timeout=STOP_TIMEOUT)) is not None:
            rest.append(line)
        return code, "".join(rest), "".join(self.said + self.drain_stderr())


@contextmanager
def served(policy: Path | str, *args: str, env: dict[str, str] | None = None, json_rows: bool = True,
           argv: list[str] | None = None) -> Iterator[Served]:
    """`ses-rules serve POLICY --listen 127.0.0.1:0 [--format json] ARGS` (or ``argv``), stopped at the end."""
    argv = argv or [*COMMAND, "serve", str(policy), "--listen", "127.0.0.1:0",
                    *(["--format", "json"] if json_rows else []), *args]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               encoding="utf-8", env=environment, start_new_session=True)
    server = Served(process)
    for stream, lines in ((process.stdout, server.stdout), (process.stderr, server.stderr)):
        threading.Thread(target=_pump, args=(stream, lines), daemon=True).start()
    try:
        server.port = int(_LISTENING.search(server.wait_said("listening on", START_TIMEOUT)).group(1))
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    content: bytes


class _Recorder:
    def __init__(self, messages: list[Received]) -> None:
        self.messages = messages

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), list(envelope.mail_options),
                                      envelope.original_content))
        return "250 Ok recorded"


@contextmanager
def relay_target() -> Iterator[tuple[int, list[Received]]]:
    """A second SMTP server (aiosmtpd, 127.0.0.1, a free port) recording every message it gets."""
    messages: list[Received] = []
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        holder["server"] = await loop.create_server(
            lambda: SMTP(_Recorder(messages), enable_SMTPUTF8=True, hostname="relay.test"), "127.0.0.1", 0)
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert started.wait(START_TIMEOUT), "relay target did not start"
    try:
        yield holder["server"].sockets[0].getsockname()[1], messages
    finally:
        loop.call_soon_threadsafe(holder["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT)
