"""Every load error the spec names: its code, message, line, column and hint."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from engine import PolicyError, load_policy, load_policy_text

HEAD = "version: 1\nrules:\n"
TABLE = Path(__file__).with_name("load_errors.yaml")
CARET = re.compile(r"[ ]*\^[ ]*")


def errors_of(text: str, **kwargs) -> list:
    with pytest.raises(PolicyError) as info:
        load_policy_text(textwrap.dedent(text), **kwargs)
    return info.value.errors


def marked(text: str) -> tuple[str, int, int]:
    """The policy without its caret line, and the 1-based line and column the caret points at."""
    lines = text.split("\n")
    [at] = [i for i, line in enumerate(lines) if CARET.fullmatch(line)]
    return "\n".join(lines[:at] + lines[at + 1:]), at, lines[at].index("^") + 1


def _cases() -> list:
    cases = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    return [pytest.param(*marked(c["policy"]), c["code"], c["message"], c.get("hint"), id=c["message"][:50])
            for c in cases]


@pytest.mark.parametrize(("text", "line", "col", "code", "message", "hint"), _cases())
def test_load_error(text, line, col, code, message, hint, monkeypatch):
    monkeypatch.delenv("SUBJECT_WORD", raising=False)
    monkeypatch.delenv("SES_RULES_TEST_UNSET", raising=False)
    errors = errors_of(text)
    match = [e for e in errors if e.code == code]
    assert match, [str(e) for e in errors]
    error = match[0]
    assert message in error.message
    assert (error.line, error.col) == (line, col), str(error)
    assert error.file == "<string>" and error.severity == "error"
    if hint:
        assert hint in (error.hint or "")
    assert str(error).startswith(f"<string>:{line}:{col}: error: {error.message}")


def test_the_caret_marks_line_and_column():
    assert marked("a: 1\nbb: {x}\n     ^\nc: 2\n") == ("a: 1\nbb: {x}\nc: 2\n", 2, 6)


def test_all_errors_are_collected_not_just_the_first():
    errors = errors_of(HEAD + "  - {name: a, disposition: STOPP}\n  - {name: b, disposition: CONTINUE, when: {spf: PAS}}\n")
    assert [e.code for e in errors] == ["bad-value", "bad-value"]
    assert [e.line for e in errors] == [3, 4]


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "deploy.yaml"
    path.write_text("version: 1\nrules:\n  - {name: r, disposition: STOPP}\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value.errors[0]).startswith(f"{path}:3:28: error:")


def test_missing_policy_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "nope.yaml")
    assert info.value.errors[0].code == "unreadable"


def test_invalid_utf8_names_the_position(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes(b"version: 1\nname: caf\xe9\nrules: []\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    error = info.value.errors[0]
    assert (error.code, error.line, error.col) == ("not-utf8", 2, 10)


def test_a_failed_load_applies_nothing():
    """Loading is atomic: an error anywhere means no Policy object at all."""
    with pytest.raises(PolicyError):
        load_policy_text(HEAD + "  - {name: ok, disposition: CONTINUE}\n  - {name: bad, disposition: NOPE}\n")


def test_name_defaults_to_the_file_stem(tmp_path):
    path = tmp_path / "support-inbox.yaml"
    path.write_text("version: 1\nrules: []\n")
    assert load_policy(path).name == "support-inbox"
    assert load_policy_text("version: 1\nrules: []\n").name == "<string>"


def test_keywords_are_case_insensitive():
    policy = load_policy_text("version: 1\ndefault: stop_rule_set\non_error: Stop_Rule\n"
                              "rules:\n  - {name: r, disposition: continue, mode: SHADOW}\n")
    assert (policy.default, policy.on_error) == ("STOP_RULE_SET", "STOP_RULE")
    assert (policy.rules[0].disposition, policy.rules[0].mode) == ("CONTINUE", "shadow")


def test_name_off_is_the_string_off():
    assert load_policy_text("version: 1\nname: off\nrules: []\n").name == "off"


def test_a_long_chain_of_named_conditions_is_refused_without_recursion():
    from engine.lang.named import MAX_CONDITION_DEPTH

    n = MAX_CONDITION_DEPTH + 5
    lines = ["version: 1", "conditions:"] + [f"  c{i}: {{condition: c{i + 1}}}" for i in range(n)]
    lines += [f"  c{n}: {{spf: PASS}}", "rules:", "  - {name: r, disposition: CONTINUE, when: {condition: c0}}"]
    errors = errors_of("\n".join(lines) + "\n")
    assert {e.code for e in errors} == {"too-deep"}
    assert any("limit 100" in e.message for e in errors)


def test_a_chain_within_the_limit_evaluates():
    lines = ["version: 1", "conditions:"] + [f"  c{i}: {{condition: c{i + 1}}}" for i in range(50)]
    lines += ["  c50: {spf: PASS}", "rules:", "  - {name: r, disposition: STOP_RULE, when: {condition: c0}}"]
    policy = load_policy_text("\n".join(lines) + "\n")
    event = {"Records": [{"eventSource": "aws:ses", "ses": {"mail": {}, "receipt": {"spfVerdict": {"status": "PASS"}}}}]}
    assert policy.evaluate(event, explain=True).rule == "r"
