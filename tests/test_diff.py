"""`ses-rules diff` on local inputs, its summary and `--fail-on`; `dry-run` filters; policy bundles."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from engine.replay.bundle import BundleError, load_bundle, make_bundle
from engine.replay.rows import Input, diff_row
from engine.replay.summary import DiffSummary, parse_fail_on
from engine.tools.cli import main

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = str(ROOT / "policies" / "default.yaml")
EVENTS = str(ROOT / "examples" / "events")
EXAMPLES = sum(1 for p in Path(EVENTS).rglob("*") if p.suffix in (".json", ".eml"))   # inputs in EVENTS


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


@pytest.fixture
def new(tmp_path: Path) -> str:
    """default.yaml with spam demoted to STOP_RULE and DMARC quarantine dropped too (renamed rule)."""
    text = Path(DEFAULT).read_text()
    text = text.replace("when: {spam: FAIL}\n    disposition: STOP_RULE_SET", "when: {spam: FAIL}\n    disposition: STOP_RULE")
    text = text.replace("- name: drop-dmarc-reject\n    when: {dmarc: FAIL, dmarc_policy: reject}",
                        "- name: drop-dmarc-fail\n    when: {dmarc: FAIL, dmarc_policy: [reject, quarantine]}")
    path = tmp_path / "new.yaml"
    path.write_text(text)
    return str(path)


def test_json_groups_transitions_rule_changes_and_counts(new):
    code, out = run("diff", "--format", "json", DEFAULT, new, EVENTS)
    data = json.loads(out)
    assert code == 0
    assert list(data) == ["old", "new", "inputs", "unreadable", "skipped", "changed", "transitions",
                          "rule_changes", "action_changes"]
    assert data["old"]["name"] == data["new"]["name"] == "default" and data["old"] != data["new"]
    assert (data["inputs"], data["unreadable"], data["skipped"], data["changed"]) == (EXAMPLES, 0, 0, 3)
    assert data["transitions"] == [
        {"from": "CONTINUE", "to": "STOP_RULE_SET", "count": 1, "inputs": [f"{EVENTS}/forged-sns-alarm.json"]},
        {"from": "STOP_RULE_SET", "to": "STOP_RULE", "count": 1, "inputs": [f"{EVENTS}/spam-fail.json"]}]
    assert data["rule_changes"] == [{"input": f"{EVENTS}/dmarc-reject.json", "disposition": "STOP_RULE_SET",
                                     "old_rule": "drop-dmarc-reject", "new_rule": "drop-dmarc-fail"}]
    assert data["action_changes"] == []


def test_text_starts_with_a_summary_line_then_groups_largest_first(new, tmp_path):
    for n in range(3):                               # three more spam failures: the largest group
        event = json.loads(Path(EVENTS, "spam-fail.json").read_text())
        event["Records"][0]["ses"]["mail"]["messageId"] = f"m{n}"
        (tmp_path / f"spam{n}.json").write_text(json.dumps(event))
    code, out = run("diff", "--limit", "2", DEFAULT, new, EVENTS, str(tmp_path / "spam0.json"),
                    str(tmp_path / "spam1.json"), str(tmp_path / "spam2.json"), str(tmp_path / "missing.json"))
    lines = out.splitlines()
    assert code == 1                                  # an unreadable input, no --fail-on
    assert lines[0].startswith("default (") and f"{EXAMPLES + 4} inputs, 6 changed (5 fate, 1 deciding rule, 0 actions), " \
        "1 unreadable, 0 skipped" in lines[0]
    groups = [line for line in lines if line and not line.startswith(" ")][1:]
    assert groups == ["STOP_RULE_SET -> STOP_RULE: 4", "CONTINUE -> STOP_RULE_SET: 1",
                      "STOP_RULE_SET, rule drop-dmarc-reject -> drop-dmarc-fail: 1", "unreadable: 1"]
    assert "    ... and 2 more" in lines
    assert any("rule drop-spam -> drop-spam" in line for line in lines)


def test_csv_has_one_row_per_input(new):
    code, out = run("diff", "--format", "csv", DEFAULT, new, EVENTS, "missing.json")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 1 and len(rows) == EXAMPLES + 1
    assert list(rows[0]) == ["input", "old_disposition", "old_rule", "old_actions", "new_disposition",
                             "new_rule", "new_actions", "changed"]
    spam = next(r for r in rows if r["input"].endswith("spam-fail.json"))
    assert (spam["old_disposition"], spam["new_disposition"], spam["changed"]) == ("STOP_RULE_SET", "STOP_RULE", "true")
    assert rows[-1]["old_disposition"] == "UNREADABLE" and rows[-1]["changed"] == "false"
    assert sum(r["changed"] == "true" for r in rows) == 3


@pytest.mark.parametrize("tokens, code", [
    ("CONTINUE->STOP_RULE_SET", 1), ("*->STOP_RULE", 1), ("stop_rule_set -> *", 1), ("CONTINUE->STOP_RULE", 0),
    ("rules", 1), ("actions", 0), ("unreadable", 0), ("STOP_RULE->*,actions", 0)])
def test_fail_on_fails_exactly_when_a_listed_token_occurs(new, tokens, code, capsys):
    assert run("diff", "--fail-on", tokens, DEFAULT, new, EVENTS)[0] == code
    assert ("failing on" in capsys.readouterr().err) == bool(code)


def test_a_changed_fate_and_a_bad_object_are_told_apart(new, capsys):
    """CI: fail on fate changes only, or on unreadable objects only; the default fails on neither fate."""
    assert run("diff", "--fail-on", "*->*", DEFAULT, DEFAULT, EVENTS, "missing.json")[0] == 0
    assert run("diff", "--fail-on", "unreadable", DEFAULT, new, EVENTS)[0] == 0
    assert run("diff", "--fail-on", "unreadable", DEFAULT, DEFAULT, "missing.json")[0] == 1
    assert run("diff", DEFAULT, new, EVENTS)[0] == 0              # changed fate, nothing unreadable
    assert run("diff", DEFAULT, DEFAULT, "missing.json")[0] == 1


@pytest.mark.parametrize("argv, message", [
    (["--fail-on", "CONTINUE->STOPP"], "did you mean STOP_RULE"),
    (["--fail-on", "rulez"], "did you mean rules"),
    (["--fail-on", ","], "no token"),
])
def test_bad_fail_on_tokens_are_usage_errors(new, argv, message, capsys):
    assert run("diff", *argv, DEFAULT, new, EVENTS)[0] == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["diff", DEFAULT, DEFAULT], ["diff", DEFAULT, "nope.yaml", EVENTS],
                                  ["diff", "--results", "s3://b/p/", DEFAULT],
                                  ["diff", "--results", "s3://b/p/", "--format", "csv"],
                                  ["diff", "--limit", "-1", DEFAULT, DEFAULT, EVENTS]])
def test_usage_errors(argv, capsys):
    assert run(*argv)[0] == 2
    assert "error" in capsys.readouterr().err


def test_a_policy_that_does_not_load_is_reported_and_nothing_compared(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - name: a\n    disposition: STOPP\n")
    code, out = run("diff", DEFAULT, str(bad), EVENTS)
    assert code == 1 and "bad.yaml:4" in out and "invalid, nothing compared" in out


def test_action_changes_ignore_which_rule_asked():
    summary = DiffSummary({"name": "a", "revision": "1"}, {"name": "a", "revision": "2"})
    store = {"type": "store", "prefix": "q/"}
    rows = [{"input": "x", "old": {"disposition": "CONTINUE", "rule": "r", "actions": [{"rule": "r", **store}]},
             "new": {"disposition": "CONTINUE", "rule": "r", "actions": [{"rule": "renamed", **store}]},
             "changed": False},
            {"input": "y", "old": {"disposition": "CONTINUE", "rule": None, "actions": []},
             "new": {"disposition": "CONTINUE", "rule": None, "actions": [{"rule": "r", **store}]},
             "changed": True},
            {"input": "z", "skipped": "SES's setup notification"}]
    data = summary.add_all(rows).to_dict()
    assert (data["changed"], data["skipped"], data["inputs"]) == (1, 1, 2)
    assert data["action_changes"] == [{"input": "y", "old": [], "new": [{"rule": "r", **store}]}]
    assert summary.failures(["actions", "rules"]) == ["actions (1)"]


def test_rows_in_any_order_summarise_as_in_input_order(new):
    from engine.tools.inputs import read_inputs
    from engine import load_policy
    old, changed = load_policy(DEFAULT), load_policy(new)
    rows = [diff_row(item, old, changed) for item in read_inputs([EVENTS, "missing.json"])]
    ordered = DiffSummary({}, {}, limit=1).add_all(rows).to_dict()
    assert DiffSummary({}, {}, limit=1).add_in_any_order(reversed(rows)).to_dict() == ordered
    assert diff_row(Input("s", None, skipped="setup"), old, changed) == {"input": "s", "skipped": "setup"}


def test_fail_on_tokens_are_canonical():
    assert parse_fail_on("continue->*, RULES ,*->stop_rule_set") == ["CONTINUE->*", "rules", "*->STOP_RULE_SET"]


# --------------------------------------------------------------------------- dry-run filters (issue 16 item 18)

def test_dry_run_only_rule_and_summary(capsys):
    code, out = run("dry-run", "--only", "stop_rule_set", DEFAULT, EVENTS)
    rows = [line for line in out.splitlines() if line.startswith(EVENTS)]
    assert code == 0 and len(rows) == 4 and all("STOP_RULE_SET" in r for r in rows)
    assert out.splitlines()[-1] == f"{EXAMPLES} inputs: STOP_RULE_SET 4, STOP_RULE 0, CONTINUE {EXAMPLES - 4} (4 shown)"
    code, out = run("dry-run", "--rule", "drop-spam", "--rule", "drop-virus", DEFAULT, EVENTS, "missing.json")
    assert code == 1 and [line.split()[0].rsplit("/", 1)[-1] for line in out.splitlines()
                          if line.startswith(EVENTS)] == ["spam-fail.json", "virus-fail.json"]
    code, out = run("dry-run", "--only", "unreadable", DEFAULT, EVENTS, "missing.json")
    assert [line.split()[:2] for line in out.splitlines() if "missing" in line] == [["missing.json", "UNREADABLE"]]
    code, out = run("dry-run", "--summary", DEFAULT, EVENTS)
    assert out.splitlines() == ["policy default (revision %s)" % out.split("revision ")[1].split(")")[0], "",
                                f"{EXAMPLES} inputs: STOP_RULE_SET 4, STOP_RULE 0, CONTINUE {EXAMPLES - 4}"]
    code, out = run("dry-run", "--summary", "--format", "json", DEFAULT, EVENTS)
    assert list(json.loads(out)) == ["policy", "summary"]
    assert run("dry-run", "--rule", "drop-spma", DEFAULT, EVENTS)[0] == 2
    assert "did you mean drop-spam?" in capsys.readouterr().err


def test_dry_run_explain_marks_assumed_verdicts():
    code, out = run("dry-run", "--explain", DEFAULT, f"{EVENTS}/newsletter.eml", f"{EVENTS}/virus-fail.json")
    assert 'virus saw ["PASS"] (assumed): equals "FAIL"' in out
    assert 'virus saw ["FAIL"]: equals "FAIL"' in out            # the JSON event's verdict is SES's own
    assert "verdicts assumed PASS (no SES header block)" in out


# --------------------------------------------------------------------------- bundles

def test_bundle_carries_list_files_and_environment_and_loads_to_the_same_revision(tmp_path, monkeypatch):
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "vip.txt").write_text("ceo@corp.example\n")
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nlists:\n  vip: {file: lists/vip.txt}\n  src: {env: MAIL_SOURCE}\n"
                      "rules:\n  - name: r\n    when: {from: {in: {list: vip}}, subject: '${TAG:-x}'}\n"
                      "    disposition: STOP_RULE\n")
    monkeypatch.setenv("MAIL_SOURCE", "a@x.example")
    monkeypatch.setenv("UNRELATED_SECRET", "never in a bundle")
    bundle = make_bundle(policy)
    assert bundle["files"] == {"lists/vip.txt": "ceo@corp.example\n"}
    assert bundle["env"] == {"MAIL_SOURCE": "a@x.example"}
    monkeypatch.setenv("MAIL_SOURCE", "changed@x.example")        # the worker's environment does not count
    loaded = load_bundle(json.dumps(bundle).encode(), bundle["revision"])
    assert loaded.revision == bundle["revision"] and loaded.name == "p"
    code, out = run("bundle", str(policy))
    assert code == 0 and json.loads(out)["files"] == bundle["files"]


@pytest.mark.parametrize("change, message", [
    ({"files": {"../../etc/passwd": "x"}}, "not a relative path inside"),
    ({"format": "other"}, "not a policy bundle"),
    ({"version": 2}, "bundle version 2"),
    ({"env": []}, "'env' is missing or not a dict"),
    ({"policy": "version: 1\nrules: [{name: a}]\n"}, "does not load"),
])
def test_bad_bundles_are_refused(change, message):
    bundle = {**make_bundle(DEFAULT), **change}
    with pytest.raises(BundleError, match=message):
        load_bundle(json.dumps(bundle).encode())
