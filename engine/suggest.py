"""Did-you-mean suggestions: one rule for every misspelt name a user can write.

Keys, fields, parts, operators, verdicts, dispositions, lists, lint codes and
event fields all get their hint here, so every message suggests the same way.

A policy can define thousands of names and misspell them thousands of times, and
difflib compares a word with every candidate: over all names for every reference
that is quadratic (15,000 lists and 5,000 references took 11 minutes). `Names`
answers once per distinct word, from a bounded neighbourhood of candidates, and
stops asking difflib after `MAX_FUZZY_WORDS` distinct words.
"""
from __future__ import annotations

import bisect
from typing import Iterable

MAX_CANDIDATES = 64       # candidates per word: all names of a small set, else the nearest in sorted order
MAX_FUZZY_WORDS = 200     # distinct words per name set that get a difflib search; later ones prefix match only


class Names:
    """A set of names asked for suggestions many times (a policy's lists, its named conditions)."""

    def __init__(self, choices: Iterable[str]):
        self.by_lower: dict[str, str] = {}
        for choice in choices:
            self.by_lower.setdefault(choice.lower(), choice)
        self.sorted = sorted(self.by_lower)
        self.fuzzy_words = 0                 # difflib searches done, for tests of the bound
        self._memo: dict[str, str | None] = {}

    def closest(self, word: str) -> str | None:
        if word not in self._memo:
            self._memo[word] = self._closest(word.lower())
        return self._memo[word]

    def _closest(self, lowered: str) -> str | None:
        if lowered in self.by_lower:
            return self.by_lower[lowered]
        at = bisect.bisect_left(self.sorted, lowered)
        near = self.sorted[max(0, at - MAX_CANDIDATES // 2):at + MAX_CANDIDATES // 2]
        prefixed = [c for c in near if lowered and (c.startswith(lowered) or lowered.startswith(c))]
        if prefixed:
            return self.by_lower[min(prefixed, key=lambda c: abs(len(c) - len(lowered)))]
        if self.fuzzy_words >= MAX_FUZZY_WORDS:
            return None
        self.fuzzy_words += 1
        import difflib   # only a misspelt name needs it: not a policy that loads (a cold start)
        close = difflib.get_close_matches(lowered, near, n=1, cutoff=0.5)
        return self.by_lower[close[0]] if close else None


def did_you_mean(word: str, choices: Iterable[str] | Names) -> str | None:
    """The closest choice to a misspelt word.

    difflib's default cutoff (0.6) misses `STOPP` -> `STOP_RULE`, so a
    case-insensitive prefix match is tried first and the cutoff is lower.
    """
    names = choices if isinstance(choices, Names) else Names(choices)
    return names.closest(word)


def hint_for(word: str, choices: Iterable[str] | Names) -> str | None:
    """`did you mean X?` or None."""
    match = did_you_mean(word, choices)
    return f"did you mean {match}?" if match else None
