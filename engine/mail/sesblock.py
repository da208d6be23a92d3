"""SES's own header block at the top of a stored message, and the synthetic block for other mail.

SES's S3 action stores each message with a block of headers SES wrote in front of the
sender's: `Return-Path`, SES's `Received: from HELO (HOST [IP]) by
inbound-smtp.REGION.amazonaws.com with SMTP id ID for RCPT; DATE`, `X-SES-Spam-Verdict`,
`X-SES-Virus-Verdict`, `Received-SPF`, `Authentication-Results: amazonses.com; ...`,
`X-SES-RECEIPT`, `X-SES-DKIM-SIGNATURE`. Only that block says what SES decided: the same
names lower down are the sender's own text, and anyone can write `X-SES-Spam-Verdict: PASS`.

Recognition: the first field is `Return-Path` and the second a `Received` whose `by` host is
`inbound-smtp.<region>.amazonaws.com` with `SMTP id <id>`. The block ends after
`X-SES-DKIM-SIGNATURE`, or at the first field whose name is not one of the block's or
repeats (so the first occurrence of each name is the one read). `Authentication-Results`
counts only with the authserv-id `amazonses.com`.

Results map `pass` -> PASS, `fail`/`softfail` -> FAIL, `none`/`neutral` -> GRAY,
`temperror`/`permerror` -> PROCESSING_FAILED; any other word is "not found". SPF comes from
`Authentication-Results`, else from `Received-SPF`. `dmarcPolicy` is the `p=` of the DMARC
result's comment, lower-cased.

``synthetic_block`` is what a message received some other way (an `.eml` on disk, the local
SMTP server) gets prepended, so every tool sees the same headers SES's would add: `Return-Path`
and `Received: from HELO (PEER) by inbound-smtp.local with SMTP id ID for RCPT`, no verdicts.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.mail.authres import parse_authentication_results
from engine.mail.fields import DMARC_POLICIES, VERDICTS

SES_AUTHSERV_ID = "amazonses.com"
SYNTHETIC_HOST = "inbound-smtp.local"
LAST_FIELD = "x-ses-dkim-signature"
BLOCK_FIELDS = frozenset({"x-ses-spam-verdict", "x-ses-virus-verdict", "received-spf",
                          "authentication-results", "x-ses-receipt", LAST_FIELD})
RESULTS = {"pass": "PASS", "fail": "FAIL", "softfail": "FAIL", "none": "GRAY", "neutral": "GRAY",
           "temperror": "PROCESSING_FAILED", "permerror": "PROCESSING_FAILED"}
VERDICT_HEADERS = {"x-ses-spam-verdict": "spam", "x-ses-virus-verdict": "virus"}
AUTH_METHODS = ("spf", "dkim", "dmarc")

# `by inbound-smtp.REGION.amazonaws.com with SMTP id ID`: fixed words around single tokens,
# so the match is linear in the header's length.
_BY_SES = re.compile(r"\bby\s+inbound-smtp\.[a-z0-9-]+\.amazonaws\.com\s+with\s+SMTP\s+id\s+"
                     r"([A-Za-z0-9]+)\b", re.IGNORECASE)
_FROM = re.compile(r"^from\s+(\S+)\s+\(([^()]*)\)")
_FOR = re.compile(r"\sfor\s+<?([^\s<>;]+@[^\s<>;]+)>?")
_DMARC_POLICY = re.compile(r"(?:^|\s)p=([A-Za-z]+)")


@dataclass
class SesBlock:
    """What SES's block says; ``verdicts`` holds only the verdicts it gives."""

    size: int                            # header fields in the block
    return_path: str
    message_id: str                      # the SMTP id: SES's message id and S3 object key
    helo: str | None = None
    peer: str | None = None              # "HOST [IP]"
    recipient: str | None = None
    date: str | None = None              # when SES received it (after the `;`)
    verdicts: dict[str, str] = field(default_factory=dict)
    dmarc_policy: str | None = None


def find_ses_block(headers: Sequence[tuple[str, str]]) -> SesBlock | None:
    """SES's block at the top of ``headers`` (name, unfolded value), or None when there is none."""
    if len(headers) < 2 or headers[0][0].lower() != "return-path" or headers[1][0].lower() != "received":
        return None
    received = headers[1][1]
    by = _BY_SES.search(received)
    if by is None:
        return None
    fields = _block_fields(headers)
    block = SesBlock(size=2 + len(fields), return_path=headers[0][1], message_id=by.group(1))
    _read_received(block, received)
    _read_verdicts(block, fields)
    return block


def _block_fields(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The block's fields after `Received`, by lower-cased name, up to where the block ends."""
    found: dict[str, str] = {}
    for name, value in headers[2:]:
        key = name.lower()
        if key not in BLOCK_FIELDS or key in found:
            break
        found[key] = value
        if key == LAST_FIELD:
            break
    return found


def _read_received(block: SesBlock, received: str) -> None:
    head, _, date = received.partition(";")
    sender = _FROM.match(head)
    if sender:
        block.helo, block.peer = sender.group(1), " ".join(sender.group(2).split())
    rcpt = _FOR.search(head)
    if rcpt:
        block.recipient = rcpt.group(1)
    block.date = date.strip() or None


def _read_verdicts(block: SesBlock, fields: dict[str, str]) -> None:
    for name, verdict in VERDICT_HEADERS.items():
        status = fields.get(name, "").strip().upper()
        if status in VERDICTS:
            block.verdicts[verdict] = status
    results = parse_authentication_results(fields.get("authentication-results", ""))
    if results is not None and results.authserv_id == SES_AUTHSERV_ID:
        for method in AUTH_METHODS:
            result = results.first(method)
            if result is not None and result.result in RESULTS:
                block.verdicts[method] = RESULTS[result.result]
                if method == "dmarc":
                    block.dmarc_policy = _dmarc_policy(result.comments)
    if "spf" not in block.verdicts:
        words = fields.get("received-spf", "").split(None, 1)
        if words and words[0].lower() in RESULTS:
            block.verdicts["spf"] = RESULTS[words[0].lower()]


def _dmarc_policy(comments: list[str]) -> str | None:
    for comment in comments:
        found = _DMARC_POLICY.search(comment)
        if found and found.group(1).lower() in DMARC_POLICIES:
            return found.group(1).lower()
    return None


def synthetic_block(*, helo: str, peer: str, message_id: str, mail_from: str,
                    rcpt: str | None, date: str | None = None) -> list[tuple[str, str]]:
    """The `Return-Path` and `Received` fields a message gets when SES's block is not there."""
    received = f"from {helo} ({peer}) by {SYNTHETIC_HOST} with SMTP id {message_id}"
    if rcpt:
        received += f" for {rcpt}"
    if date:
        received += f"; {date}"
    return [("Return-Path", f"<{mail_from}>"), ("Received", received)]
