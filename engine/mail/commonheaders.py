"""How SES turns a message's header fields into `commonHeaders`, as the event builder models it.

Choices where SES is undocumented: address headers hold one string per address, the
display name decoded from RFC 2047 and re-quoted so that it parses back to the same name
and address; a header the reference parser (``email.headerregistry``) flags as broken is
kept as one raw string, so the engine's own fallback parser sees exactly what the message
says; text headers are decoded. Which headers become which members comes from the field
registry (``engine.mail.fields.FIELDS``: each field's ``header`` and path).
"""
from __future__ import annotations

import re
from email import policy as email_policy
from email.errors import NonASCIILocalPartDefect, ObsoleteHeaderDefect
from typing import Any

from engine.mail.addresses import MAX_REFERENCE_LENGTH
from engine.mail.fields import FIELDS

Headers = list[tuple[str, str]]

# The modern policy: its header registry is the project's reference address parser, and raw
# values of 8-bit headers come back as surrogate-escaped text we can decode ourselves
# (compat32 would hand back opaque Header objects for them).
REFERENCE = email_policy.default
# Defects that do not make a parse doubtful: UTF-8 local parts (RFC 6532) and obsolete syntax.
_HARMLESS_DEFECTS = (NonASCIILocalPartDefect, ObsoleteHeaderDefect)
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+")
_QUOTE_IN_STRING = re.compile(r'(["\\]|=(?=\?))')
_ADJACENT_ENCODED_WORDS = re.compile(r"\?=[ \t]+=\?")   # fixed text around one run: linear
UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

_COMMON = "$.mail.commonHeaders."
# header name (lower case) -> (commonHeaders member, field), from the registry.
_COMMON_HEADERS = {f.header.lower(): (f.paths[0][len(_COMMON):].removesuffix("[*]"), f)  # type: ignore[union-attr]
                   for f in FIELDS.values() if f.header and f.paths[0].startswith(_COMMON)}
# The order SES lists the members in.
_COMMON_ORDER = ("returnPath", "from", "sender", "replyTo", "date", "to", "cc", "bcc", "messageId", "subject")


def common_headers(headers: Headers) -> dict[str, Any]:
    """`commonHeaders` as SES builds it: only the headers the message has."""
    common: dict[str, Any] = {}
    for name, value in headers:
        member, spec = _COMMON_HEADERS.get(name.lower(), (None, None))
        if spec is None:
            continue
        if spec.kind == "address list":       # every such header adds its addresses
            common.setdefault(member, []).extend(address_strings(value))
        elif spec.kind == "address":          # the first one counts
            common.setdefault(member, strip_angles(value))
        else:
            common.setdefault(member, _decode_unstructured(value.strip()))
    return dict(sorted(common.items(), key=lambda item: _ses_order(item[0])))


def _ses_order(member: str) -> int:
    return _COMMON_ORDER.index(member) if member in _COMMON_ORDER else len(_COMMON_ORDER)


def address_strings(value: str) -> list[str]:
    """One string per address, display names decoded and quoted so they parse back the same.

    The value stays one raw string when it is too long for the reference parser (the engine
    reads such strings with its linear fallback), when the reference parser
    raises or flags a real defect, when it would read the rewritten strings differently
    (say, an encoded word inside an address), or when it holds two adjacent encoded words,
    whose white space the reference parser keeps in the name (RFC 2047 6.2 drops it; the
    engine's own parser does).
    """
    if not value.strip():
        return []
    if len(value) > MAX_REFERENCE_LENGTH or _ADJACENT_ENCODED_WORDS.search(value):
        return [value]
    parsed = _parse(value)
    if parsed is None:
        return [value]
    result = []
    for group in parsed.groups:
        if group.display_name is not None and not group.addresses:
            result.append(f"{_phrase(group.display_name)}:;")
        for mailbox in group.addresses:
            if UNSAFE_TEXT.search(mailbox.display_name):
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
        parsed = REFERENCE.header_factory("to", value)
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
        text = str(REFERENCE.header_factory("subject", value))
    except Exception:  # never let a malformed encoded word fail the event
        return value
    return _without_surrogates(text)


def _without_surrogates(text: str) -> str:
    """Text safe for JSON: bytes of unknown charsets that the decoder escaped become text."""
    if not _SURROGATE.search(text):
        return text
    try:
        return decode_bytes(text)
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


def decode_bytes(text: str) -> str:
    """Header text parsed from bytes: UTF-8 (RFC 6532) if it is, else Windows-1252."""
    raw = text.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def strip_angles(value: str) -> str:
    value = value.strip()
    return value[1:-1].strip() if value.startswith("<") and value.endswith(">") else value
