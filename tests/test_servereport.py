"""`serve`'s rows as text and JSON lines: one head line, one line per action outcome, the delivery."""
from __future__ import annotations

import io
import json

from engine.tools.servereport import JsonLines, TextLines, effect_text
from test_serving import ENVELOPE, MESSAGE, receiver


def test_text_row_lists_what_each_action_did_and_where_the_mail_went(tmp_path):
    row, subject = receiver(tmp_path).receive(ENVELOPE, MESSAGE % b"hi")
    out = io.StringIO()
    TextLines(out).row(row, subject)
    head, bounce, forward, delivered = out.getvalue().splitlines()
    assert "CONTINUE       (default)  <bounces@sender.example> -> support@corp.example, nobody@corp.example" in head
    assert head.endswith(f'"hi"  {row["input"]}')
    assert bounce.startswith("    bounce 5.1.1 for nobody@corp.example (unknown-mailbox): done; "
                             "would call SES SendBounce (not sent): {")
    assert '"BounceSender": "postmaster@corp.example"' in bounce
    assert forward.startswith("    forward to alice@team.example from forwarder@corp.example (support): done; "
                              f"written to {tmp_path / 'actions' / '.Forwarded' / 'new'}")
    assert forward.endswith(" as forwarder@corp.example -> alice@team.example")
    assert delivered == f"    delivered: {row['delivered']}"


def test_unreadable_and_shadowed_heads():
    out = io.StringIO()
    base = {"input": "id1", "shadow": [], "errors": ["not an e-mail message: x"], "assumed": [], "disposition": None,
            "rule": None, "smtp": {"mail_from": "", "rcpt_tos": ["a@x.example"], "peer": "127.0.0.1:1"}}
    TextLines(out).row(base)
    TextLines(out).row({**base, "disposition": "CONTINUE", "errors": [], "shadow": ["watch"]}, "s\x1b[2J")
    unreadable, shadowed = out.getvalue().splitlines()
    assert "UNREADABLE     not an e-mail message: x  <> -> a@x.example  id1" in unreadable
    assert "(default) (shadow: watch)" in shadowed and "\\x1b[2J" in shadowed and "\x1b" not in shadowed


def test_relay_effect_text():
    assert effect_text({"effect": "relayed", "to": "127.0.0.1:1025", "mail_from": "f@corp.example",
                        "rcpt_tos": ["a@x.example", "b@x.example"], "bytes": 10}) == \
        "relayed to 127.0.0.1:1025 as f@corp.example -> a@x.example, b@x.example (10 bytes)"


def test_json_lines_are_flushed_one_per_row(tmp_path):
    row, _ = receiver(tmp_path).receive(ENVELOPE, MESSAGE % b"hi")
    out = io.StringIO()
    JsonLines(out).row(row)
    JsonLines(out).row(row)
    first, second = out.getvalue().splitlines()
    assert json.loads(first) == row == json.loads(second)
