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


def rule(when: str, extra: str = "") -> str:
    """A one-rule policy whose `when` sits on line 4, column 11."""
    return HEAD + "  - name: r\n    when: " + when + "\n    disposition: STOP_RULE\n" + extra


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


# -- issue 16: every independent error, YAML mistakes in words, rule keys under `when` ----------

def test_a_duplicate_key_does_not_hide_the_other_errors():
    """A duplicate `when` used to be the only error reported; `frm` and `STOPP` were hidden."""
    errors = errors_of(HEAD + "  - name: r\n    when: {frm: a@b.example}\n    when: {spf: PASS}\n"
                       "    disposition: STOPP\n")
    assert [(e.code, e.line) for e in errors] == [("unknown-field", 4), ("duplicate-key", 5), ("bad-value", 6)]
    assert errors[0].hint == "did you mean from?" and errors[2].hint == "did you mean STOP_RULE?"


@pytest.mark.parametrize(("text", "where"), [
    ("version: 1\nversion: 1\nrules: [{name: a, disposition: STOPP}]\n", (2, 1)),
    ("version: 1\ndescription: !!binary aGk=\nrules: [{name: a, disposition: STOPP}]\n", (2, 14)),
    ("version: 1\nrules: [{name: a, <<: {b: 1}, disposition: STOPP}]\n", (2, 19)),
])
def test_duplicate_tagged_and_merge_keys_are_reported_with_the_rest(text, where):
    errors = errors_of(text)
    assert (errors[0].line, errors[0].col) == where and "disposition must be one of" in errors[-1].message


@pytest.mark.parametrize(("text", "line", "col", "message", "hint"), [
    pytest.param(HEAD + "  - name: x\n    when: {spf: PASS}\n   disposition: STOP_RULE\n", 5, 4,
                 "indented differently", "indent a key exactly like the keys beside it", id="key-less-indented"),
    pytest.param(HEAD + "  - name: x\n    when:\n      spf: PASS\n     disposition: STOP_RULE\n", 6, 6,
                 "indented differently", "with spaces", id="key-between-levels"),
    pytest.param(HEAD + "  - name: x\n\twhen: {spf: PASS}\n    disposition: STOP_RULE\n", 4, 1,
                 "a tab character", "replace the tab with spaces", id="tab-indent"),
    pytest.param("version: 1\n\trules: []\n", 2, 1, "a tab character", "spaces", id="tab-first"),
    pytest.param(HEAD + "  - {name: x, disposition: STOP_RULE, when: {subject: {glob: *.evil.example}}}\n", 3, 62,
                 "read as an alias", "quote the value: '*.evil.example'", id="unquoted-glob"),
    pytest.param(HEAD + "  - name: x\n    when: {subject: {glob: [a, *b]}}\n", 4, 32,
                 "read as an alias", "'*b'", id="unquoted-glob-in-list"),
    pytest.param(HEAD + "  - name: x\n    when: {subject: {matches: \"\\[CASE-\\d{6}\\]\"}}\n", 4, 32,
                 "a backslash in double quotes starts a YAML escape", "single quotes", id="regex-in-double-quotes"),
    pytest.param(HEAD + "  - name: x\n    when:\n      subject: Re: hello\n", 5, 18,
                 "': ' here would start a mapping", "quote a value that holds ': '", id="colon-in-value"),
    pytest.param(HEAD + "  - name: x\n    when: {subject: Re: hello}\n", 4, 23,
                 "a value holding ': ' needs quotes", "{subject: 'Re: hello'}", id="colon-in-flow-value"),
    pytest.param("version: 1\nrules: [\n", 3, 1, "not closed", "close every [ with ]", id="open-list"),
    pytest.param("version: 1\nrules: [{name: a\n", 3, 1, "not closed", "close", id="open-mapping"),
])
def test_yaml_mistakes_say_what_happened_and_what_to_write(text, line, col, message, hint):
    """PyYAML's parser words (`expected <block end>, but found '<block mapping start>'`) never reach a user."""
    (error,) = errors_of(text)
    assert (error.code, error.line, error.col) == ("yaml-syntax", line, col), str(error)
    assert message in error.message and hint in error.hint
    assert "<block" not in str(error) and "token" not in str(error)


def test_yaml_mistakes_are_told_the_same_by_the_pure_python_parser(monkeypatch):
    """Without libyaml PyYAML's own parser runs; its messages are translated too."""
    import yaml

    from engine.lang import yamlcompose
    monkeypatch.setattr(yamlcompose, "_LOADER", yaml.SafeLoader)
    for text, words in [(HEAD + "  - name: x\n    when: {spf: PASS}\n   disposition: STOP_RULE\n", "indented"),
                        ("version: 1\n\trules: []\n", "tab"), ("version: 1\nname: *.x\nrules: []\n", "alias"),
                        ("version: 1\nname: \"\\[\"\nrules: []\n", "backslash")]:
        (error,) = errors_of(text)
        assert words in error.message, str(error)


@pytest.mark.parametrize("key", ["disposition", "mode", "enabled", "description", "name"])
def test_a_rule_key_indented_under_when_says_so(key):
    """`disposition` under `when:` got "'all' cannot stand beside other keys ... wrap them": wrong advice."""
    value = {"disposition": "STOP_RULE", "mode": "shadow", "enabled": "false", "description": "d", "name": "n"}[key]
    text = HEAD + f"  - name: r\n    when:\n      all: [{{spf: PASS}}]\n      {key}: {value}\n"
    text += "" if key == "disposition" else "    disposition: STOP_RULE\n"
    (error,) = errors_of(text)
    assert (error.code, error.line, error.col) == ("rule-key-in-when", 6, 7)
    assert error.hint == f"indent {key}: like `when:`, as a key of the rule"


def test_a_rule_key_under_when_leaves_the_conditions_own_errors_reported():
    errors = errors_of(HEAD + "  - name: r\n    when:\n      frm: a@b.example\n      disposition: STOP_RULE\n")
    assert [e.code for e in errors] == ["unknown-field", "rule-key-in-when"]


HINTED = [
    rule("{headers_truncated: yes}"), rule("{subject: {exists: on}}"), "version: 1\n",
    rule("{subject: {matches: '(abc'}}"), rule("{subject: {matches: '(?i'}}"), rule("{subject: {matches: 'x(?#c)'}}"),
    rule("{subject: {matches: '(?P<n>a)(?P=n)'}}"), rule("{subject: {matches: 'a)'}}"),
    rule("{from: '${AWS_SECRET_ACCESS_KEY}'}"), rule("{subject: {matches: '\\pL{300}'}}"),
    "version: 1\nlists:\n  a: {file: /etc/hostname}\nrules: []\n", HEAD + "  - {name: r}\n",
]


@pytest.mark.parametrize("text", HINTED)
def test_hints_hold_no_nested_brackets(text):
    """Hints print inside ( ): "(only true and false are booleans in a policy (not yes/no/on/off))" read badly.
    Code in a hint stands in backticks, where brackets are the code's own."""
    import re
    for error in errors_of(text):
        prose = re.sub(r"`[^`]*`", "", error.hint or "")
        assert "(" not in prose and ")" not in prose, error.hint
