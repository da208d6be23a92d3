"""Regular expressions through RE2: linear time on subjects and headers chosen by strangers.

google-re2 reports errors as bytes in its own exception type (not `re.error`),
and writes absl log lines to stderr for every rejected pattern unless
`log_errors` is off. `\\d \\w \\b` are ASCII-only in RE2.
"""
from __future__ import annotations

from typing import Iterable

import re2

# What Python users reach for that RE2 refuses, and what to write instead.
_ADVICE = (
    ("(?=", "look-ahead is not supported by RE2; match the text itself, or use a second condition with not_matches"),
    ("(?!", "negative look-ahead is not supported by RE2; use not_matches in the same test"),
    ("(?<=", "look-behind is not supported by RE2; include the preceding text in the pattern"),
    ("(?<!", "negative look-behind is not supported by RE2; use not_matches"),
    ("\\Z", "RE2 has no \\Z; use \\z (end of text) or $"),
    ("invalid escape sequence: \\", "back-references (\\1) are not supported by RE2; repeat the group instead"),
    ("bad repetition operator", "possessive and doubled quantifiers (a++, a**) are not supported; use a+"),
    ("invalid repetition size", "repetition counts are limited to 1000 in RE2"),
    ("pattern too large", "the compiled pattern exceeds RE2's memory limit; split it into several patterns"),
)


class RegexError(ValueError):
    """A pattern RE2 rejects; `hint` says what to write instead."""

    def __init__(self, message: str, hint: str | None):
        super().__init__(message)
        self.hint = hint


def _options(case_sensitive: bool) -> re2.Options:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    return options


def _explain(pattern: str, error: str) -> RegexError:
    hint = next((advice for marker, advice in _ADVICE if marker in error or marker in pattern), None)
    return RegexError(f"invalid regular expression '{pattern}': {error}", hint)


def _compile(pattern: str, case_sensitive: bool):
    try:
        return re2.compile(pattern, _options(case_sensitive))
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args else "rejected"
        raise _explain(pattern, reason) from None


def compile_any(patterns: Iterable[str], *, case_sensitive: bool):
    """One RE2 program matching where any pattern matches: one search per value, not one per pattern.

    Each pattern is compiled alone first so an error names the pattern the user wrote.
    """
    patterns = list(patterns)
    for pattern in patterns:
        _compile(pattern, True)
    if len(patterns) == 1:
        return _compile(patterns[0], case_sensitive)
    return _compile("|".join(f"(?:{p})" for p in patterns), case_sensitive)
