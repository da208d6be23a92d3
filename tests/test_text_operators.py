"""`contains`, `starts_with`, `ends_with` over a list: one RE2 program gives exactly what the per-string
scan gave (issue 15 item 4)."""
from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import given, strategies as st

from engine.mail import regex
from engine.mail.operators import build_contains, build_ends_with, build_starts_with
from engine.mail.values import NumberLiteral, ValueForm, text_key

# Letters that fold, compose or vanish in the match form, a surrogate, and plain ASCII.
ALPHABET = st.sampled_from(list("abcAB ß\u00df\u1e9eＡｂ\u200b\u00ad\u0301e\u00e9\u0130ıİ\ufb01\ud800\x00@.*?|(\\") + ["ss"])
TEXT = st.lists(ALPHABET, max_size=12).map("".join)


# Each operator beside the test it made of every listed string before.
OPERATORS = {"contains": (build_contains, lambda text, word: word in text),
             "starts_with": (build_starts_with, str.startswith),
             "ends_with": (build_ends_with, str.endswith)}


def _scan(operator: str, literals: list, case_sensitive: bool):
    """The route before: every listed string tested against the value's match form."""
    key, test = text_key(case_sensitive), OPERATORS[operator][1]
    wanted = [key(lit.text if isinstance(lit, NumberLiteral) else lit) for lit in literals]
    return lambda text: any(test(key(text), word) for word in wanted)


@given(operator=st.sampled_from(sorted(OPERATORS)), literals=st.lists(TEXT, min_size=1, max_size=12),
       values=st.lists(TEXT, max_size=8), case_sensitive=st.booleans(), one_program=st.booleans())
def test_a_list_agrees_with_the_per_string_scan(operator, literals, values, case_sensitive, one_program):
    if one_program:      # past the few strings scanned one by one: the RE2 route
        literals = literals + ["\x01"] * regex.SCAN_AT_MOST
    pred = OPERATORS[operator][0](literals, ValueForm("text", case_sensitive, "subject", "subject"))
    scan = _scan(operator, literals, case_sensitive)
    for value in values:
        assert pred(value, None) is scan(value), (operator, literals, value, case_sensitive)


@pytest.mark.parametrize("count", [1, regex.SCAN_AT_MOST, regex.SCAN_AT_MOST + 1, 300])
@pytest.mark.parametrize(("value", "hit"), [
    ("Your ＩＮＶＯＩＣＥ is due", True),       # full-width (NFKC)
    ("in\u200bvoice", True),                   # a zero-width space inside
    ("INVOICES", True), ("invoce", False), ("", False),
])
def test_contains_matches_in_the_match_form_on_both_routes(count, value, hit):
    literals = ["Invoice", *(f"zq{i:05d}xk" for i in range(count - 1))]
    pred = build_contains(literals, ValueForm("text", False, "subject", "subject"))
    assert pred(value, None) is hit


def test_case_sensitive_contains_keeps_case_but_not_ignorables():
    literals = ["CEO", *(f"w{i}" for i in range(10))]
    pred = build_contains(literals, ValueForm("text", True, "subject", "subject"))
    assert pred("the C\u200bEO", None) and not pred("the ceo", None)


def test_an_empty_string_in_the_list_holds_for_every_text_value():
    pred = build_contains(["", *(f"w{i}" for i in range(10))], ValueForm("text", False, "subject", "subject"))
    assert pred("anything", None) and pred("", None) and pred(574, None) and not pred(None, None)


def test_numbers_and_booleans_are_searched_as_their_json_text():
    pred = build_contains([NumberLiteral(57, "57"), *(f"w{i}" for i in range(10))],
                          ValueForm("value", False, "processing_time_ms", "processing_time_ms"))
    assert pred(1574, None) and pred("x57", None) and not pred(5.7, None) and not pred({"57": 1}, None)


def test_one_search_per_value_whatever_the_number_of_strings():
    """Linear in the value, independent of the list: a value is searched once, not once per string."""
    calls = []
    real = regex.re2.compile

    def counting(pattern, options=None):
        program = real(pattern, options)
        return mock.Mock(search=lambda text: calls.append(text) or program.search(text))

    with mock.patch.object(regex.re2, "compile", counting):
        pred = build_contains([f"zq{i:05d}xk" for i in range(10_000)], ValueForm("text", False, "s", "s"))
    assert not pred("x" * 5000, None) and pred("a zq09999xk", None)
    assert len(calls) == 2


@pytest.mark.parametrize(("literal", "value", "hit"), [
    ("\ud800", "a\ud800b", True), ("\ud800", "a?b", False), ("?", "a\ud800b", False),
    ("a.c", "abc", False), ("a.c", "xa.cx", True), ("(a|b)", "a", False),
])
def test_strings_are_literal_code_points_on_the_one_program_route(literal, value, hit):
    """Regex syntax is escaped; a lone surrogate (JSON "\\ud800") is itself, not a replacement mark."""
    literals = [literal, *(f"w{i}" for i in range(regex.SCAN_AT_MOST))]
    assert build_contains(literals, ValueForm("text", True, "s", "s"))(value, None) is hit


@pytest.mark.parametrize(("operator", "value", "hit"), [
    ("starts_with", "Invoice 42", True), ("starts_with", "re: invoice", False),
    ("ends_with", "your ＩＮＶＯＩＣＥ", True), ("ends_with", "invoice.", False),
    ("starts_with", "x" * 100_000, False), ("ends_with", "x" * 100_000 + "invoice", True),
])
def test_starts_and_ends_with_over_a_list_are_anchored(operator, value, hit):
    literals = ["invoice", *(f"zq{i:05d}xk" for i in range(1_000))]
    assert OPERATORS[operator][0](literals, ValueForm("text", False, "s", "s"))(value, None) is hit
