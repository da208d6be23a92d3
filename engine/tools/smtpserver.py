"""The SMTP side of `ses-rules serve`: aiosmtpd on an asyncio loop, answering as SES answers.

aiosmtpd's defaults refuse mail SES takes, so: messages up to SES's 40 MB (its default is
32 MiB), lines of any length within that (its default is SMTP's 1,000 octets; real mail has
longer header lines), SMTPUTF8 and 8BITMIME offered, and every message that arrives whole is
answered 250 whatever the policy decides (a bug in deciding is reported, never a refusal).

Each message is decided on one worker thread, in arrival order, so rows never interleave and a
slow relay never stalls the protocol; the policy is reloaded on the same thread (`--watch`), so
a message is decided wholly by one revision. SIGINT and SIGTERM close the listener and the open
connections, let the message being decided finish, and return.
"""
from __future__ import annotations

import asyncio
import signal
import sys
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP

from engine.actions.forwarding import MAX_MESSAGE_BYTES
from engine.mail.sesblock import SYNTHETIC_HOST
from engine.tools.policywatch import PolicyFile
from engine.tools.serving import Envelope, Receiver

IDENT = "ses-rules serve (aiosmtpd)"
WATCH_INTERVAL = 0.5      # seconds between looks at the policy file
CLOSE_TIMEOUT = 5         # seconds to wait for the listener and connections to close


class SesSMTP(SMTP):
    """aiosmtpd's protocol with SES's limits: no line limit beyond the message size."""

    line_length_limit = MAX_MESSAGE_BYTES


@dataclass
class Server:
    """What one `serve` process runs: where it listens, who decides, what it prints."""

    host: str
    port: int
    receiver: Receiver
    policy: PolicyFile
    write: Callable[[dict[str, Any], str | None], None]      # prints one row
    watch: bool = False
    say: Callable[[str], None] = lambda text: print(f"ses-rules serve: {text}", file=sys.stderr, flush=True)


class Handler:
    """aiosmtpd's handler: every complete message is decided, then accepted."""

    def __init__(self, server: Server, worker: ThreadPoolExecutor) -> None:
        self.server, self.worker = server, worker
        self.received = 0

    async def handle_DATA(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        sender = envelope.mail_from or ""
        message = Envelope(mail_from="" if sender == "<>" else sender, rcpt_tos=tuple(envelope.rcpt_tos),
                           helo=session.host_name or "unknown", peer=tuple(session.peer[:2]))
        loop = asyncio.get_running_loop()
        try:
            message_id = await loop.run_in_executor(self.worker, self.decide, message, envelope.original_content)
        except Exception as exc:  # noqa: BLE001 - SES accepts the message whatever happens after
            self.server.say(f"internal error deciding a message from {message.mail_from!r}: "
                            f"{type(exc).__name__}: {exc}")
            return "250 Ok"
        return f"250 Ok {message_id}"

    def decide(self, envelope: Envelope, data: bytes) -> str:
        row, subject = self.server.receiver.receive(envelope, data)
        self.received += 1
        self.server.write(row, subject)
        return row["input"]


async def run(server: Server) -> int:
    """Listen until SIGINT or SIGTERM; 0 then."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serve")
    handler = Handler(server, worker)
    sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def protocol() -> SMTP:
        smtp = SesSMTP(handler, data_size_limit=MAX_MESSAGE_BYTES, enable_SMTPUTF8=True,
                       hostname=SYNTHETIC_HOST, ident=IDENT)
        sessions.add(smtp)
        return smtp
    listener = await loop.create_server(protocol, host=server.host, port=server.port)
    for sock in listener.sockets:
        host, port = sock.getsockname()[:2]
        server.say(f"listening on {f'[{host}]' if ':' in host else host}:{port}")
    watcher = loop.create_task(_watch(server, worker)) if server.watch else None
    await stop.wait()
    if watcher:
        watcher.cancel()
    listener.close()
    for smtp in list(sessions):
        if smtp.transport is not None:
            smtp.transport.close()
    try:
        await asyncio.wait_for(listener.wait_closed(), CLOSE_TIMEOUT)
    except asyncio.TimeoutError:
        pass
    await loop.run_in_executor(None, worker.shutdown)
    server.say(f"stopped after {handler.received} message{'s' if handler.received != 1 else ''}")
    return 0


async def _watch(server: Server, worker: ThreadPoolExecutor) -> None:
    """Reload the policy on the deciding thread whenever its file changes."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(WATCH_INTERVAL)
        if server.policy.changed():
            server.say(await loop.run_in_executor(worker, server.policy.reload))
