"""The runners' backend for `ses-rules serve`: actions done on this machine, each one recorded.

The runners (`engine.actions.runners`) call it exactly as they call the AWS one:

- ``send_raw`` (forward) relays the rewritten message by SMTP to ``--relay``, else writes it,
  byte for byte, to the `Forwarded` folder (Maildir++) of the actions folder;
- ``put_object`` (store) writes ``FOLDER/store/KEY``, every segment of the key made a safe
  file name (no `..`, no separator, no control character) and the result checked to stay inside;
- ``send_bounce`` and ``publish`` (bounce, notify) only record the SES / SNS call they would make.

Each call appends an effect (a JSON object saying what was done) that `serve` takes with
``drain()`` after every action and prints with the action's outcome.
"""
from __future__ import annotations

import json
import mailbox
import os
import smtplib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.actions.backend import ActionFailed, BounceRequest
from engine.tools.render import safe_name

RELAY_TIMEOUT = 30           # seconds for each step of one relay connection
FORWARDED = "Forwarded"      # the Maildir++ folder forwards go to without --relay
STORE = "store"

Address = tuple[str, int]


def open_maildir(path: Path) -> mailbox.Maildir:
    """The Maildir at ``path``, created (with its `tmp`, `new`, `cur`) when missing."""
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(str(path), factory=None, create=False)


def deliver(folder: Path, message: bytes) -> Path:
    """Write ``message`` unchanged (bytes as given, line endings kept) into the Maildir's `new`."""
    return folder / "new" / open_maildir(folder).add(message)


def store_path(root: Path, key: str) -> Path:
    """Where an object key is stored under ``root``: each `/` segment a safe name, never outside."""
    parts = [safe_name(part) for part in key.split("/") if part not in ("", ".")]
    path = root.joinpath(*parts) if parts else root / "object"
    resolved, base = path.resolve(), root.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise ActionFailed(f"store key {key!r} does not name a file inside {root}")
    return path


def relay(address: Address, sender: str, recipients: list[str], message: bytes) -> None:
    """Send ``message`` as-is to ``recipients`` through the SMTP server at ``address``."""
    host, port = address
    with smtplib.SMTP(host, port, timeout=RELAY_TIMEOUT) as client:
        client.ehlo_or_helo_if_needed()
        options = []
        if not (sender + "".join(recipients)).isascii() and client.has_extn("smtputf8"):
            options.append("SMTPUTF8")
        if not message.isascii() and client.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        refused = client.sendmail(sender, recipients, message, mail_options=options)
    if refused:
        raise ActionFailed("relay refused " + ", ".join(f"{r} ({code})" for r, (code, _) in refused.items()))


class LocalBackend:
    """`Backend` for one `serve` process: ``folder`` holds what actions write, ``relay`` where forwards go."""

    def __init__(self, folder: Path, relay_to: Address | None = None) -> None:
        self.folder, self.relay_to = folder, relay_to
        self.effects: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        """The effects recorded since the last call."""
        effects, self.effects = self.effects, []
        return effects

    def send_raw(self, identity: str, destinations: list[str], message: bytes) -> str:
        envelope = {"mail_from": identity, "rcpt_tos": list(destinations), "bytes": len(message)}
        if self.relay_to is not None:
            relay(self.relay_to, identity, destinations, message)
            self.effects.append({"effect": "relayed", "to": "%s:%d" % self.relay_to, **envelope})
            return "relayed"
        forwarded = self.folder / f".{FORWARDED}"
        path = deliver(forwarded, message)
        (forwarded / "maildirfolder").touch()           # Maildir++: a subfolder of the actions folder
        self.effects.append({"effect": "written", "file": str(path), **envelope})
        return path.name

    def send_bounce(self, request: BounceRequest) -> str:
        self.effects.append({"effect": "not sent", "call": "SES SendBounce", "request": request.parameters()})
        return "not sent"

    def put_object(self, bucket: str, key: str, body: bytes, metadata: Mapping[str, str],
                   kms_key: str | None) -> None:
        path = store_path(self.folder / STORE, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
        temporary.write_bytes(body)
        temporary.replace(path)                                       # never a half-written copy
        effect = {"effect": "written", "file": str(path), "bucket": bucket, "key": key, "metadata": dict(metadata)}
        self.effects.append({**effect, **({"kms_key": kms_key} if kms_key else {})})

    def publish(self, topic: str, message: str) -> None:
        self.effects.append({"effect": "not sent", "call": "SNS Publish", "topic": topic,
                             "message": json.loads(message)})
