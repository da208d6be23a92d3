"""`ses-rules` in-process: exit codes, text output and the JSON shapes of SPEC section 6."""
from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest

from engine import load_policy
from engine.tools import commands
from engine.tools.cli import main

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = str(ROOT / "policies" / "default.yaml")
EVENTS = ROOT / "examples" / "events"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out)
    return code, out.getvalue()


def run_json(*argv: str) -> tuple[int, dict]:
    code, text = run(*argv, "--format", "json")
    return code, json.loads(text)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "warn.yaml").write_text(textwrap.dedent("""\
        version: 1
        lists: {spare: [x]}
        rules:
          - name: partners
            when: {from.domain: {equals: acme.example, match: all}}
            disposition: CONTINUE
        """))
    (tmp_path / "broken.yaml").write_text("version: 1\nrules:\n  - name: a\n    when: {spf: PAS}\n    disposition: STOPP\n")
    return tmp_path


# --- usage errors: exit 2, never a traceback -----------------------------------------


@pytest.mark.parametrize("argv", [
    [], ["frobnicate"], ["validate"], ["validate", "--no-such-option", DEFAULT],
    ["validate", "missing.yaml"], ["validate", str(ROOT / "policies")], ["dry-run", DEFAULT],
    ["dry-run", "missing.yaml", str(EVENTS)], ["test", "missing.test.yaml"], ["test", "--min-coverage", "150", "x"],
    ["event", "--spf", "MAYBE"], ["event", "--header", "no-colon"], ["event", "--dmarc-policy", "reject"],
    ["event", "--eml", "missing.eml"], ["validate", "--format", "xml", DEFAULT],
])
def test_usage_errors_exit_2_with_a_message_and_no_traceback(argv: list[str], capsys) -> None:
    code, out = run(*argv)
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err + out and "error" in err


def test_missing_policy_names_the_path(capsys) -> None:
    assert run("validate", "nope/p.yaml")[0] == 2
    assert "nope/p.yaml: no such file" in capsys.readouterr().err


def test_help_exits_0(capsys) -> None:
    assert run("--help")[0] == 0
    assert "dry-run" in capsys.readouterr().out


def test_an_internal_error_is_one_line_and_exit_1(monkeypatch, capsys) -> None:
    def boom(args, out):
        raise RuntimeError("simulated bug")
    monkeypatch.setattr(commands.schema, "run", boom)
    assert run("schema")[0] == 1
    err = capsys.readouterr().err
    assert err == "ses-rules schema: internal error: RuntimeError: simulated bug\n"


def test_version_prints_the_installed_version(capsys) -> None:
    from importlib.metadata import version
    assert run("--version")[0] == 0
    assert capsys.readouterr().out == f"ses-rules {version('ses-rules')}\n"


# --- validate -----------------------------------------------------------------------


def test_validate_prints_warnings_with_position_and_code_and_passes(folder: Path) -> None:
    code, out = run("validate", str(folder / "warn.yaml"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{folder / 'warn.yaml'}:2:9: warning: list 'spare' is not used by any rule " \
                       "(use it with {list: spare} or remove it) [unused-list]"
    assert lines[1:3] == ["  lists: {spare: [x]}", "          ^"]      # the source line, a caret under col 9
    assert lines[3].startswith(f"{folder / 'warn.yaml'}:5:12: warning: rule 'partners' lets mail through")
    assert lines[-1] == f"{folder / 'warn.yaml'}: valid, 2 warnings"


def test_errors_show_the_source_line_with_a_caret_under_the_column(folder: Path) -> None:
    _, out = run("validate", str(folder / "broken.yaml"))
    lines = out.splitlines()
    at = lines.index(f"{folder / 'broken.yaml'}:4:17: error: 'PAS' is not a spf value (PASS, FAIL, GRAY, "
                     "PROCESSING_FAILED, DISABLED) (did you mean PASS?) [bad-value]")
    assert lines[at + 1:at + 3] == ["      when: {spf: PAS}", "                  ^"]


def test_a_caret_stays_under_its_column_after_an_escaped_tab(tmp_path: Path) -> None:
    from engine.lang.diagnostics import Diagnostic
    from engine.tools.output import SourceLines, diagnostic_lines
    (tmp_path / "p.yaml").write_text("a: 1\n\tkey: x\n")
    d = Diagnostic(str(tmp_path / "p.yaml"), 2, 7, "error", "bad-value", "wrong")
    assert diagnostic_lines(d, SourceLines())[1:] == ["  \\x09key: x", "  " + " " * len("\\x09key: ") + "^"]
    assert diagnostic_lines(Diagnostic("<string>", 1, 1, "error", "x", "y"), SourceLines()) == ["<string>:1:1: error: y [x]"]


def test_validate_strict_fails_on_warnings(folder: Path) -> None:
    code, out = run("validate", "--strict", str(folder / "warn.yaml"))
    assert code == 1 and out.splitlines()[-1].endswith("invalid under --strict: 2 warnings")


def test_validate_reports_every_load_error_and_exits_1(folder: Path) -> None:
    code, out = run("validate", str(folder / "broken.yaml"), DEFAULT)
    assert code == 1
    assert f"{folder / 'broken.yaml'}:4:17: error:" in out and "did you mean PASS?" in out
    assert "did you mean STOP_RULE?" in out
    assert f"{folder / 'broken.yaml'}: invalid: 2 errors" in out and f"{DEFAULT}: valid" in out


def test_validate_json_shape(folder: Path) -> None:
    code, data = run_json("validate", str(folder / "broken.yaml"), str(folder / "warn.yaml"))
    assert code == 1 and list(data) == ["files"]
    broken, warn = data["files"]
    assert [list(f) for f in data["files"]] == [["file", "valid", "diagnostics"]] * 2
    assert (broken["valid"], warn["valid"]) == (False, True)
    keys = ["file", "line", "col", "severity", "code", "message", "hint"]
    assert all(list(d) == keys for f in data["files"] for d in f["diagnostics"])
    assert {d["severity"] for d in broken["diagnostics"]} == {"error"}
    assert [d["code"] for d in warn["diagnostics"]] == ["unused-list", "spoofable-from"]


# --- dry-run ------------------------------------------------------------------------


def test_dry_run_json_shape_and_summary(tmp_path: Path) -> None:
    (tmp_path / "garbage.json").write_text("{not json")
    code, data = run_json("dry-run", DEFAULT, str(EVENTS / "virus-fail.json"), str(EVENTS / "newsletter.eml"),
                          str(tmp_path / "garbage.json"))
    assert code == 1
    assert list(data) == ["policy", "results", "summary"]
    policy = load_policy(DEFAULT)
    assert data["policy"] == {"name": policy.name, "revision": policy.revision}
    virus, newsletter, garbage = data["results"]
    assert virus == {"input": str(EVENTS / "virus-fail.json"), "disposition": "STOP_RULE_SET",
                     "rule": "drop-virus", "shadow": [], "errors": [], "assumed": [], "actions": []}
    assert (newsletter["disposition"], newsletter["rule"]) == ("CONTINUE", None)
    assert newsletter["assumed"] == ["spf", "dkim", "dmarc", "spam", "virus"]   # no SES header block
    assert garbage["disposition"] is None and garbage["errors"]
    assert data["summary"] == {"STOP_RULE_SET": 1, "STOP_RULE": 0, "CONTINUE": 1, "unreadable": 1,
                               "skipped": 0}


def test_dry_run_table_has_one_row_per_input_and_a_summary() -> None:
    code, out = run("dry-run", DEFAULT, str(EVENTS))
    inputs = sorted(p for p in EVENTS.rglob("*") if p.suffix in (".json", ".eml"))
    lines = out.splitlines()
    assert code == 0
    assert lines[1].split() == ["INPUT", "DISPOSITION", "RULE", "SHADOW", "ACTIONS", "NOTE"]
    rows = lines[2:2 + len(inputs)]
    assert [r.split()[0] for r in rows] == [f"{EVENTS}/{p.relative_to(EVENTS)}" for p in inputs]
    virus = next(r for r in rows if "virus-fail.json" in r).split()
    assert virus[1:3] == ["STOP_RULE_SET", "drop-virus"]
    assert lines[-1].startswith(f"{len(inputs)} inputs: STOP_RULE_SET ")


def test_dry_run_explain_shows_each_rule_each_condition_and_the_outcome() -> None:
    code, out = run("dry-run", "--explain", DEFAULT, str(EVENTS / "spam-fail.json"))
    assert code == 0
    assert "rule drop-virus (STOP_RULE_SET): no match" in out
    assert '[no]  virus saw ["PASS"]: equals "FAIL" (no)' in out
    assert '[yes] spam saw ["FAIL"]: equals "FAIL" (yes)' in out
    assert "=> STOP_RULE_SET: rule drop-spam decided" in out
    assert "drop-dmarc-reject" not in out, "rules after the deciding one are not tried"


def test_dry_run_explain_json_carries_the_trace() -> None:
    _, data = run_json("dry-run", "--explain", DEFAULT, str(EVENTS / "newsletter.eml"))
    [record] = data["results"][0]["records"]
    assert [step["rule"] for step in record["trace"]] == [r.name for r in load_policy(DEFAULT).rules]


def test_explain_shows_arguments_as_written_not_the_variables_value(monkeypatch) -> None:
    """`--explain` must not print what MAIL_SOURCE holds, nor a list's entries (issue 10 item 3)."""
    monkeypatch.setenv("MAIL_SOURCE", "secret-sender@hidden.example")
    monkeypatch.setenv("MAIL_SUBJECTS", "Top secret subject")
    policy = str(ROOT / "examples" / "policies" / "subject-filter.yaml")
    code, out = run("dry-run", "--explain", policy, str(EVENTS / "zabbix-problem.eml"))
    assert code == 0
    assert 'not_equals "${MAIL_SOURCE:-zabbix@monitoring.corp.example}"' in out
    assert "hidden.example" not in out and "Top secret" not in out
    _, data = run_json("dry-run", "--explain", policy, str(EVENTS / "zabbix-problem.eml"))
    assert "hidden.example" not in json.dumps(data)


def test_explain_shows_fields_as_written_and_counts_counted() -> None:
    policy = str(ROOT / "examples" / "policies" / "security-hardened.yaml")
    _, out = run("dry-run", "--explain", policy, str(EVENTS / "mass-mail.json"))
    assert "from.domain saw" in out
    assert 'count {"gt": 10} (yes, counted 12)' in out
    assert "function" not in out
    _, out = run("dry-run", "--explain", str(ROOT / "examples" / "policies" / "partner-support.yaml"),
                 str(EVENTS / "partner-ticket.json"))
    assert 'glob {"list":' not in out and "from.domain saw" in out


def test_dry_run_explain_says_when_the_default_applied() -> None:
    _, out = run("dry-run", "--explain", DEFAULT, str(EVENTS / "newsletter.eml"))
    assert "=> CONTINUE: no rule decided, the policy default applied" in out


def test_dry_run_of_an_invalid_policy_exits_1_with_its_diagnostics(folder: Path) -> None:
    code, out = run("dry-run", str(folder / "broken.yaml"), str(EVENTS))
    assert code == 1 and "did you mean PASS?" in out


def test_dry_run_reads_stdin(monkeypatch) -> None:
    event = (EVENTS / "virus-fail.json").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(event)))
    code, data = run_json("dry-run", DEFAULT, "-")
    assert code == 0 and data["results"][0]["input"] == "-" and data["results"][0]["rule"] == "drop-virus"


# --- test ---------------------------------------------------------------------------


def test_test_command_counts_and_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(f"policy: {DEFAULT}\ncases:\n  - {{name: virus, event: {{virus: FAIL}}, expect: STOP_RULE_SET}}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"policy: {DEFAULT}\ncases:\n  - {{name: wrong, event: {{virus: FAIL}}, expect: CONTINUE}}\n")
    assert run("test", str(good)) == (0, "1 passed, 0 failed\n")
    code, out = run("test", str(good), str(bad))
    assert code == 1 and out.endswith("1 passed, 1 failed\n")
    assert f"FAIL {bad}:3: wrong\n  disposition STOP_RULE_SET, expected CONTINUE\n" in out
    assert "=> STOP_RULE_SET: rule drop-virus decided" in out


def test_test_coverage_and_min_coverage(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(f"policy: {DEFAULT}\ncases:\n  - {{name: virus, event: {{virus: FAIL}}, expect: STOP_RULE_SET}}\n")
    code, out = run("test", "--coverage", str(path))
    assert code == 0
    assert f"coverage {DEFAULT}: 1 of 4 exercised (25%)" in out and "not exercised: rule drop-spam" in out
    assert run("test", "--min-coverage", "25", str(path))[0] == 0
    code, out = run("test", "--min-coverage", "50", str(path))
    assert code == 1 and "below --min-coverage 50%" in out


def test_test_json_shape(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(f"policy: {DEFAULT}\ncases:\n  - {{name: virus, event: {{virus: FAIL}}, expect: STOP_RULE_SET}}\n")
    code, data = run_json("test", "--coverage", str(path))
    assert code == 0 and (data["passed"], data["failed"]) == (1, 0)
    [entry] = data["files"]
    assert entry["policy"]["name"] == "default" and entry["errors"] == []
    assert entry["cases"][0]["passed"] is True and entry["cases"][0]["actual"]["rule"] == "drop-virus"
    assert data["coverage"][0]["percent"] == 25.0


def test_the_projects_own_cases_pass_with_full_coverage() -> None:
    cases = sorted(str(p) for p in (ROOT / "tests" / "cases").glob("*.yaml"))
    code, out = run("test", "--min-coverage", "100", *cases)
    assert code == 0, out


# --- event, schema ------------------------------------------------------------------


def test_event_flags_build_an_event_the_engine_decides_on() -> None:
    code, out = run("event", "--from", '"Boss" <boss@company.example>', "--to", "a@x.example", "--to", "b@x.example",
                    "--subject", "Quarterly", "--dmarc", "fail", "--dmarc-policy", "REJECT",
                    "--header", "X-Priority: 1")
    event = json.loads(out)
    ses = event["Records"][0]["ses"]
    assert code == 0
    assert ses["mail"]["commonHeaders"]["to"] == ["a@x.example", "b@x.example"]
    assert ses["receipt"]["dmarcVerdict"] == {"status": "FAIL"} and ses["receipt"]["dmarcPolicy"] == "reject"
    assert {"name": "X-Priority", "value": "1"} in ses["mail"]["headers"]
    assert load_policy(DEFAULT).evaluate(event).rule == "drop-dmarc-reject"


def test_event_from_eml_with_overrides() -> None:
    code, out = run("event", "--eml", str(EVENTS / "newsletter.eml"), "--virus", "FAIL")
    event = json.loads(out)
    assert code == 0 and event["Records"][0]["ses"]["receipt"]["virusVerdict"]["status"] == "FAIL"
    assert load_policy(DEFAULT).evaluate(event).rule == "drop-virus"


def test_event_from_a_file_that_is_no_mail_exits_1(tmp_path: Path, capsys) -> None:
    path = tmp_path / "empty.eml"
    path.write_bytes(b"")
    code, out = run("event", "--eml", str(path))
    err = capsys.readouterr().err
    assert (code, out) == (1, "") and f"ses-rules event: {path}:" in err


def test_schema_prints_the_committed_schema() -> None:
    code, out = run("schema")
    assert code == 0 and out == (ROOT / "docs" / "policy.schema.json").read_text(encoding="utf-8")


def test_control_characters_in_names_never_reach_the_terminal(tmp_path: Path) -> None:
    (tmp_path / "evil\x1b[31m.json").write_text('{"Records": "nope"}')
    code, out = run("dry-run", "--explain", DEFAULT, str(tmp_path))
    assert code == 1 and "\x1b" not in out and "evil\\x1b[31m.json" in out


def test_dmarc_policy_without_dmarc_fail_names_the_flag(capsys) -> None:
    assert run("event", "--dmarc-policy", "reject")[0] == 2
    err = capsys.readouterr().err
    assert "add --dmarc FAIL" in err and "dmarc: FAIL" not in err
