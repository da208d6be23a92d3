"""Did-you-mean: the same rule for every name, and bounded work however many names and misspellings."""
from __future__ import annotations

import difflib

import pytest

from engine.suggest import MAX_CANDIDATES, MAX_FUZZY_WORDS, Names, did_you_mean, hint_for


@pytest.mark.parametrize(("word", "choices", "expected"), [
    ("STOPP", ("CONTINUE", "STOP_RULE", "STOP_RULE_SET"), "STOP_RULE"),      # difflib's 0.6 cutoff misses it
    ("subjet", ("subject", "sender", "spf"), "subject"),
    ("Subject", ("subject", "sender"), "subject"),
    ("partnrs", ("partners", "blocked"), "partners"),
    ("xyzzy", ("subject", "sender"), None),
])
def test_the_suggestion_rule(word, choices, expected):
    assert did_you_mean(word, choices) == expected
    assert hint_for(word, Names(choices)) == (f"did you mean {expected}?" if expected else None)


def test_a_name_set_answers_each_distinct_word_once(monkeypatch):
    names = Names([f"list{i}" for i in range(15_000)] + ["partners"])
    calls = []
    real = difflib.get_close_matches
    monkeypatch.setattr(difflib, "get_close_matches", lambda *a, **k: calls.append(len(a[1])) or real(*a, **k))
    assert [names.closest("parntesr") for _ in range(5_000)] == ["partners"] * 5_000
    assert len(calls) == 1 and calls[0] <= MAX_CANDIDATES


def test_a_name_set_stops_asking_difflib_after_many_distinct_words(monkeypatch):
    names = Names([f"n{i:05d}" for i in range(20_000)])
    calls = []
    real = difflib.get_close_matches
    monkeypatch.setattr(difflib, "get_close_matches", lambda *a, **k: calls.append(1) or real(*a, **k))
    for i in range(MAX_FUZZY_WORDS * 3):
        names.closest(f"zz{i}")
    assert len(calls) == MAX_FUZZY_WORDS == names.fuzzy_words
    assert names.closest("n00012") == "n00012" and names.closest("n0001") == "n00010"   # exact, prefix: no difflib


def test_a_large_set_finds_a_close_neighbour_in_sorted_order():
    names = Names([f"team-{i}-blocked" for i in range(10_000)] + ["partners-emea", "partners-apac"])
    assert names.closest("partners-emae") == "partners-emea"
