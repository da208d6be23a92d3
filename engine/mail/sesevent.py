"""Build Lambda SES receiving events: the `event` command, `.eml` files, inline test events.

Public API (docs/architecture.md):

- ``build_event(fields)``: an event from the `event` command's fields (``eml`` = a file to start from).
- ``event_from_eml(data, fields={})``: an event from a raw message; ``fields`` override it.
- ``read_headers(data)``: the message's header fields as SES lists them (name, unfolded raw value);
  raises ``ValueError`` for bytes that are not a mail.
- ``normalize_fields(fields)``: the fields checked and in canonical form (verdicts upper-cased,
  ``None`` dropped); idempotent, so a caller may check early and pass the result on.
- ``address_strings(value)``: one address header value as `commonHeaders` lists it.
- ``EVENT_FIELDS``: the accepted field names, for the CLI's options and the test runner's messages;
  derived from the field registry (``engine.mail.fields.FIELDS``): every field SES fills from a
  message header, the verdicts, plus the envelope (``sender``, ``recipient``), ``header`` and ``eml``.
- ``EventFieldError``: a ``ValueError`` naming the field at fault.

Everything is deterministic: no clock, no randomness. The SES message id is a hash of the input;
timestamps come from the Date header (else the Unix epoch). Bad input raises ``ValueError`` with a
message meant for the user, never an exception from the ``email`` package's internals.

Choices where SES is undocumented:

- ``commonHeaders``: address headers hold one string per address, the display name decoded from
  RFC 2047 and re-quoted so that it parses back to the same name and address. A header that the
  reference parser (``email.headerregistry``) flags as broken is kept as one raw string, so the
  engine's own fallback parser sees exactly what the message says. ``subject`` is decoded.
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
from email import policy as email_policy
from email.errors import NonASCIILocalPartDefect, ObsoleteHeaderDefect
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from engine.mail.addresses import MAX_REFERENCE_LENGTH, parse_addresses
from engine.mail.fields import DMARC_POLICIES, FIELDS, VERDICTS, FieldSpec
from engine.suggest import did_you_mean

_COMMON = "$.mail.commonHeaders."
# Every field SES fills from a message header: the field's name, its header and its kind.
HEADER_FIELDS: dict[str, FieldSpec] = {f.name: f for f in FIELDS.values() if f.header}
# The verdicts, by the receipt member that holds them (`spf` -> `spfVerdict`).
VERDICT_FIELDS = {f.name: f.paths[0].split(".")[2] for f in FIELDS.values() if f.kind == "verdict"}
ADDRESS_FIELDS = (*(name for name, f in HEADER_FIELDS.items() if f.is_address), "recipient")
EVENT_FIELDS = (*HEADER_FIELDS, "sender", "recipient", *VERDICT_FIELDS, "dmarc_policy", "header", "eml")
# commonHeaders: header name (lower case) -> (member, field); SES lists the members in this order.
_COMMON_HEADERS = {f.header.lower(): (f.paths[0][len(_COMMON):].removesuffix("[*]"), f)  # type: ignore[union-attr]
                   for f in HEADER_FIELDS.values() if f.paths[0].startswith(_COMMON)}
_COMMON_ORDER = ("returnPath", "from", "sender", "replyTo", "date", "to", "cc", "bcc", "messageId", "subject")


class EventFieldError(ValueError):
    """A field of the event to build is wrong; `field` names it (for the test runner's position)."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field

HEADERS_LIMIT = 10 * 1024
EPOCH = "1970-01-01T00:00:00.000Z"
PROCESSING_TIME_MS = 574
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ses-rules"

# The modern policy: its header registry is the project's reference address parser, and raw
# values of 8-bit headers come back as surrogate-escaped text we can decode ourselves
# (compat32 would hand back opaque Header objects for them).
_POLICY = email_policy.default
# Defects that do not make a parse doubtful: UTF-8 local parts (RFC 6532) and obsolete syntax.
_HARMLESS_DEFECTS = (NonASCIILocalPartDefect, ObsoleteHeaderDefect)
# RFC 5322 4.5 obs-fields allow white space before the colon (`From  : x`); the stdlib parser
# would end the header block there, so it is removed first (header block only).
_OBS_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.MULTILINE)
# What a message must start with. RFC 5322 allows any printable ASCII in a field name, which
# would make `{"Records": []}` a mail; real field names are words joined by hyphens.
_FIELD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HEADER_BLOCK_END = re.compile(rb"\r?\n\r?\n")
_FIELD_LINE = re.compile(rb"[!-9;-~]+:")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+")
_QUOTE_IN_STRING = re.compile(r'(["\\]|=(?=\?))')
_UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

Headers = list[tuple[str, str]]


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
        message = BytesParser(policy=_POLICY).parsebytes(source, headersonly=True)
        raw = message.raw_items()
    except Exception as exc:  # the parser is lenient; this is a last line of defence
        raise ValueError(f"not an e-mail message: {exc}") from None
    headers = [(name, _LINE_BREAK.sub("", _decode_bytes(value)).strip(" \t")) for name, value in raw]
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
    common = _common_headers(headers)
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


def _common_headers(headers: Headers) -> dict[str, Any]:
    """`commonHeaders` as SES builds it: only the headers the message has."""
    common: dict[str, Any] = {}
    for name, value in headers:
        member, spec = _COMMON_HEADERS.get(name.lower(), (None, None))
        if spec is None:
            continue
        if spec.kind == "address list":       # every such header adds its addresses
            common.setdefault(member, []).extend(address_strings(value))
        elif spec.kind == "address":          # the first one counts
            common.setdefault(member, _strip_angles(value))
        else:
            common.setdefault(member, _decode_unstructured(value.strip()))
    return dict(sorted(common.items(), key=lambda item: _ses_order(item[0])))


def _ses_order(member: str) -> int:
    return _COMMON_ORDER.index(member) if member in _COMMON_ORDER else len(_COMMON_ORDER)


def address_strings(value: str) -> list[str]:
    """One string per address, display names decoded and quoted so they parse back the same.

    The value stays one raw string when it is too long for the reference parser (the engine
    reads such strings with its linear fallback), when the reference parser
    raises or flags a real defect, or when it would read the rewritten strings differently
    (say, an encoded word inside an address).
    """
    if not value.strip():
        return []
    if len(value) > MAX_REFERENCE_LENGTH:  # quadratic on some padded inputs; the engine skips it too
        return [value]
    parsed = _parse(value)
    if parsed is None:
        return [value]
    result = []
    for group in parsed.groups:
        if group.display_name is not None and not group.addresses:
            result.append(f"{_phrase(group.display_name)}:;")
        for mailbox in group.addresses:
            if _UNSAFE_TEXT.search(mailbox.display_name):
                return [value]
            name = mailbox.display_name
            result.append(f"{_phrase(name)} <{mailbox.addr_spec}>" if name else mailbox.addr_spec)
    reparsed = [_parse(text) for text in result]
    if any(p is None for p in reparsed) or \
            [_parts(a) for p in reparsed for a in p.addresses] != [_parts(a) for a in parsed.addresses]:
        return [value]
    return result


def _parse(value: str) -> Any:
    """The reference parser's reading of an address header, or None when it is doubtful."""
    try:
        parsed = _POLICY.header_factory("to", value)
    except Exception:  # the reference parser raises on some inputs
        return None
    if any(not isinstance(defect, _HARMLESS_DEFECTS) for defect in parsed.defects):
        return None
    return parsed


def _parts(address: Any) -> tuple[str, str, str]:
    return address.display_name, address.username, address.domain


def _phrase(name: str) -> str:
    """A display name as written in a header: bare when plain atoms, else a quoted string.

    Quoted when it holds specials, odd spacing or `=?` (which a parser would decode again);
    inside quotes `"`, backslash and the `=` of `=?` are escaped.
    """
    words = name.split(" ")
    if "=?" not in name and all(_ATOM.fullmatch(word) for word in words):
        return name
    return '"' + _QUOTE_IN_STRING.sub(r"\\\1", name) + '"'


def _decode_unstructured(value: str) -> str:
    """RFC 2047 decoding, best effort: malformed encoded words stay as they are."""
    if "=?" not in value:  # nothing to decode; the parser is slow on long plain text
        return value
    try:
        text = str(_POLICY.header_factory("subject", value))
    except Exception:  # never let a malformed encoded word fail the event
        return value
    return _without_surrogates(text)


def _without_surrogates(text: str) -> str:
    """Text safe for JSON: bytes of unknown charsets that the decoder escaped become text."""
    if not _SURROGATE.search(text):
        return text
    try:
        return _decode_bytes(text)
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


def _decode_bytes(text: str) -> str:
    """Header text parsed from bytes: UTF-8 (RFC 6532) if it is, else Windows-1252."""
    raw = text.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


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


def _strip_angles(value: str) -> str:
    value = value.strip()
    return value[1:-1].strip() if value.startswith("<") and value.endswith(">") else value


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
    if _UNSAFE_TEXT.search(value):
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
