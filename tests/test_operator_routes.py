"""The operators' fast routes answer as the general route they stand for.

`matches` and `glob` ask RE2 for a yes or no without the wrapper's match object, and
hand ASCII text (its own match form) straight to RE2; `starts_with` / `ends_with`
take ASCII text's match form inline; `in_domain` on a short list asks `str.endswith`. The evaluation's differential test cannot see
these (both of its routes call the same predicates), so each is held here against the
public API on generated text.
"""
from __future__ import annotations

import pytest
import re2
from hypothesis import given
from hypothesis import strategies as st

from engine.mail import mailbox, operators, regex
from engine.mail.values import ValueForm, match_form_keep_case, text_key

TEXT = st.one_of(
    st.text(alphabet="abcXYZ -:[]0123456789.\u00e9\u0130\u017f\uff21\u200b", max_size=12),
    st.text(max_size=12),
    st.sampled_from(["[CASE-123] hi", "Re: x", "ALARM: cpu", "ok: fine", "\ud800x", ""]),
)
VALUES = st.one_of(TEXT, st.integers(-5, 20), st.floats(allow_nan=False), st.booleans(), st.none(),
                   st.just([1]), st.just({"a": 1}))
PATTERNS = ["^(Re|Fwd?): ", r"\[(CASE|TICKET)-[0-9]+\]", "x", "", "^$", "a.c", "\u00e9", r"\d+$", "(?s).*"]


def public(program, method: str):
    """What the predicate stood for: the wrapper's own call on the text's match form."""
    run = getattr(program, method)

    def pred(v, ctx=None):
        text = operators.as_text(v)
        if text is None:
            return False
        try:
            return run(match_form_keep_case(text)) is not None
        except UnicodeEncodeError:
            return run(match_form_keep_case(text.encode("utf-8", "replace").decode("utf-8"))) is not None
    return pred


@pytest.mark.parametrize("case_sensitive", [False, True])
@pytest.mark.parametrize("method", ["search", "match", "fullmatch"])
@given(value=VALUES, pattern=st.sampled_from(PATTERNS))
def test_regex_yes_or_no_agrees_with_the_wrappers_match(value, pattern, method, case_sensitive):
    program = regex.compile_one(pattern, case_sensitive)
    assert operators._regex_pred(program, method)(value, None) is public(program, method)(value)


def test_the_direct_route_is_taken():
    program = regex.compile_one("a", False)
    assert operators._yes_no(program, "search").__qualname__.startswith("_yes_no.<locals>.test")


def test_without_the_wrappers_program_the_public_call_answers():
    class Wrapped:              # a google-re2 build whose program is not reachable
        def __init__(self, program):
            self.search, self.pattern = program.search, program.pattern

    program = re2.compile("b+")
    fallback = operators._yes_no(Wrapped(program), "search")
    assert fallback("abb") is True and fallback("a") is False


@pytest.mark.parametrize("case_sensitive", [False, True])
@pytest.mark.parametrize("op", ["starts_with", "ends_with"])
@given(value=VALUES, literals=st.lists(TEXT.filter(lambda t: "\ud800" not in t), min_size=1, max_size=3))
def test_affixes_agree_with_the_match_form_route(value, literals, op, case_sensitive):
    form = ValueForm("text", case_sensitive)
    key = text_key(case_sensitive)
    wanted = tuple(key(lit) for lit in literals)
    text = operators.as_text(value)
    expected = text is not None and getattr(key(text), op.replace("_", ""))(wanted)
    assert operators.OPERATORS[op].build(literals, form)(value, None) is expected


_LABEL = st.sampled_from(["example", "com", "a", "sub", "xn--p1ai", "co", "uk", "ex-ample", "e"])
_DOMAIN = st.lists(_LABEL, min_size=1, max_size=5).map(".".join)


@given(value=_DOMAIN, listed=st.lists(_DOMAIN, min_size=1, max_size=6))
def test_a_short_domain_list_agrees_with_the_label_walk(value, listed):
    """Up to SHORT_DOMAIN_LIST domains `in_domain` uses endswith; past it the label walk, which is the reference."""
    wanted = frozenset(listed)
    assert len(wanted) <= mailbox.SHORT_DOMAIN_LIST
    walk = mailbox.in_domains(value, wanted, max(map(len, wanted)))
    assert mailbox.within_domains(wanted)(value) is walk


def test_a_long_domain_list_walks_the_labels():
    wanted = frozenset(f"d{k}.example" for k in range(mailbox.SHORT_DOMAIN_LIST + 1))
    within = mailbox.within_domains(wanted)
    assert within("a.d3.example") and not within("d3.example.org") and not within("xd3.example")
    assert "in_domains" in within.__code__.co_names or "in_domains" in within.__code__.co_freevars
