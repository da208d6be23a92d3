"""Did-you-mean suggestions: one rule for every misspelt name a user can write.

Keys, fields, parts, operators, verdicts, dispositions, lists, lint codes and
event fields all get their hint here, so every message suggests the same way.
"""
from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to a misspelt word.

    difflib's default cutoff (0.6) misses `STOPP` -> `STOP_RULE`, so a
    case-insensitive prefix match is tried first and the cutoff is lower.
    """
    options = list(choices)
    lowered = word.lower()
    by_lower = {c.lower(): c for c in options}
    if lowered in by_lower:
        return by_lower[lowered]
    prefixed = [c for c in options if lowered and (c.lower().startswith(lowered) or lowered.startswith(c.lower()))]
    if prefixed:
        return min(prefixed, key=lambda c: abs(len(c) - len(word)))
    close = difflib.get_close_matches(lowered, list(by_lower), n=1, cutoff=0.5)
    return by_lower[close[0]] if close else None


def hint_for(word: str, choices: Iterable[str]) -> str | None:
    """`did you mean X?` or None."""
    match = did_you_mean(word, choices)
    return f"did you mean {match}?" if match else None
