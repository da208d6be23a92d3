"""How event values and policy literals compare: the text normal form, numbers, number literals.

SPEC 3.1: a plain decimal scalar in a policy is a number literal, equal to a JSON
number numerically and to a string only as text; booleans are never numbers.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

# ASCII decimal: optional sign, digits with optional point, optional exponent. No 0x, _, 1:30.
NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)


@dataclass(frozen=True)
class NumberLiteral:
    """A number written in the policy: equal to JSON numbers numerically, to strings only as text."""
    value: int | float
    text: str


def parse_number(text: str) -> int | float | None:
    """The number an ASCII decimal string denotes, or None."""
    if not NUMBER_RE.match(text):
        return None
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def is_number(value: object) -> bool:
    """JSON numbers only: bool is an int subclass in Python but never a number here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fold(text: str) -> str:
    """NFC + casefold; ASCII (the common case) takes the cheap path."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFC", text.casefold())


def nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def as_text(value: Any) -> str | None:
    """A JSON value as text operators see it: strings as they are, numbers and booleans as
    their JSON text; objects, arrays and null have no text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return json.dumps(value)
    return None


# Value forms: what a test's values look like, so an operator can put its literals in the same form.
ADDRESS_FORMS = frozenset({"address", "domain", "local"})   # already in compare form when extracted


@dataclass(frozen=True)
class ValueForm:
    """The form of the values one test sees; the field registry decides it, operators read it.

    kind: "address" (`local@domain`, the local part folded unless case-sensitive, the domain
    normalised), "domain", "local" (local parts, users, details), "name" (display names),
    "raw" (an address header's string as SES gave it), "text" (a text field or a header
    without part), "value" (verdicts, enums, numbers, booleans), "json" (a path test's JSON
    values), "number" (what `count` counts).
    """
    kind: str
    case_sensitive: bool = False
    field: str = ""        # the field as written, for messages (`from.display_name`)
    base: str = ""         # the field without its part, for hints (`from`, `header.Return-Path`)
