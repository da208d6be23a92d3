"""The policy-test runner: the project's own data-driven cases, and what the runner itself must catch."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from engine.tools.policytest import coverage, run_test_file

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted((ROOT / "tests" / "cases").glob("*.yaml"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_policy_cases(path: Path) -> None:
    result = run_test_file(path)
    assert result.errors == []
    failures = [(c.name, c.problems) for c in result.cases if not c.passed]
    assert failures == [] and result.passed >= 5


def test_the_cases_exercise_every_rule_and_named_condition_of_the_policies_they_test() -> None:
    reports = coverage([run_test_file(p) for p in CASES])
    assert {Path(r.policy_file).name for r in reports} >= {"default.yaml", "partner-support.yaml"}
    assert [(r.policy_file, r.missing) for r in reports if r.missing] == []


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "p.yaml").write_text(textwrap.dedent("""\
        version: 1
        lists:
          bad_words: {env: BAD_WORDS, separator: ";", default: [casino]}
        conditions:
          authenticated: {spf: PASS, dkim: PASS, dmarc: PASS}
        rules:
          - name: drop-infected
            when: {virus: FAIL}
            disposition: STOP_RULE_SET
          - name: drop-words
            when: {subject: {contains: {list: bad_words}}}
            disposition: STOP_RULE
          - name: watch
            mode: shadow
            when: {subject: {contains: urgent}}
            disposition: STOP_RULE
          - name: allow
            when: {condition: authenticated}
            disposition: CONTINUE
        default: STOP_RULE_SET
        """))
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "t.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_wrong_expectation_fails_and_says_what_was_decided(workdir: Path) -> None:
    result = run_test_file(write(workdir, """\
        policy: p.yaml
        cases:
          - name: expects the wrong rule
            event: {virus: FAIL}
            expect: {disposition: STOP_RULE_SET, rule: drop-words}
          - name: expects the default but a rule decides
            event: {subject: hi}
            expect: {disposition: CONTINUE, rule: null}
          - name: expects a shadow match that did not happen
            event: {subject: hi}
            expect: {disposition: CONTINUE, shadow: [watch]}
          - name: right
            event: {subject: urgent, spf: FAIL}
            expect: {disposition: stop_rule_set, rule: null, shadow: [watch]}
        """))
    assert result.errors == [] and (result.passed, result.failed) == (1, 3)
    first, second, third, _ = result.cases
    assert first.problems == ["rule 'drop-infected', expected 'drop-words'"]
    assert second.problems == ["rule 'allow', expected none (the default decided)"]
    assert third.problems == ["shadow [], expected ['watch']"]
    assert first.decision.records[0].trace, "failures carry the explanation"


def test_env_is_applied_while_the_policy_loads_and_restored_after(workdir: Path, monkeypatch) -> None:
    monkeypatch.delenv("BAD_WORDS", raising=False)
    result = run_test_file(write(workdir, """\
        policy: p.yaml
        env: {BAD_WORDS: "lottery; prize"}
        cases:
          - name: a word from the environment
            event: {subject: you won a PRIZE}
            expect: {disposition: STOP_RULE, rule: drop-words}
          - name: the list default is replaced
            event: {subject: casino night}
            expect: {disposition: CONTINUE, rule: allow}
        """))
    assert result.failed == 0 and result.passed == 2
    assert "BAD_WORDS" not in os.environ


@pytest.mark.parametrize("text, message", [
    ("cases: []\n", "missing `policy:`"),
    ("policy: nope.yaml\ncases: []\n", "policy file"),
    ("policy: p.yaml\ncase: []\n", "unknown key 'case' in a policy test file (did you mean cases?)"),
    ("policy: p.yaml\ncases: {}\n", "`cases:` must be a list"),
    ("policy: p.yaml\ncases: [\n", "invalid YAML"),
])
def test_a_broken_test_file_is_one_failure_with_its_position(workdir: Path, text: str, message: str) -> None:
    result = run_test_file(write(workdir, text))
    assert result.failed == 1 and result.cases == []
    [error] = [str(e) for e in result.errors]
    assert message in error and error.startswith(f"{workdir / 't.yaml'}:") and ": error: " in error


@pytest.mark.parametrize("case, message", [
    ("{name: x, event: {subjct: hi}, expect: CONTINUE}", "did you mean subject?"),
    ("{name: x, event: {spf: MAYBE}, expect: CONTINUE}", "spf"),
    ("{name: x, event: {subject: hi}, expect: STOPP}", "unknown disposition 'STOPP' (did you mean STOP_RULE?)"),
    ("{name: x, event: {subject: hi}}", "needs `expect`"),
    ("{name: x, expect: CONTINUE}", "needs `event`, `eml` or `file`"),
    ("{name: x, eml: missing.eml, expect: CONTINUE}", "cannot read"),
    ("{name: x, file: missing.json, expect: CONTINUE}", "missing.json"),
    ("{name: x, eml: a.eml, file: b.json, expect: CONTINUE}", "not both"),
    ("{name: x, event: {subject: hi}, expect: {rule: allow}}", "needs a disposition"),
    ("{name: x, event: {subject: hi}, expect: CONTINUE, extra: 1}", "unknown key 'extra'"),
])
def test_a_broken_case_fails_alone(workdir: Path, case: str, message: str) -> None:
    result = run_test_file(write(workdir, f"""\
        policy: p.yaml
        cases:
          - {case}
          - {{name: fine, event: {{virus: FAIL}}, expect: STOP_RULE_SET}}
        """))
    assert result.errors == [] and (result.passed, result.failed) == (1, 1)
    [error] = [str(e) for e in result.cases[0].errors]
    assert message in error and error.startswith(f"{workdir / 't.yaml'}:3:") and ": error: " in error
    assert result.cases[0].to_dict()["problems"] == [error]


def test_a_bad_event_field_is_reported_at_its_key(workdir: Path) -> None:
    line = "  - {name: x, event: {subject: hi, spf: MAYBE}, expect: CONTINUE}"
    result = run_test_file(write(workdir, f"policy: p.yaml\ncases:\n{line}\n"))
    [error] = result.cases[0].errors
    assert (error.line, error.col, error.code, error.severity) == (3, line.index("spf") + 1, "bad-event", "error")
    assert "'MAYBE' is not one of" in error.message


def test_eml_and_file_cases_are_relative_to_the_test_file(workdir: Path) -> None:
    (workdir / "mail").mkdir()
    (workdir / "mail" / "m.eml").write_bytes(b"From: Ann <ann@x.example>\r\nSubject: urgent: read\r\n\r\nbody\r\n")
    import json
    from engine.mail.sesevent import build_event
    (workdir / "mail" / "e.json").write_text(json.dumps(build_event({"virus": "FAIL"})))
    result = run_test_file(write(workdir, """\
        policy: p.yaml
        cases:
          - name: eml
            eml: mail/m.eml
            expect: {disposition: CONTINUE, rule: allow, shadow: [watch]}
          - name: eml with verdicts overridden
            eml: mail/m.eml
            event: {dkim: FAIL}
            expect: {disposition: STOP_RULE_SET, rule: null}
          - name: event file
            file: mail/e.json
            expect: {disposition: STOP_RULE_SET, rule: drop-infected}
        """))
    assert [(c.name, c.problems) for c in result.cases if not c.passed] == []


def test_coverage_lists_what_no_case_made_hold(workdir: Path) -> None:
    result = run_test_file(write(workdir, """\
        policy: p.yaml
        cases:
          - {name: infected, event: {virus: FAIL}, expect: STOP_RULE_SET}
        """))
    [report] = coverage([result])
    assert report.missing == [("rule", "drop-words"), ("rule", "watch"), ("rule", "allow"),
                              ("condition", "authenticated")]
    assert report.percent == pytest.approx(20.0)


def test_a_policy_that_does_not_load_is_one_failure(workdir: Path) -> None:
    """2 cases and 10 load errors printed `0 passed, 10 failed`; docs/cli.md says one failure."""
    (workdir / "broken.yaml").write_text("version: 1\nrules:\n" + "".join(
        f"  - {{name: r{i}, disposition: STOPP{i}}}\n" for i in range(10)))
    result = run_test_file(write(workdir, """\
        policy: broken.yaml
        cases:
          - {name: a, event: {virus: FAIL}, expect: STOP_RULE_SET}
          - {name: b, event: {virus: PASS}, expect: CONTINUE}
        """))
    assert len(result.errors) == 10 and result.cases == []
    assert (result.passed, result.failed) == (0, 1)


@pytest.mark.parametrize("text", ["cases: []\n", "policy: p.yaml\ncase: []\n", "policy: p.yaml\ncases: [\n",
                                  "policy: p.yaml\ncases:\n  - {name: x, expect: CONTINUE}\n"])
def test_test_file_errors_carry_the_error_severity(workdir: Path, text: str) -> None:
    """Policy errors read `file:line:col: error: ...`; test-file errors read the same."""
    result = run_test_file(write(workdir, text))
    problems = [str(e) for e in result.errors] + [p for c in result.cases for p in c.to_dict()["problems"]]
    assert problems and all(f"{workdir / 't.yaml'}:" in p and ": error: " in p for p in problems), problems
