"""The kinds of value an action argument takes: one small check and one JSON Schema each.

A check sees the value after `${VAR}` interpolation (a variable must not smuggle a
line break into a header) and answers None or (message, hint).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.mail.addresses import parse_literal

Problem = tuple[str, str | None]
_STATUS = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}\Z")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_PARTITION_REGION_ACCOUNT = r"arn:aws[a-z-]*:{service}:[a-z0-9-]+:[0-9]{{12}}:"
_SNS_ARN = re.compile(_PARTITION_REGION_ACCOUNT.format(service="sns") + r"[A-Za-z0-9_-]{1,256}(\.fifo)?\Z")
_KMS_ARN = re.compile(_PARTITION_REGION_ACCOUNT.format(service="kms") + r"(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)\Z")
_HEADER_NAME = re.compile(r"[!-9;-~]+\Z")   # RFC 5322 ftext: printable ASCII but ':'
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
OWNED_PREFIXES = ("x-original-", "x-ses-rules-")   # header names the forward writes; a policy may not


def control_problem(text: str) -> Problem | None:
    """CR, LF and every other control, format (bidi, zero-width) or line/paragraph separator."""
    for char in text:
        if unicodedata.category(char) in _CONTROL_CATEGORIES:
            return (f"holds the control character U+{ord(char):04X}",
                    "remove it; a variable substituted here must not hold one either")
    return None


def _text(value: str) -> Problem | None:
    return control_problem(value)


def _address(value: str) -> Problem | None:
    problem = control_problem(value)
    if problem:
        return problem
    address = parse_literal(value)
    if address is None or address.display_name or not address.local or not address.domain:
        return f"{value!r} is not an address", "write one address such as team@corp.example"
    return None


def _status(value: str) -> Problem | None:
    if _STATUS.match(value):
        return None
    return (f"{value!r} is not an RFC 3463 status code",
            "write CLASS.SUBJECT.DETAIL with class 2, 4 or 5, e.g. 5.1.1 for no such mailbox")


def _prefix(value: str) -> Problem | None:
    problem = control_problem(value)
    if problem:
        return problem
    if value.startswith("/") or ".." in value.split("/"):
        return (f"prefix {value!r} is not a relative key prefix",
                "no leading '/' and no '..' segment, e.g. quarantine/")
    return None


def _bucket(value: str) -> Problem | None:
    if _BUCKET.match(value) and ".." not in value:
        return None
    return (f"{value!r} is not an S3 bucket name",
            "3 to 63 characters: lowercase letters, digits, '.' and '-', starting and ending with a letter or digit")


def _kms_key(value: str) -> Problem | None:
    if _KMS_ARN.match(value):
        return None
    return f"{value!r} is not a KMS key ARN", "write arn:aws:kms:REGION:ACCOUNT:key/KEY-ID or arn:aws:kms:REGION:ACCOUNT:alias/NAME"


def _topic(value: str) -> Problem | None:
    if _SNS_ARN.match(value):
        return None
    return f"{value!r} is not an SNS topic ARN", "write arn:aws:sns:REGION:ACCOUNT:TOPIC"


def header_name_problem(name: str) -> Problem | None:
    """A header a policy may add: an X- name the project does not own."""
    if not _HEADER_NAME.match(name) or not name.lower().startswith("x-"):
        return f"header name {name!r} must start with X- and hold printable ASCII only", "e.g. X-Forwarded-For-Team"
    if name.lower().startswith(OWNED_PREFIXES):
        return f"header {name!r} is written by the forward itself", "choose another X- name"
    return None


@dataclass(frozen=True)
class Kind:
    """One kind of argument: how the loader reads it (`shape`), how it is checked, its JSON Schema."""
    name: str
    shape: str                                   # scalar | addresses | headers | test
    check: Callable[[str], Problem | None] | None
    schema: dict[str, Any]


_STRING = {"type": "string"}
_LIST_REF = {"type": "object", "required": ["list"], "additionalProperties": False,
             "properties": {"list": {"type": "string"}}}
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("address", "scalar", _address, _STRING),
    Kind("addresses", "addresses", _address, {"oneOf": [
        {"type": "string"}, _LIST_REF, {"type": "array", "minItems": 1, "items": {"oneOf": [_STRING, _LIST_REF]}}]}),
    Kind("text", "scalar", _text, _STRING),
    Kind("status", "scalar", _status, {"type": "string", "pattern": r"^[245]\.[0-9]{1,3}\.[0-9]{1,3}$"}),
    Kind("prefix", "scalar", _prefix, _STRING),
    Kind("bucket", "scalar", _bucket, _STRING),
    Kind("kms_key", "scalar", _kms_key, {"type": "string", "pattern": "^(arn:|\\$\\{)"}),
    Kind("topic", "scalar", _topic, {"type": "string", "pattern": "^(arn:|\\$\\{)"}),
    Kind("headers", "headers", _text, {"type": "object", "minProperties": 1,
                                       "propertyNames": {"pattern": "^[Xx]-"},
                                       "additionalProperties": _STRING}),
    Kind("test", "test", None, {"description": "a TEST on one recipient address",
                                "oneOf": [{"type": ["string", "number"]}, {"type": "array"}, {"type": "object"}]}),
)}
