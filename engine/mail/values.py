"""How event values and policy literals compare: the text normal form, numbers, number literals.

A plain decimal scalar in a policy is a number literal, equal to a JSON
number numerically and to a string only as text; booleans are never numbers.
"""
from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Callable

from engine.valueclass import Frozen

# ASCII decimal: optional sign, digits with optional point, optional exponent. No 0x, _, 1:30.
NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)


class NumberLiteral(Frozen):
    """A number written in the policy: equal to JSON numbers numerically, to strings only as text."""
    __slots__ = ("value", "text")

    def __init__(self, value: int | float, text: str) -> None:
        self._set(value=value, text=text)


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


# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, unchanged from 15.0 to 15.1):
# zero-width space and joiners, soft hyphen, bidi controls, variation selectors, tags, fillers.
# Characters a mail client draws as nothing, so `C\u200bEO` reads "CEO". The stdlib has no
# accessor for the property; tests/test_values.py checks this class against the `regex` package.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")


def match_form(text: str) -> str:
    """The form text operators compare in: NFKC, default-ignorables removed, case folded.

    `ＣＥＯ`, `C\u200bEO` and `c\u00adeo` all give `ceo`. ASCII, the common case, only needs lower().
    """
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", match_form_keep_case(text).casefold())


def match_form_keep_case(text: str) -> str:
    """The match form without the case folding: for `case_sensitive: true`, and the subject of
    `matches` / `glob`, which fold case in RE2 instead (folding text would not fold the pattern)."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    if _IGNORABLE.search(text) is None:
        return text
    # Removing a joiner can leave two characters NFKC composes (e + CGJ + U+0301): normalise again.
    return unicodedata.normalize("NFKC", remove_ignorables(text))


def remove_ignorables(text: str) -> str:
    """`text` without its Default_Ignorable_Code_Point characters (none is ASCII)."""
    return text if text.isascii() else _IGNORABLE.sub("", text)


def text_key(case_sensitive: bool) -> Callable[[str], str]:
    """The match form a test with this `case_sensitive` setting compares in."""
    return match_form_keep_case if case_sensitive else match_form


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


class ValueForm(Frozen):
    """The form of the values one test sees; the field registry decides it, operators read it.

    kind: "address" (`local@domain`, the local part folded unless case-sensitive, the domain
    normalised), "domain", "local" (local parts, users, details), "name" (display names),
    "raw" (an address header's string as SES gave it), "text" (a text field or a header
    without part), "value" (verdicts, enums, numbers, booleans), "json" (a path test's JSON
    values), "number" (what `count` counts).
    """
    __slots__ = ("kind", "case_sensitive", "field", "base")

    def __init__(self, kind: str, case_sensitive: bool = False, field: str = "", base: str = "") -> None:
        # field: as written, for messages (`from.display_name`); base: the field without its
        # part, for hints (`from`, `header.Return-Path`)
        self._set(kind=kind, case_sensitive=case_sensitive, field=field, base=base)
