"""Build Lambda SES receiving events: the `event` command, `.eml` files, inline test events.

Public API (docs/architecture.md):

- ``build_event(fields)``: an event from the `event` command's fields (``eml`` = a file to start from).
- ``message_event(data, fields={}, arrival=None)``: a raw message's event and the verdicts it had to
  assume; ``arrival`` is the SMTP session of a message received by `ses-rules serve`.
- ``event_from_eml(data, fields={})``: the event alone; ``fields`` override the message.
- ``read_headers(data)``: the message's header fields as SES lists them (name, unfolded raw value);
  raises ``ValueError`` for bytes that are not a mail.
- ``normalize_fields(fields)``: the fields checked and in canonical form (verdicts upper-cased,
  ``None`` dropped); idempotent, so a caller may check early and pass the result on.
- ``EVENT_FIELDS``: the accepted field names, for the CLI's options and the test runner's messages;
  derived from the field registry (``engine.mail.fields.FIELDS``): every field SES fills from a
  message header, the verdicts, plus the envelope (``sender``, ``recipient``), ``header`` and ``eml``.
- ``EventFieldError``: a ``ValueError`` naming the field at fault.

Everything is deterministic: no clock, no randomness. The SES message id is a hash of the input;
timestamps come from the Date header (else the Unix epoch). Bad input raises ``ValueError`` with a
message meant for the user, never an exception from the ``email`` package's internals.

Choices where SES is undocumented:

- ``commonHeaders``: as ``engine.mail.commonheaders`` builds it (one string per address, text
  headers decoded; which header fills which member comes from the field registry).
- ``mail.headers`` lists the message's fields in order, unfolded. Beyond 10 KB (name, ": ", value,
  CRLF, UTF-8) the list stops before the first field that does not fit and ``headersTruncated`` is
  true; ``commonHeaders`` and the envelope defaults still use every field.
- Envelope sender: ``sender``, else the Return-Path address (``<>`` gives the null sender ""),
  else the first Sender address, else the first From address.
- A stored message that starts with SES's own header block (``engine.mail.sesblock``) takes its
  verdicts, ``dmarcPolicy``, envelope sender, recipient, SES message id and receipt time from
  that block and only from it. Any other message gets the synthetic block prepended to
  ``headers`` and verdicts ``PASS``, listed as assumed. A message that ``arrival`` says came over
  SMTP is such a message whatever it starts with (the block on top is the one the server writes,
  so a copy of SES's block inside it is the sender's text), with the session's HELO, peer, id
  and time in that block and the receipt time as its timestamp. With no recipient at all (no To, Cc or
  ``recipient``) the recipient is ``recipient@example.com``, as SES always has one.
- Events from flags alone also get ``Date`` (the epoch) and ``Message-ID`` headers, so
  ``commonHeaders`` has the ``date``, ``messageId`` and ``returnPath`` SES's events have.
"""
from __future__ import annotations

import hashlib
import json
import re
from base64 import b32encode
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timezone
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from engine.files import read_regular
from engine.mail.addresses import parse_addresses
from engine.mail.commonheaders import REFERENCE, UNSAFE_TEXT, Headers, common_headers, decode_bytes, strip_angles
from engine.mail.fields import DMARC_POLICIES, FIELDS, VERDICTS, FieldSpec
from engine.mail.sesblock import SesBlock, find_ses_block, synthetic_block
from engine.suggest import did_you_mean

# Every field SES fills from a message header: the field's name, its header and its kind.
HEADER_FIELDS: dict[str, FieldSpec] = {f.name: f for f in FIELDS.values() if f.header}
# The verdicts, by the receipt member that holds them (`spf` -> `spfVerdict`).
VERDICT_FIELDS = {f.name: f.paths[0].split(".")[2] for f in FIELDS.values() if f.kind == "verdict"}
ADDRESS_FIELDS = (*(name for name, f in HEADER_FIELDS.items() if f.is_address), "recipient")
FIELDS_AND_FILE = (*HEADER_FIELDS, "sender", "recipient", *VERDICT_FIELDS, "dmarc_policy", "header", "eml")
EVENT_FIELDS = FIELDS_AND_FILE[:-1]    # what a message lists: `eml` names a file to start from, not a field

HEADERS_LIMIT = 10 * 1024
EPOCH = "1970-01-01T00:00:00.000Z"
EPOCH_DATE = "Thu, 01 Jan 1970 00:00:00 +0000"
DEFAULT_RECIPIENT = "recipient@example.com"
ASSUMABLE = (*VERDICT_FIELDS, "dmarc_policy")   # what a message without SES's block cannot tell
PROCESSING_TIME_MS = 574
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ses-rules"
# RFC 5322 section 3.6 fields, trace fields and MIME's: a message holds at least one of them, and a YAML
# file read as a message (`version: 1`, `rules: []`: "headers" version and rules) holds none.
MAIL_HEADERS = frozenset({
    "date", "from", "sender", "reply-to", "to", "cc", "bcc", "message-id", "in-reply-to", "references",
    "subject", "comments", "keywords", "resent-date", "resent-from", "resent-sender", "resent-to",
    "resent-cc", "resent-bcc", "resent-message-id", "return-path", "received", "mime-version",
    "content-type", "content-transfer-encoding", "delivered-to", "x-ses-receipt"})

# RFC 5322 4.5 obs-fields allow white space before the colon (`From  : x`); the stdlib parser
# would end the header block there, so it is removed first (header block only).
_OBS_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.MULTILINE)
# What a message must start with. RFC 5322 allows any printable ASCII in a field name, which
# would make `{"Records": []}` a mail; real field names are words joined by hyphens.
_FIELD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HEADER_BLOCK_END = re.compile(rb"\r?\n\r?\n")
_FIELD_LINE = re.compile(rb"[!-9;-~]+:")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
class EventFieldError(ValueError):
    """A field of the event to build is wrong; `field` names it (for the test runner's position)."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Arrival:
    """The SMTP session a message came in by (`ses-rules serve`): what the synthetic block records."""

    helo: str
    peer: str                            # "HOST [IP]", as SES's Received writes it
    message_id: str
    date: str                            # RFC 5322 date of receipt


@dataclass(frozen=True)
class MessageEvent:
    """A message's Lambda SES event, and which of its verdicts are defaults nobody measured."""

    event: dict
    assumed: tuple[str, ...]             # of ASSUMABLE, in that order


def build_event(fields: Mapping[str, Any]) -> dict:
    """The `event` command: a Lambda SES event from its fields (``eml`` starts from a file)."""
    clean = normalize_fields(fields)
    eml = clean.pop("eml", None)
    if eml is None:
        return _assemble(_flag_headers(clean), clean, b"").event
    try:
        data = read_regular(eml)
    except OSError as exc:
        raise EventFieldError("eml", f"eml: cannot read {eml}: {exc.strerror or exc}") from None
    return _assemble(read_headers(data), clean, data).event


def message_event(data: bytes, fields: Mapping[str, Any] = {}, arrival: Arrival | None = None) -> MessageEvent:
    """A raw message as SES would hand it over, ``fields`` overriding it; see the module doc."""
    clean = normalize_fields(fields)
    if "eml" in clean:
        raise EventFieldError("eml", "eml: not allowed here, the message is already given")
    return _assemble(read_headers(data), clean, bytes(data), arrival)


def event_from_eml(data: bytes, fields: Mapping[str, Any] = {}) -> dict:
    """A Lambda SES event for a raw message as SES would receive it; ``fields`` override it."""
    return message_event(data, fields).event


def normalize_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate fields; None and empty lists mean "not given" (argparse leaves unset flags None)."""
    if not isinstance(fields, Mapping):
        raise ValueError(f"event fields must be a mapping, not {type(fields).__name__}")
    clean: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in FIELDS_AND_FILE:
            close = did_you_mean(str(key), EVENT_FIELDS)
            hint = f" (did you mean {close}?)" if close else ""
            raise EventFieldError(str(key), f"unknown event field {key!r}{hint}; fields: {', '.join(EVENT_FIELDS)}")
        if value is None or value == []:
            continue
        if key in ADDRESS_FIELDS or key == "header":
            value = _strings(key, value)
        elif key == "eml":
            if not isinstance(value, (str, Path)):
                raise EventFieldError(key, f"eml: expected a file path, not {type(value).__name__}")
        else:
            value = _string(key, value)
        if key in VERDICT_FIELDS:
            value = _choice(key, value.upper(), VERDICTS)
        elif key == "dmarc_policy":
            value = _choice(key, value.lower(), DMARC_POLICIES)
        elif key == "header":
            value = [_header_entry(entry) for entry in value]
        clean[key] = value
    if "dmarc_policy" in clean and clean.get("dmarc") != "FAIL":
        raise EventFieldError("dmarc_policy", "dmarc_policy: SES reports a DMARC policy only when dmarc is FAIL; "
                         "add dmarc: FAIL")
    return clean


def read_headers(data: bytes) -> Headers:
    """The header fields of a raw message, in order, values unfolded and decoded to text."""
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"a raw message must be bytes, not {type(data).__name__}")
    end = _HEADER_BLOCK_END.search(data)
    split = end.end() if end else len(data)
    block = _without_malformed_lines(_OBS_FIELD_NAME.sub(rb"\1:", bytes(data[:split])))
    source = block + bytes(data[split:])
    try:
        message = BytesParser(policy=REFERENCE).parsebytes(source, headersonly=True)
        raw = message.raw_items()
    except Exception as exc:  # the parser is lenient; this is a last line of defence
        raise ValueError(f"not an e-mail message: {exc}") from None
    headers = [(name, _LINE_BREAK.sub("", decode_bytes(value)).strip(" \t")) for name, value in raw]
    if not headers or not _FIELD_NAME.fullmatch(headers[0][0]):
        raise ValueError("not an e-mail message: it does not start with a header field "
                         "(NAME: value)")
    if not any(name.lower() in MAIL_HEADERS for name, _ in headers):
        raise ValueError("not an e-mail message: none of its header fields is a mail header "
                         "such as From, To, Subject, Date, Message-ID or Received")
    return headers


def _without_malformed_lines(block: bytes) -> bytes:
    """The header block less lines that are neither a field nor a continuation (`quite Delivered-To:`,
    `__`), with their continuations. The stdlib parser would end the headers there and lose every
    field after it; MTAs and Sieve skip the line and read on. A first line that is not a field is
    kept, so a body without headers is still refused as "not an e-mail message"."""
    lines = block.splitlines(keepends=True)
    kept, skipping = lines[:1], False
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and line.strip():
            if not skipping:
                kept.append(line)
        elif _FIELD_LINE.match(line) or not line.strip():
            kept.append(line)
            skipping = False
        else:
            skipping = True
    return b"".join(kept)


def _assemble(headers: Headers, fields: dict[str, Any], source: bytes,
              arrival: Arrival | None = None) -> MessageEvent:
    """The event for the message headers after the fields' overrides."""
    block = None if arrival else find_ses_block(headers)
    headers = _apply_fields(headers, fields)
    common = common_headers(headers)
    recipients = _recipients(fields, block, common)
    sender = fields["sender"] if "sender" in fields else _envelope_sender(common, block)
    message_id = arrival.message_id if arrival else block.message_id if block else _message_id(source, fields)
    if block is None:
        session = arrival or Arrival("unknown", "unknown", message_id, "")
        headers = synthetic_block(helo=session.helo, peer=session.peer, message_id=message_id,
                                  mail_from=sender, rcpt=recipients[0], date=session.date or None) + headers
        common = {"returnPath": sender, **{k: v for k, v in common.items() if k != "returnPath"}}
    listed, truncated = _truncate(headers)
    received = arrival.date if arrival else block.date if block and block.date else common.get("date")
    timestamp = _timestamp(received)
    mail = {"timestamp": timestamp, "source": sender, "messageId": message_id,
            "destination": recipients, "headersTruncated": truncated,
            "headers": [{"name": name, "value": value} for name, value in listed],
            "commonHeaders": common}
    receipt, assumed = _receipt(fields, block, timestamp, recipients)
    return MessageEvent(lambda_event({"mail": mail, "receipt": receipt}), assumed)


def _receipt(fields: dict[str, Any], block: SesBlock | None, timestamp: str,
             recipients: list[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The receipt: verdicts from the fields, else SES's block, else PASS (assumed)."""
    found = {**(block.verdicts if block else {}), **{k: fields[k] for k in VERDICT_FIELDS if k in fields}}
    receipt: dict[str, Any] = {"timestamp": timestamp, "processingTimeMillis": PROCESSING_TIME_MS,
                               "recipients": list(recipients)}
    for name in ("spam", "virus", "spf", "dkim", "dmarc"):
        receipt[VERDICT_FIELDS[name]] = {"status": found.get(name, "PASS")}
    assumed = [name for name in VERDICT_FIELDS if name not in found]
    if receipt["dmarcVerdict"]["status"] == "FAIL":
        policy = fields.get("dmarc_policy") or (block.dmarc_policy if block else None)
        receipt["dmarcPolicy"] = policy or "none"
        if policy is None:
            assumed.append("dmarc_policy")
    receipt["action"] = {"type": "Lambda", "functionArn": FUNCTION_ARN,
                         "invocationType": "RequestResponse"}
    return receipt, tuple(assumed)


def _recipients(fields: dict[str, Any], block: SesBlock | None, common: dict[str, Any]) -> list[str]:
    """`--recipient`s, else SES's `for` recipient, else To and Cc, else a placeholder."""
    if fields.get("recipient"):
        return list(dict.fromkeys(fields["recipient"]))
    if block and block.recipient:
        return [block.recipient]
    found = list(dict.fromkeys(_addresses(common.get("to", []) + common.get("cc", []))))
    return found or [DEFAULT_RECIPIENT]


def _flag_headers(fields: dict[str, Any]) -> Headers:
    """An event from flags alone: the Date and Message-ID every real message has, unless given."""
    given = {entry.partition(":")[0].lower() for entry in fields.get("header", [])}
    headers: Headers = []
    if "date" not in given:
        headers.append(("Date", EPOCH_DATE))
    if "message-id" not in given:
        headers.append(("Message-ID", f"<{_message_id(b'', fields)}@ses-rules.invalid>"))
    return headers


def lambda_event(ses: dict) -> dict:
    """The Lambda event SES sends for one receiving record."""
    return {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": ses}]}


def _apply_fields(headers: Headers, fields: dict[str, Any]) -> Headers:
    """Header fields replace every field of that name (at the first one's place); `header` adds."""
    result = list(headers)
    for key, spec in HEADER_FIELDS.items():
        if key not in fields:
            continue
        name = spec.header or key
        value = ", ".join(fields[key]) if spec.is_address else fields[key]
        places = [i for i, (existing, _) in enumerate(result) if existing.lower() == name.lower()]
        at = places[0] if places else len(result)
        result = [item for i, item in enumerate(result) if i not in places]
        result.insert(at, (name, value))
    return result + [_split_entry(entry) for entry in fields.get("header", [])]


def _split_entry(entry: str) -> tuple[str, str]:
    name, _, value = entry.partition(": ")
    return name, value


def _addresses(values: list[str]) -> list[str]:
    """Bare addresses (local@domain) in `commonHeaders` strings, as the engine reads them."""
    return [address.address for value in values for address in parse_addresses(value)]


def _envelope_sender(common: dict[str, Any], block: SesBlock | None = None) -> str:
    """SES's Return-Path, else Return-Path, Sender, From: the MAIL FROM this message most likely had.

    A null Return-Path (`<>`, as on bounces) is the null sender "", not a reason to look further.
    """
    if block is not None:
        found = _addresses([strip_angles(block.return_path)])
        return found[0] if found else ""
    if common.get("returnPath") == "":
        return ""
    for key in ("returnPath", "sender", "from"):
        value = common.get(key)
        found = _addresses([value] if isinstance(value, str) else value or [])
        if found:
            return found[0]
    return ""


def _truncate(headers: Headers) -> tuple[Headers, bool]:
    """The fields that fit in SES's 10 KB, and whether any were left out."""
    size = 0
    for index, (name, value) in enumerate(headers):
        size += len(f"{name}: {value}\r\n".encode("utf-8"))
        if size > HEADERS_LIMIT:
            return headers[:index], True
    return headers, False


def _timestamp(date: str | None) -> str:
    """ISO 8601 UTC with milliseconds, like SES; the epoch when there is no usable Date."""
    if not date:
        return EPOCH
    try:
        when = parsedate_to_datetime(date)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        when = when.astimezone(timezone.utc)
    except (TypeError, ValueError, OverflowError, IndexError):
        return EPOCH
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _message_id(source: bytes, fields: dict[str, Any]) -> str:
    """A 40-character id like SES's, derived from the input so equal inputs give equal events."""
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str).encode()
    digest = hashlib.sha256(source + b"\0" + canonical).digest()
    return b32encode(digest).decode("ascii").lower()[:40]


def _string(key: str, value: Any) -> str:
    """A text field; line breaks and control characters could forge extra header lines."""
    if not isinstance(value, str):
        raise EventFieldError(key, f"{key}: expected a string, not {type(value).__name__}")
    if UNSAFE_TEXT.search(value):
        raise EventFieldError(key, f"{key}: {value!r} holds a line break or control character")
    return value


def _strings(key: str, value: Any) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)):
        raise EventFieldError(key, f"{key}: expected a string or a list of strings, "
                         f"not {type(value).__name__}")
    return [_string(key, item) for item in values]


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise EventFieldError(key, f"{key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _header_entry(entry: str) -> str:
    """`NAME:VALUE` from --header, checked and written `NAME: VALUE` (normalizing twice is harmless)."""
    name, sep, value = entry.partition(":")
    if not sep or not re.fullmatch(r"[!-9;-~]+", name):
        raise EventFieldError("header", f"header: {entry!r} is not NAME:VALUE with a field name of "
                         "printable ASCII (no space or colon)")
    return f"{name}: {value.strip()}"
