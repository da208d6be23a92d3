"""Build Lambda SES receiving events: the `event` command, `.eml` files, inline test events.

Public API (docs/architecture.md):

- ``build_event(fields)``: an event from the `event` command's fields (``eml`` = a file to start from).
- ``event_from_eml(data, fields={})``: an event from a raw message; ``fields`` override it.
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
"""
from __future__ import annotations

import hashlib
import json
import re
from base64 import b32encode
from collections.abc import Mapping
from datetime import timezone
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from engine.mail.addresses import parse_addresses
from engine.mail.commonheaders import REFERENCE, UNSAFE_TEXT, Headers, common_headers, decode_bytes
from engine.mail.fields import DMARC_POLICIES, FIELDS, VERDICTS, FieldSpec
from engine.suggest import did_you_mean

# Every field SES fills from a message header: the field's name, its header and its kind.
HEADER_FIELDS: dict[str, FieldSpec] = {f.name: f for f in FIELDS.values() if f.header}
# The verdicts, by the receipt member that holds them (`spf` -> `spfVerdict`).
VERDICT_FIELDS = {f.name: f.paths[0].split(".")[2] for f in FIELDS.values() if f.kind == "verdict"}
ADDRESS_FIELDS = (*(name for name, f in HEADER_FIELDS.items() if f.is_address), "recipient")
EVENT_FIELDS = (*HEADER_FIELDS, "sender", "recipient", *VERDICT_FIELDS, "dmarc_policy", "header", "eml")


class EventFieldError(ValueError):
    """A field of the event to build is wrong; `field` names it (for the test runner's position)."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field


HEADERS_LIMIT = 10 * 1024
EPOCH = "1970-01-01T00:00:00.000Z"
PROCESSING_TIME_MS = 574
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ses-rules"

# RFC 5322 4.5 obs-fields allow white space before the colon (`From  : x`); the stdlib parser
# would end the header block there, so it is removed first (header block only).
_OBS_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.MULTILINE)
# What a message must start with. RFC 5322 allows any printable ASCII in a field name, which
# would make `{"Records": []}` a mail; real field names are words joined by hyphens.
_FIELD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HEADER_BLOCK_END = re.compile(rb"\r?\n\r?\n")
_FIELD_LINE = re.compile(rb"[!-9;-~]+:")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")



def build_event(fields: Mapping[str, Any]) -> dict:
    """The `event` command: a Lambda SES event from its fields (``eml`` starts from a file)."""
    clean = normalize_fields(fields)
    eml = clean.pop("eml", None)
    if eml is None:
        return _assemble([], clean, b"")
    try:
        data = Path(eml).read_bytes()
    except OSError as exc:
        raise EventFieldError("eml", f"eml: cannot read {eml}: {exc.strerror or exc}") from None
    return _assemble(read_headers(data), clean, data)


def event_from_eml(data: bytes, fields: Mapping[str, Any] = {}) -> dict:
    """A Lambda SES event for a raw message as SES would receive it; ``fields`` override it."""
    clean = normalize_fields(fields)
    if "eml" in clean:
        raise EventFieldError("eml", "eml: not allowed here, the message is already given")
    return _assemble(read_headers(data), clean, bytes(data))


def normalize_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate fields; None and empty lists mean "not given" (argparse leaves unset flags None)."""
    if not isinstance(fields, Mapping):
        raise ValueError(f"event fields must be a mapping, not {type(fields).__name__}")
    clean: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in EVENT_FIELDS:
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


def _assemble(headers: Headers, fields: dict[str, Any], source: bytes) -> dict:
    """The event for the message headers after the fields' overrides."""
    headers = _apply_fields(headers, fields)
    common = common_headers(headers)
    listed, truncated = _truncate(headers)
    recipients = list(dict.fromkeys(
        fields.get("recipient") or _addresses(common.get("to", []) + common.get("cc", []))))
    timestamp = _timestamp(common.get("date"))
    mail = {
        "timestamp": timestamp,
        "source": fields["sender"] if "sender" in fields else _envelope_sender(common),
        "messageId": _message_id(source, fields),
        "destination": recipients,
        "headersTruncated": truncated,
        "headers": [{"name": name, "value": value} for name, value in listed],
        "commonHeaders": common,
    }
    receipt: dict[str, Any] = {
        "timestamp": timestamp,
        "processingTimeMillis": PROCESSING_TIME_MS,
        "recipients": list(recipients),
    }
    for field in ("spam", "virus", "spf", "dkim", "dmarc"):
        receipt[VERDICT_FIELDS[field]] = {"status": fields.get(field, "PASS")}
    if receipt["dmarcVerdict"]["status"] == "FAIL":
        receipt["dmarcPolicy"] = fields.get("dmarc_policy", "none")
    receipt["action"] = {"type": "Lambda", "functionArn": FUNCTION_ARN,
                         "invocationType": "RequestResponse"}
    return lambda_event({"mail": mail, "receipt": receipt})


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


def _envelope_sender(common: dict[str, Any]) -> str:
    """Return-Path, else Sender, else From: the MAIL FROM a message like this most likely had.

    A null Return-Path (`<>`, as on bounces) is the null sender "", not a reason to look further.
    """
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
