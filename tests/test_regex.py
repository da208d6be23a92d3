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


# -- each RE2 error code its own hint (issue 16 item 6) -----------------------------------------

@pytest.mark.parametrize(("pattern", "reason", "advice"), [
    ("[CASE-\\d{6}", "missing ]", "never closed: end it with `]`, or write `\\[`"),
    ("[CASE-", "missing ]", "never closed"),
    ("\\q", "invalid escape sequence", "`\\q` is not an escape RE2 knows"),
    ("[\\q]", "invalid escape sequence", "`\\q` is not an escape"),
    ("[a-\\w]", "invalid escape sequence", "`\\w` is a class, so it cannot end a range"),
    ("[0-\\d]", "invalid escape sequence", "`\\d` is a class"),
    ("(a)\\1", "invalid escape sequence", "back-references"),
    ("\\u0041", "invalid escape sequence", "`\\x{0041}`"),
    ("(abc", "missing )", "a group is never closed"),
    ("abc)", "unexpected )", "closes no group"),
    ("[z-a]", "invalid character class range", "from the lower character to the higher"),
    ("\\pX", "invalid character class range", "unknown Unicode class"),
    ("*a", "no argument for repetition operator", "write `\\*` for a literal `*`"),
    ("a\\", "trailing \\", "lone backslash"),
    ("(?i", "invalid perl operator", "flags are written"),
    ("(?P<n>a)(?P=n)", "invalid perl operator", "named back-references"),
    ("x{2,1}", "invalid repetition size", "m <= n"),
])
def test_each_re2_error_gets_its_own_hint(pattern, reason, advice):
    """"invalid escape sequence" used to get the back-reference hint whatever the escape was."""
    with pytest.raises(RegexError) as info:
        compile_any([pattern], case_sensitive=True)
    assert str(info.value) == f"invalid regular expression '{pattern}': {reason}"
    assert advice in info.value.hint
    if "\\1" not in pattern and "P=" not in pattern:
        assert "back-reference" not in info.value.hint


# -- the program budget (SPEC 3.8) ----------------------------------------------------------------

from engine.mail.regex import MAX_PROGRAM, Budget, budget, combine  # noqa: E402


def test_a_pattern_over_the_budget_is_refused_by_a_capped_compile():
    """`\\pL{300}` compiles to 358,805 instructions (0.15 s); RE2 stops at what is left of the budget."""
    ledger = Budget()
    with pytest.raises(RegexError) as info:
        ledger.compile_any(["\\pL{300}a"], case_sensitive=True)
    assert "is too large" in str(info.value) and f"{MAX_PROGRAM:,}" in str(info.value)
    assert "`\\pL{300}`" in info.value.hint and ledger.used == 0


def test_the_budget_is_shared_by_every_pattern_of_a_load_and_identical_ones_compile_once():
    ledger = Budget(limit=20_000)
    ledger.compile_any(["\\pL{10}"], case_sensitive=True)           # about 12,000 instructions
    checked = ledger.compile_memory
    ledger.compile_any(["\\pL{10}"], case_sensitive=True)
    assert 11_000 < ledger.used < 13_000 and ledger.compile_memory == checked     # checked once
    with pytest.raises(RegexError, match="used before this one"):
        ledger.compile_any(["\\pL{10}x"], case_sensitive=True)
    assert ledger.spent
    with pytest.raises(RegexError, match="missing \\]"):              # syntax is still checked past the budget
        ledger.compile_any(["[a"], case_sensitive=True)


def test_a_spent_budget_keeps_refusals_cheap():
    """618 oversized patterns in 618 tests: one capped compile; after it, a few KB of RE2 memory each."""
    from engine.mail.regex import COMPILE_BYTES_PER_INSTRUCTION, COMPILE_FLOOR
    ledger = Budget()
    refused = 0
    for i in range(618):
        try:
            ledger.compile_any([f"\\pL{{300}}{i:x}"], case_sensitive=True)
        except RegexError:
            refused += 1
    assert refused == 1 and ledger.used == 0
    assert ledger.compile_memory <= COMPILE_BYTES_PER_INSTRUCTION * MAX_PROGRAM + 618 * COMPILE_FLOOR


def test_the_loader_opens_one_budget_per_policy():
    """Three rules of ~36,000 instructions each: the third overruns the 100,000 of its policy, not more."""
    from engine import PolicyError, load_policy_text
    rules = [f"  - {{name: r{c}, disposition: STOP_RULE, when: {{subject: {{matches: '\\pL{{30}}{c}'}}}}}}"
             for c in "abc"]
    with budget() as outer:
        with pytest.raises(PolicyError) as info:
            load_policy_text("version: 1\nrules:\n" + "\n".join(rules) + "\n")
        assert load_policy_text("version: 1\nrules:\n" + "\n".join(rules[:2]) + "\n").rules
    (error,) = info.value.errors
    assert error.code == "bad-literal" and "'\\pL{30}c' is too large" in error.message and error.line == 5
    assert outer.used == 0


@pytest.mark.parametrize("patterns", [
    ("(?s).*\\.a\\.example", "(?s).*\\.b\\.example", "(?s)x.*"),
    ("(?s).*a|b", "(?s).*c"), ("(?s).*(a)", "(?s).*b"), ("(?s).*x",),
])
def test_combined_patterns_match_what_each_matches(patterns):
    """A leading `(?s).*` is written once for all patterns (the DFA follows one `.*`), never across a `|`."""
    program = compile_any(patterns, case_sensitive=True)
    for text in ("w.a.example", "w.b.example", "xyz", "b", "zzb", "a", "c", "zc", "zx", "x\n.a.example"):
        expected = any(compile_any([p], case_sensitive=True).fullmatch(text) for p in patterns)
        assert bool(program.fullmatch(text)) is expected, (patterns, text)
    assert combine(("(?s).*a", "(?s).*b")) == "(?s).*(?:a|b)"
    assert combine(("(?s).*a|b", "(?s).*c")) == "(?:(?s).*c)|(?:(?s).*a|b)"


def test_a_large_combined_program_gets_room_for_its_dfa():
    """RE2 splits max_mem between the program and its DFA cache; too little and it falls back to its NFA."""
    from engine.mail.regex import RUN_MEM_FLOOR, run_memory
    assert run_memory(100) == RUN_MEM_FLOOR and run_memory(50_000) == 50_000 * 1024
    patterns = [f"x{i}\\d+y" for i in range(3000)]                    # no common `.*`: nothing to factor
    program = compile_any(patterns, case_sensitive=True)
    assert program.options.max_mem > RUN_MEM_FLOOR and program.options.never_capture
