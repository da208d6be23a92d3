"""Distinct events: copies of the benchmark events, each with addresses of its own.

In Lambda every invocation is new mail, so a figure measured by replaying the same
events would let any cache keyed by an address string (a parse, a folded local part)
answer from memory. Copy `n` of an event has every ASCII local part in it rewritten
to `<local>-b<n>` (envelope, header values, commonHeaders, recipients alike, so an
address in a display name and the angle address beside it stay equal or unequal as
they were); domains stay, as real mail comes from a recurring set of domains. One
copy in ten (copy 5, 15, ...) is sent by `blocked-<k>@bulk-mailer.example`, a sender of the blocked list
`blocked_senders()` writes, so the blocked-sender rule decides some of them.

Each timed sample gets a batch of copies no earlier sample has seen (`Batches`).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# An ASCII dot-atom local part directly before "@"; a quoted or non-ASCII one stays as it is.
_LOCAL = re.compile(r"(?<![A-Za-z0-9!#$%&'*+/=?^_`{|}~.-])([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+)@")
BLOCKED_DOMAIN = "bulk-mailer.example"
BLOCKED_EVERY = 10              # one copy in ten comes from a blocked sender
BLOCKED_ENTRIES = 20_000        # the list's size: a blocked address recurs after 200,000 copies


def blocked_sender(k: int) -> str:
    return f"blocked-{k % BLOCKED_ENTRIES}@{BLOCKED_DOMAIN}"


def blocked_senders() -> list[str]:
    """The blocked-sender list the distinct events draw from (a list file's lines)."""
    return [blocked_sender(k) for k in range(BLOCKED_ENTRIES)]


def copy_event(template: str, n: int) -> dict[str, Any]:
    """Copy `n` of an event given as its JSON text."""
    event = json.loads(_LOCAL.sub(lambda m: f"{m.group(1)}-b{n}@", template))
    if n % BLOCKED_EVERY == BLOCKED_EVERY // 2:
        _set_sender(event, blocked_sender(n // BLOCKED_EVERY))
    return event


def _set_sender(event: dict[str, Any], sender: str) -> None:
    for record in event.get("Records") or ():
        mail = record.get("ses", {}).get("mail") if isinstance(record, dict) else None
        if isinstance(mail, dict) and "source" in mail:
            mail["source"] = sender


@dataclass
class Batches:
    """Batches of distinct copies of `events`: every call to `next()` gives copies no call gave before."""

    events: list[dict[str, Any]]
    copies: int                  # copies of each event per batch
    _next: int = 0

    def __post_init__(self) -> None:
        self._templates = [json.dumps(e, ensure_ascii=False) for e in self.events]

    @property
    def size(self) -> int:
        return len(self._templates) * self.copies

    def next(self) -> list[dict[str, Any]]:
        start, self._next = self._next, self._next + self.copies
        return [copy_event(t, n) for n in range(start, start + self.copies) for t in self._templates]

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        while True:
            yield self.next()
