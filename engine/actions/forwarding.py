"""Forward rewriting: the stored message's header block made sendable by SES, its body untouched.

The `forward` action (docs/policy-language.md, "Actions"). The Node.js SES forwarder's users lose mail to its header rewriting:
regexes over raw header text that leave a second DKIM-Signature or Message-ID,
put an address into a display name ("Extra route-addr"), or mangle charsets.
Here the header block is read by the stdlib `email` parser, every header the
forward writes is folded by the stdlib `email` policy (RFC 2047 where needed,
no line over 998 octets), and the body's bytes are copied as they were.
"""
from __future__ import annotations

import email.headerregistry
import email.policy
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.parser import BytesHeaderParser

import idna

from engine.mail.addresses import Address, parse_addresses
from engine.mail.values import match_form_keep_case, remove_ignorables

MAX_MESSAGE_BYTES = 40 * 1024 * 1024     # SES v2 SendEmail, raw content
MAX_DESTINATIONS = 50                    # SES v2 SendEmail, recipients a call
MAX_LINE = 998                           # RFC 5322 2.1.1, octets before CRLF
MAX_NAME = 100                           # characters of the sender's name kept in the new From
MAX_ORIGINAL_FROM = 1000                 # characters of the original From kept in X-Original-From
MARKER = "X-SES-Rules-Forwarded-By"
MAX_MARKERS = 3                          # A -> B -> A: a third hop is a loop whatever the identities
REMOVED = frozenset({"from", "return-path", "sender", "message-id", "dkim-signature",
                     "x-original-from", "x-original-to"})
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class Loop(Exception):
    """The message already went through this identity, or through three forwards."""


class TooLarge(Exception):
    """The rewritten message is over SES's 40 MB."""


@dataclass(frozen=True)
class Forward:
    """What one forward writes into the header block."""
    identity: str                               # FROM: an SES-verified address
    recipients: Sequence[str] = ()              # the recipients acted for (X-Original-To)
    subject_prefix: str | None = None
    headers: Sequence[tuple[str, str]] = ()     # the policy's X- headers, replacing same-named ones


class _RawHeaders(email.policy.Compat32):
    """A parser policy that keeps each header's source lines exactly (folding and line endings)."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        return sourcelines[0].split(":", 1)[0], "".join(sourcelines)

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_PARSER = BytesHeaderParser(policy=_RawHeaders())
_FOLD = {eol: email.policy.default.clone(linesep=eol.decode(), max_line_length=78, refold_source="all")
         for eol in (b"\r\n", b"\n")}


@dataclass
class Parts:
    """A message split where the stdlib parser ends its header block."""
    headers: list[tuple[str, bytes]]   # (name, source lines) in order
    eol: bytes                         # the line ending of the message's first line
    body: memoryview                   # everything after the header block and its blank line
    lead: bytes = b""                  # lines the parser found inside the block that are not headers


def split_message(raw: bytes) -> Parts:
    """Headers as the stdlib parser reads them; the body is a view, never a copy."""
    first_nl = raw.find(b"\n")
    eol = b"\r\n" if first_nl > 0 and raw[first_nl - 1:first_nl] == b"\r" else b"\n"
    if raw.startswith((b"\n", b"\r\n")):
        return Parts([], eol, memoryview(raw)[raw.index(b"\n") + 1:])
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    block_end = min(ends) + 1 if ends else len(raw)
    separator = 0 if not ends else (1 if raw[block_end:block_end + 1] == b"\n" else 2)
    message = _PARSER.parsebytes(raw[:block_end])
    lead = message.get_payload()
    lead_bytes = lead.encode("ascii", "surrogateescape") if isinstance(lead, str) else b""
    if lead_bytes and separator:
        lead_bytes += raw[block_end:block_end + separator]
    headers = [(name, value.encode("ascii", "surrogateescape")) for name, value in message.items()]
    return Parts(headers, eol, memoryview(raw)[block_end + separator:], lead_bytes)


def rewrite(raw: bytes, forward: Forward, envelope_sender: str = "") -> bytes:
    """The message SES sends for `forward`; raises Loop or TooLarge."""
    parts = split_message(raw)
    _check_loop(parts.headers, forward.identity)
    head = _Head(parts.eol)
    original_from = _first_value(parts.headers, "from")
    senders = parse_addresses(original_from) if original_from is not None else []
    replaced = {name.lower() for name, _ in forward.headers}
    has_reply_to = _first_value(parts.headers, "reply-to") is not None
    seen: set[str] = set()
    for name, source in parts.headers:
        key = name.lower()
        once = key in seen
        seen.add(key)
        if key == "from" and not once:
            head.add("From", _from_value(senders, forward.identity, envelope_sender))
            if not has_reply_to:
                head.add("Reply-To", _address_list(senders))
        elif key in REMOVED or key in replaced or (key == "reply-to" and once):
            continue
        elif key == "subject" and not once and forward.subject_prefix:
            head.add("Subject", forward.subject_prefix + _decoded(source))
        else:
            head.keep(name, source)
    if "from" not in seen:
        head.add("From", _from_value(senders, forward.identity, envelope_sender))
    if "subject" not in seen and forward.subject_prefix:
        head.add("Subject", forward.subject_prefix.strip())
    if original_from is not None:
        head.add("X-Original-From", _clean(original_from[:MAX_ORIGINAL_FROM]))
    head.add("X-Original-To", ", ".join(forward.recipients))
    for name, value in forward.headers:
        head.add(name, value)
    head.add(MARKER, forward.identity)
    message = b"".join([*head.lines, parts.eol, parts.lead, parts.body])
    if len(message) > MAX_MESSAGE_BYTES:
        raise TooLarge(f"{len(message)} bytes, SES sends at most {MAX_MESSAGE_BYTES}")
    return message


def chunks(destinations: Sequence[str], size: int = MAX_DESTINATIONS) -> list[list[str]]:
    """Destinations in calls of at most `size` (SES: 50 a call)."""
    return [list(destinations[i:i + size]) for i in range(0, len(destinations), size)]


class _Head:
    """The new header block, each header already folded to the message's line ending."""

    def __init__(self, eol: bytes):
        self.eol = eol
        self.policy = _FOLD[eol]
        self.lines: list[bytes] = []

    def add(self, name: str, value: str) -> None:
        """A header the forward writes, folded by the stdlib's policy (RFC 2047 where needed)."""
        if not value:
            return
        try:
            folded = self.policy.header_factory(name, value).fold(policy=self.policy)
        except UnicodeError:   # text the parser reads as broken encoded words: encode all of it
            folded = f"{name}: {Header(value, 'utf-8', header_name=name).encode(linesep=self.policy.linesep)}"
            folded += self.policy.linesep
        self.lines.append(folded.encode("ascii", "surrogateescape"))

    def keep(self, name: str, source: bytes) -> None:
        """A header as received, its line endings made the message's; refolded only if a line is too long."""
        lines = [line.rstrip(b"\r") for line in source.rstrip(b"\r\n").split(b"\n")]
        if all(len(line) <= MAX_LINE for line in lines):
            self.lines.append(self.eol.join(lines) + self.eol)
            return
        folded = self.policy.header_factory(name, _decoded(source)).fold(policy=self.policy)
        data = folded.encode("ascii", "surrogateescape")
        if all(len(line) <= MAX_LINE for line in data.split(self.eol)):
            self.lines.append(data)   # else dropped: SES refuses a line over 998 octets


def _check_loop(headers: list[tuple[str, bytes]], identity: str) -> None:
    markers = [_unfold(source) for name, source in headers if name.lower() == MARKER.lower()]
    wanted = identity.strip().lower()
    if any(_bare(marker) == wanted for marker in markers):
        raise Loop(f"already forwarded by {identity}")
    if len(markers) >= MAX_MARKERS:
        raise Loop(f"already forwarded {len(markers)} times")


def _bare(value: str) -> str:
    value = value.strip()
    if value.endswith(">") and "<" in value:
        value = value[value.rindex("<") + 1:-1]
    return value.strip().lower()


def _first_value(headers: list[tuple[str, bytes]], name: str) -> str | None:
    for key, source in headers:
        if key.lower() == name:
            return _unfold(source)
    return None


def _unfold(source: bytes) -> str:
    """A header's value as text: name and folding removed, 8-bit bytes read as UTF-8."""
    value = source.split(b":", 1)[1] if b":" in source else source
    value = value.replace(b"\r", b"").replace(b"\n", b"").strip(b" \t")
    return value.decode("utf-8", "replace")


def _decoded(source: bytes) -> str:
    """An unstructured header's text, RFC 2047 encoded words decoded by the stdlib's parser;
    bytes no charset explains become U+FFFD."""
    text = str(_FOLD[b"\n"].header_factory("x-text", _unfold(source)))
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


def _from_value(senders: list[Address], identity: str, envelope_sender: str) -> str:
    """`"<name> via <identity's domain>" <identity>`; never an address inside the name."""
    if senders:
        name = senders[0].display_name or senders[0].local
    else:
        name = envelope_sender.strip("<>").rpartition("@")[0] or "unknown sender"
    shown = display_name(name) or "unknown sender"
    domain = identity.rpartition("@")[2]
    return str(email.headerregistry.Address(display_name=f"{shown} via {domain}", addr_spec=identity))


def display_name(text: str) -> str:
    """A sender's name as the forward shows it: its match form with the case kept (NFKC, invisible
    characters removed: the match form of `engine.mail.values`), control and bidi characters removed, every `@` written ` at `,
    white space collapsed."""
    text = match_form_keep_case(text.replace("\uff20", "@"))
    kept = "".join(" " if c.isspace() else c for c in text if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    words = kept.replace("@", " at ").split()
    shown = " ".join(words)
    return shown if len(shown) <= MAX_NAME else shown[:MAX_NAME - 1].rstrip() + "\u2026"


def _clean(text: str) -> str:
    """Text without control or invisible characters (what goes into our own headers)."""
    return "".join(c for c in remove_ignorables(text) if unicodedata.category(c) not in _DROPPED_CATEGORIES)


def _address_list(addresses: list[Address]) -> str:
    """Addresses re-written in canonical form: a malformed original cannot make SES refuse the header."""
    written = []
    for address in addresses:
        if not address.local.isascii():   # needs SMTPUTF8, which SES does not send: left out
            continue
        try:
            written.append(str(email.headerregistry.Address(
                display_name=_clean(address.display_name)[:MAX_NAME], username=address.local,
                domain=_ascii_domain(address.domain))))
        except (ValueError, IndexError):   # a local part the stdlib cannot write: that address is left out
            continue
    return ", ".join(written)


def _ascii_domain(domain: str) -> str:
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return domain
