"""Every load error the spec names: its code, message, line, column and hint."""
from __future__ import annotations

import textwrap

import pytest

from engine import PolicyError, load_policy, load_policy_text

HEAD = "version: 1\nrules:\n"


def errors_of(text: str, **kwargs) -> list:
    with pytest.raises(PolicyError) as info:
        load_policy_text(textwrap.dedent(text), **kwargs)
    return info.value.errors


def rule(when: str, extra: str = "") -> str:
    """A one-rule policy whose `when` sits on line 4, column 11."""
    return HEAD + "  - name: r\n    when: " + when + "\n    disposition: STOP_RULE\n" + extra


# (policy, line, col, code, message part, hint part)
CASES = [
    (rule("{spf: PAS}"), 4, 17, "bad-value", "'PAS' is not a spf value", "did you mean PASS?"),
    (rule("{dmarc_policy: rejct}"), 4, 26, "bad-value", "not a dmarc_policy value", "did you mean reject?"),
    (rule("{subjet: hi}"), 4, 12, "unknown-field", "unknown field 'subjet'", "did you mean subject?"),
    (rule("{from.domian: x.example}"), 4, 12, "unknown-field", "unknown address part 'domian'", "did you mean domain?"),
    (rule("{subject.domain: x}"), 4, 12, "unknown-field", "not an address", None),
    (rule("{from: example.com}"), 4, 18, "bad-literal", "'example.com' is not one e-mail address", "from.domain"),
    (rule("{to: {in: [a@x.example, example.org]}}"), 4, 21, "bad-literal", "not one e-mail address", "to.domain"),
    (rule("{subject: {containz: x}}"), 4, 22, "unknown-operator", "unknown operator 'containz'", "did you mean contains?"),
    (rule("{subject: {matches: '(?<=re: )urgent'}}"), 4, 31, "bad-literal", "invalid regular expression", "look-behind"),
    (rule("{subject: {matches: '(a)\\1'}}"), 4, 31, "bad-literal", "invalid escape sequence", "back-references"),
    (rule("{subject: {matches: 'x\\Z'}}"), 4, 31, "bad-literal", "invalid", "\\z"),
    (rule("{subject: {not_contains: x, match: all}}"), 4, 39, "match-with-negation",
     "cannot also hold `match`", "drop `match`"),
    (rule("{all: []}"), 4, 17, "empty-list", "'all' needs at least one condition", None),
    (rule("{any: []}"), 4, 17, "empty-list", "'any' needs at least one condition", None),
    (rule("{condition: trusted}"), 4, 23, "unknown-condition", "unknown named condition 'trusted'", None),
    (rule("{sender: {in: {list: partnrs}}}", "lists:\n  partners: [a@x.example]\n"), 4, 32,
     "unknown-list", "unknown list 'partnrs'", "did you mean partners?"),
    (rule("{path: '$.Records[0].ses.mail.source', exists: true}"), 4, 19, "bad-path",
     "drop the `Records[n].ses` prefix", None),
    (rule("{path: 'mail.source', exists: true}"), 4, 19, "bad-path", "must start with", None),
    (rule("{subject: {exists: yes}}"), 4, 30, "expected-boolean", "exists must be true or false, not 'yes'",
     "only true and false"),
    (rule("{headers_truncated: yes}"), 4, 31, "expected-boolean", "headers_truncated must be true or false, not 'yes'",
     "only true and false"),
    (rule("{processing_time_ms: {gt: ten}}"), 4, 37, "expected-number", "gt must be a number", None),
    (rule("{subject: x, subject: y}"), 4, 24, "duplicate-key", "duplicate key 'subject' (first at line 4)", None),
    (rule("{subject: '${SUBJECT_WORD}'}"), 4, 21, "interpolation", "environment variable SUBJECT_WORD is not set",
     "${SUBJECT_WORD:-default}"),
    (rule("{subject: x, not: {spf: PASS}}"), 4, 11, "mixed-condition", "'not' cannot stand beside other keys", None),
    (rule("{}"), 4, 11, "empty-condition", "when is empty", None),
    (HEAD + "  - name: r\n    disposition: STOPP\n", 4, 18, "bad-value", "disposition must be one of",
     "did you mean STOP_RULE?"),
    (HEAD + "  - name: r\n    disposition: CONTINUE\n    mode: shadw\n", 5, 11, "bad-value", "mode must be one of",
     "did you mean shadow?"),
    (HEAD + "  - name: r\n    disposition: CONTINUE\n    enabled: off\n", 5, 14, "expected-boolean",
     "enabled must be true or false, not 'off'", None),
    (HEAD + "  - name: r\n    disposition: CONTINUE\n    wen: {spf: PASS}\n", 5, 5, "unknown-key",
     "unknown key 'wen' in a rule", "did you mean when?"),
    (HEAD + "  - name: has space\n    disposition: CONTINUE\n", 3, 11, "bad-name", "may only hold", None),
    (HEAD + "  - {name: r, disposition: CONTINUE}\n  - {name: r, disposition: CONTINUE}\n", 4, 12,
     "duplicate-rule", "rule name 'r' is already used (line 3)", None),
    (HEAD + "  - {disposition: CONTINUE}\n", 3, 5, "missing-key", "rule has no name", None),
    (HEAD + "  - {name: r}\n", 3, 5, "missing-key", "rule r has neither disposition nor actions", None),
    ("version: 2\nrules: []\n", 1, 10, "bad-value", "version must be one of 1", None),
    ("rules: []\n", 1, 1, "missing-key", "policy has no version", "version: 1"),
    ("version: 1\n", 1, 1, "missing-key", "policy has no rules", None),
    ("version: 1\nrule: []\n", 2, 1, "unknown-key", "unknown key 'rule' in the policy", "did you mean rules?"),
    ("version: 1\ndefault: stop\nrules: []\n", 2, 10, "bad-value", "default must be one of", "STOP_RULE"),
    ("version: 1\non_error: CONTINUEE\nrules: []\n", 2, 11, "bad-value", "on_error must be one of", "CONTINUE"),
    ("version: 1\nlists:\n  a: {env: SES_RULES_TEST_UNSET}\nrules: []\n", 3, 12, "env-unset",
     "environment variable SES_RULES_TEST_UNSET is unset or empty", "default: [...]"),
    ("version: 1\nlists:\n  a: {file: no-such-file.txt}\nrules: []\n", 3, 13, "list-file",
     "cannot read list file", "relative to the policy"),
    ("version: 1\nlists:\n  a: partners\nrules: []\n", 3, 6, "bad-list", "list 'a' must be a list", None),
    ("version: 1\nconditions:\n  a: {condition: b}\n  b: {condition: a}\nrules: []\n", 4, 18, "condition-cycle",
     "cycle: a -> b -> a", None),
    ("version: 1\nconditions:\n  a: {any: [{spf: PASS}, {condition: a}]}\nrules: []\n", 3, 38, "condition-cycle",
     "cycle: a -> a", None),
    ("version: 1\nrules: !!python/object:os.system []\n", 2, 8, "bad-tag", "YAML tag", "plain YAML"),
    ("version: 1\nx: &a {k: 1}\nrules: []\ny: {<<: *a}\n", 4, 5, "merge-key", "merge keys (<<) are not allowed", None),
    ("version: 1\nrules: [\n", 3, 1, "yaml-syntax", "invalid YAML", None),
    ("", 1, 1, "empty-policy", "policy is empty", "version: 1"),
    ("- a\n", 1, 1, "expected-mapping", "a policy must be a mapping", None),
]


@pytest.mark.parametrize(("text", "line", "col", "code", "message", "hint"), CASES,
                         ids=[c[4][:50] for c in CASES])
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
    from engine.lang.loader import MAX_CONDITION_DEPTH

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

    from engine.lang import yamlsource
    monkeypatch.setattr(yamlsource, "_LOADER", yaml.SafeLoader)
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
