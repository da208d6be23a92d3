"""Actions in the tools (SPEC 6): dry-run rows and JSON, --explain, --render, policy tests' expect."""
from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

from engine.actions.forwarding import MARKER, Forward, rewrite
from engine.tools.render import safe_name
from test_cli import EVENTS, ROOT, run, run_json

FORWARDER = str(ROOT / "examples" / "policies" / "forwarder.yaml")
MESSAGE = (b"From: \"Jane Q. Public\" <jane@sender.example>\r\nTo: support+billing@corp.example, x@corp.net\r\n"
           b"Subject: Hello\r\nMessage-ID: <x1@sender.example>\r\nDKIM-Signature: v=1; b=AAA\r\n\r\nBody.\r\n")


@pytest.fixture
def message(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "hello.eml"
    path.parent.mkdir()
    path.write_bytes(MESSAGE)
    return path


def test_dry_run_json_carries_the_planned_actions() -> None:
    code, data = run_json("dry-run", FORWARDER, str(EVENTS / "virus-fail.json"))
    assert code == 0
    (row,) = data["results"]
    assert row["actions"] == [
        {"rule": "quarantine-virus", "type": "store", "prefix": "quarantine/", "recipients": ["support@corp.example"]},
        {"rule": "quarantine-virus", "type": "notify", "topic": "arn:aws:sns:eu-west-1:123456789012:security-team",
         "recipients": ["support@corp.example"]}]


def test_dry_run_text_has_an_actions_column_and_explain_lists_them(message) -> None:
    code, out = run("dry-run", FORWARDER, str(message))
    assert code == 0
    header, row = out.splitlines()[1:3]
    assert header.split() == ["INPUT", "DISPOSITION", "RULE", "SHADOW", "ACTIONS", "NOTE"]
    assert "forward to alice@team.example, bob@team.example; forward to postmaster@team.example" in row
    code, out = run("dry-run", "--explain", FORWARDER, str(message))
    assert "rule forward-support (routing): matched" in out
    assert "actions planned:" in out and "forward to postmaster@team.example (rule forward-catch-all)" in out


def test_render_writes_the_exact_bytes_of_each_forward(message, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FORWARD_FROM", "forwarder@relay.example")
    out_dir = tmp_path / "out"
    code, data = run_json("dry-run", "--render", str(out_dir), FORWARDER, str(message))
    assert code == 0
    (row,) = data["results"]
    files = [entry["file"] for entry in row["rendered"]]
    label = safe_name(str(message))
    assert files == [str(out_dir / f"{label}.1.eml"), str(out_dir / f"{label}.2.eml")]
    first = Path(files[0]).read_bytes()
    assert first == rewrite(MESSAGE, Forward("forwarder@relay.example", ["support+billing@corp.example"]),
                            envelope_sender="jane@sender.example")
    msg = email.message_from_bytes(Path(files[1]).read_bytes(), policy=email.policy.default)
    assert str(msg["X-Original-To"]) == "x@corp.net" and str(msg[MARKER]) == "forwarder@relay.example"


def test_render_skips_json_inputs_and_names_the_placeholder_identity(message, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("FORWARD_FROM", raising=False)
    code, out = run("dry-run", "--render", str(tmp_path / "out"), FORWARDER, str(message),
                    str(EVENTS / "partner-ticket.json"))
    assert code == 0
    assert "FORWARD_FROM is not set" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{safe_name(str(message))}.{n}.eml" for n in (1, 2)]


@pytest.mark.parametrize("label, name", [
    ("s3://bucket/../../etc/passwd", "s3:_bucket_____etc_passwd"),
    ("dir/sub/msg.eml", "dir_sub_msg.eml"),
    ("-", "-"),
    ("..", "_"),
    ("a\x00b\nc.eml", "abc.eml"),
    (".hidden.eml", "hidden.eml"),
])
def test_rendered_names_are_made_safe(label, name) -> None:
    assert safe_name(label) == name
    assert "/" not in safe_name(label) and ".." not in safe_name(label)


def test_policy_tests_expect_actions(tmp_path) -> None:
    policy = ROOT / "examples" / "policies" / "forwarder.yaml"
    cases = tmp_path / "cases.yaml"
    cases.write_text(json.dumps({"policy": str(policy), "cases": [
        {"name": "planned in order", "event": {"recipient": "support@corp.example"},
         "expect": {"actions": [{"forward": {"to": ["alice@team.example", "bob@team.example"]}}]}},
        {"name": "wrong destination", "event": {"recipient": "support@corp.example"},
         "expect": {"actions": [{"forward": {"to": ["mallory@evil.example"]}}]}},
        {"name": "none expected, one planned", "event": {"recipient": "support@corp.example"},
         "expect": {"disposition": "CONTINUE", "actions": []}},
        {"name": "wrong order", "event": {"recipient": "support@corp.example", "virus": "FAIL"},
         "expect": {"actions": [{"notify": {}}, {"store": {}}]}},
    ]}))
    code, data = run_json("test", str(cases))
    assert code == 1
    results = {c["name"]: c for c in data["files"][0]["cases"]}
    assert results["planned in order"]["passed"] is True
    assert "no planned action forward {'to': ['mallory@evil.example']}" in results["wrong destination"]["problems"][0]
    assert results["none expected, one planned"]["problems"] == [
        "actions [forward to alice@team.example, bob@team.example (forward-support)], expected none"]
    assert results["wrong order"]["passed"] is False


def test_an_unknown_expected_action_type_is_named(tmp_path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(json.dumps({"policy": str(ROOT / "examples" / "policies" / "forwarder.yaml"), "cases": [
        {"name": "typo", "event": {"recipient": "a@corp.example"}, "expect": {"actions": [{"forwrd": {}}]}}]}))
    code, out = run("test", str(cases))
    assert code == 1 and "did you mean forward?" in out
