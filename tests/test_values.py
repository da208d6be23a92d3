"""engine.mail.values: the match form text operators compare in (SPEC 3.5, issue 10 item 10)."""
from __future__ import annotations

import sys
import unicodedata

import pytest
import regex
from hypothesis import given, strategies as st

from engine.mail.values import match_form, match_form_keep_case, remove_ignorables, text_key


@pytest.mark.parametrize(("text", "form"), [
    ("C\u200bEO", "ceo"),            # zero-width space
    ("C\u00adEO", "ceo"),            # soft hyphen
    ("ＣＥＯ", "ceo"),               # full-width letters (NFKC)
    ("C\u202eE\u2066O", "ceo"),      # bidi controls
    ("ceo\ufe0f", "ceo"),            # variation selector
    ("Stra\u00dfe", "strasse"),      # case folding
    ("cafe\u0301", "café"),          # composed
    ("e\u034f\u0301", "é"),          # a removed joiner lets NFKC compose again
    ("ceo＠corp.example", "ceo@corp.example"),
])
def test_match_form(text, form):
    assert match_form(text) == form


def test_case_sensitive_skips_only_the_folding():
    assert match_form_keep_case("Ｃ\u200bEO") == "CEO"
    assert text_key(True)("C\u200bEO") == "CEO" and text_key(False)("C\u200bEO") == "ceo"


def test_ascii_takes_the_cheap_path_and_agrees():
    for text in ("Hello World", "a@b.example", ""):
        assert match_form(text) == unicodedata.normalize("NFKC", text).casefold()


_PROPERTY = regex.compile(r"\p{Default_Ignorable_Code_Point}")


def test_ignorables_are_exactly_unicodes_default_ignorable_code_points():
    """Every code point assigned in this Python's Unicode: the engine's class against the `regex` package's."""
    ours = {c for c in map(chr, range(sys.maxunicode + 1)) if remove_ignorables(c) == "" and c != ""}
    theirs = {c for c in map(chr, range(sys.maxunicode + 1)) if _PROPERTY.match(c)}
    assigned = {c for c in ours | theirs if unicodedata.category(c) != "Cn" or 0xE0000 <= ord(c) <= 0xE0FFF}
    assert ours & assigned == theirs & assigned
    assert "\u200b" in ours and "\u00ad" in ours and "\U000e0041" in ours


@given(st.text())
def test_match_form_is_idempotent(text):
    once = match_form(text)
    assert match_form(once) == once
    kept = match_form_keep_case(text)
    assert match_form_keep_case(kept) == kept
    assert not _PROPERTY.search(once)
