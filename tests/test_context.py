"""engine.mail.context: the per-record header index and address budget."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from engine.mail.context import ADDRESS_BUDGET, RecordContext


def _ctx(headers, names=frozenset({"x-flag", "precedence"})) -> RecordContext:
    return RecordContext({"mail": {"headers": headers}, "receipt": {}}, names)


def test_the_index_holds_the_wanted_names_case_insensitively_in_order():
    ctx = _ctx([{"name": "X-Flag", "value": "yes"}, {"name": "Subject", "value": "s"},
                {"name": "x-FLAG", "value": "no"}, {"name": "Precedence", "value": "bulk"}])
    assert ctx.headers() == {"x-flag": ["yes", "no"], "precedence": ["bulk"]}


@pytest.mark.parametrize("bad", [
    "X-Flag", None, 7, ["name", "X-Flag"], {"value": "no name"}, {"name": 6, "value": "a number"},
    {"name": ["X", "-", "F", "l", "a", "g"], "value": "a list of six"}, {"name": None, "value": "none"},
    {"name": "X-Flag"},     # no value: no value to test
])
def test_an_entry_that_is_no_header_is_skipped_and_the_others_kept(bad):
    ctx = _ctx([{"name": "X-Flag", "value": "yes"}, bad, {"name": "Precedence", "value": "list"}])
    assert ctx.headers() == {"x-flag": ["yes"], "precedence": ["list"]}


def test_headers_that_are_no_list_index_nothing():
    assert _ctx({"name": "X-Flag", "value": "yes"}).headers() == {}
    assert _ctx([{"name": "X-Flag", "value": "yes"}], frozenset()).headers() == {}


def test_strings_past_the_budget_are_parsed_by_the_fallback():
    """One string over the budget switches the rest of the record to the linear fallback, which
    reads a quoted name's white space collapsed (the reference parser keeps it)."""
    ctx = _ctx([])
    quoted = '"A  B" <a@b.example>'
    (first,), _ = ctx.parse_all([quoted, "x" * ADDRESS_BUDGET + "@pad.example"])
    ((again,),) = ctx.parse_all([quoted])
    assert first.display_name == "A  B"
    assert again.display_name == "A B"


def test_a_counted_field_is_charged_once():
    ctx = _ctx([])
    strings = ["a@b.example", "c@d.example"]
    assert ctx.count_bare(strings)
    ctx.parse_all(strings, charge=False)
    assert ctx._address_chars == sum(map(len, strings))
    assert not ctx.count_bare(["not an address", "a@b.example"])
    assert ctx._address_chars == sum(map(len, strings))


_names = st.lists(st.sampled_from(["X-Flag", "x-flag", "X-FLAG\n", "\nx-flag", "Σ", "XΣ", "xς", "İ", "i̇", "Precedence",
                                   "precedence ", "Subject", ""]), max_size=4).map("".join)
_entries = st.lists(st.one_of(st.fixed_dictionaries({"name": _names, "value": st.sampled_from(["a", "B"])}),
                              st.fixed_dictionaries({"name": _names}), st.just({"value": "no name"}),
                              st.just("no object"), st.fixed_dictionaries({"name": st.integers(), "value": st.just("n")})),
                    max_size=8)


@given(_entries, st.sets(_names.map(str.lower), max_size=3))
def test_the_index_is_what_a_plain_loop_over_the_entries_gives(entries, wanted):
    expected: dict = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and "value" in entry:
            if entry["name"].lower() in wanted:
                expected.setdefault(entry["name"].lower(), []).append(entry["value"])
    assert _ctx(entries, frozenset(wanted)).headers() == expected
