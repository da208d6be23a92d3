"""benchmarks/policies/operator.yaml written by hand, the way operators write such a filter.

The baseline an operator would write: dictionary lookups, `.lower()`, `in` on sets, the
address of a header string taken with a simple `<...>` regex, `endswith` for
domains. No address parser, no Unicode normal forms, no cache. It is what the
engine replaces, so it is the figure the engine's speed is judged against; it is
also wrong on mail a parser reads differently (`"a@x" <b@y>, c@z`), which the
benchmark's events do not contain (it checks both decide alike first).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ANGLE = re.compile(r"<([^<>]*)>")
TICKET = re.compile(r"\[(CASE|TICKET)-[0-9]+\]|^(Re|Fwd?): ", re.IGNORECASE)
PARTNERS = frozenset({"acme.example", "globex.example", "example.com", "amazon.com", "winehq.com", "lindsaar.net"})
PARTNER_SUFFIXES = tuple("." + d for d in PARTNERS)
BULK = frozenset({"bulk", "list", "junk"})
ALERT_PREFIXES = ("alarm:", "ok:")
STOP_SET, STOP, CONTINUE = "STOP_RULE_SET", "STOP_RULE", "CONTINUE"


def address(raw: str) -> str:
    """The address of one header string: what is between `<` and `>`, or the whole string."""
    match = ANGLE.search(raw)
    return (match.group(1) if match else raw).strip().lower()


def is_partner(domain: str) -> bool:
    return domain in PARTNERS or domain.endswith(PARTNER_SUFFIXES)


def status(receipt: dict, verdict: str) -> str | None:
    value = receipt.get(verdict)
    return value.get("status") if isinstance(value, dict) else None


class SimpleFilter:
    """The hand-written function, with its blocked list read once (as a Lambda reads it at import)."""

    def __init__(self, blocked_file: Path):
        self.blocked = frozenset(line.strip().lower() for line in blocked_file.read_text().splitlines()
                                 if line.strip() and not line.startswith("#"))

    def decide(self, event: Any) -> tuple[str, str | None, list[str]]:
        """(disposition, deciding rule, shadow matches) for a Lambda SES event; fails open."""
        try:
            ses = event["Records"][0]["ses"]
            mail, receipt = ses["mail"], ses["receipt"]
        except (KeyError, IndexError, TypeError):
            return CONTINUE, None, []
        if not isinstance(mail, dict) or not isinstance(receipt, dict):
            return CONTINUE, None, []
        shadow: list[str] = []
        if status(receipt, "virusVerdict") == "FAIL":
            return STOP_SET, "drop-virus", shadow
        if status(receipt, "spamVerdict") == "FAIL":
            return STOP_SET, "drop-spam", shadow
        dmarc = status(receipt, "dmarcVerdict")
        if dmarc == "FAIL" and receipt.get("dmarcPolicy") == "reject":
            return STOP_SET, "drop-dmarc-reject", shadow
        source = mail.get("source")
        sender = source.lower() if isinstance(source, str) else ""
        if sender in self.blocked:
            return STOP_SET, "drop-blocked-sender", shadow
        for header in mail.get("headers") or ():
            if header["name"].lower() == "precedence" and header["value"].lower() in BULK:
                shadow.append("watch-bulk")
                break
        common = mail.get("commonHeaders") or {}
        subject = common.get("subject")
        subject = subject if isinstance(subject, str) else ""
        if any(is_partner(address(raw).rpartition("@")[2]) for raw in common.get("from") or ()) \
                and TICKET.search(subject) and status(receipt, "spfVerdict") == "PASS":
            return CONTINUE, "allow-partner-tickets", shadow
        if dmarc != "PASS":
            return STOP, "hold-unauthenticated", shadow
        domain = sender.rpartition("@")[2]
        if (domain == "amazonses.com" or domain.endswith(".amazonses.com")) \
                and subject.lower().startswith(ALERT_PREFIXES):
            return CONTINUE, "allow-alerts", shadow
        if len(receipt.get("recipients") or ()) > 10:
            return STOP, "hold-mass-mail", shadow
        return CONTINUE, None, shadow
