"""RE2 compilation: rejected constructs get a clear message and advice."""
from __future__ import annotations

import pytest

from engine.mail.operators import glob_to_regex
from engine.mail.regex import RegexError, compile_any


@pytest.mark.parametrize(("pattern", "advice"), [
    ("(?=a)b", "look-ahead"), ("(?!a)b", "negative look-ahead"), ("(?<=a)b", "look-behind"),
    ("(?<!a)b", "negative look-behind"), ("(a)\\1", "back-references"), ("a\\Z", "\\z"),
    ("a++", "possessive"), ("a{1001}", "limited to 1000"),
])
def test_rejected_constructs_say_what_to_write_instead(pattern, advice):
    with pytest.raises(RegexError) as info:
        compile_any([pattern], case_sensitive=False)
    assert pattern in str(info.value) and advice in info.value.hint


def test_error_names_the_pattern_the_user_wrote_not_the_alternation():
    with pytest.raises(RegexError) as info:
        compile_any(["ok", "(?=bad)"], case_sensitive=False)
    assert "'(?=bad)'" in str(info.value) and "|" not in str(info.value)


def test_one_program_for_several_patterns_and_case_folding():
    program = compile_any(["^re:", "urgent"], case_sensitive=False)
    assert program.search("RE: x") and program.search("very URGENT") and not program.search("fwd")
    assert not compile_any(["URGENT"], case_sensitive=True).search("urgent")


def test_rejections_write_nothing_to_stderr(capfd):
    with pytest.raises(RegexError):
        compile_any(["(?=x)"], case_sensitive=False)
    assert capfd.readouterr().err == ""


def test_pathological_pattern_runs_in_linear_time_engine():
    program = compile_any(["(a+)+$"], case_sensitive=True)
    assert program.search("a" * 100_000 + "!") is None


@pytest.mark.parametrize(("glob", "text", "hit"), [
    ("*.pdf", "x.pdf", True), ("*.pdf", "xpdf", False), ("a?c", "abc", True), ("a?c", "ac", False),
    ("[x]", "[x]", True), ("a*", "a\nb", True), ("(a)", "(a)", True),
])
def test_glob_translation(glob, text, hit):
    assert bool(compile_any([glob_to_regex(glob)], case_sensitive=True).fullmatch(text)) is hit
