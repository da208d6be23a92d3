"""`serve`'s per-message work in process: the SES event of an SMTP message, its row, its local actions."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import load_policy_text
from engine.mail.sesblock import find_ses_block
from engine.mail.sesevent import read_headers
from engine.replay.rows import dry_row, from_message
from engine.tools.localbackend import LocalBackend
from engine.tools.serving import Envelope, Receiver, local_setup, new_message_id, stored_message

ACTIONS = """\
version: 1
name: local-actions
rules:
  - name: quarantine
    when: {subject: {contains: quarantine}}
    disposition: STOP_RULE_SET
    actions:
      - store: {prefix: quarantine/}
      - notify: {topic: "arn:aws:sns:eu-west-1:123456789012:security"}
  - name: unknown-mailbox
    when: {recipients: nobody@corp.example}
    actions:
      - bounce: {status: "5.1.1", message: No such mailbox, sender: postmaster@corp.example,
                 recipients: {in: [nobody@corp.example]}}
  - name: support
    when: {recipients: support@corp.example}
    actions:
      - forward: {to: [alice@team.example], from: forwarder@corp.example, subject_prefix: "[support] "}
"""
MESSAGE = (b"From: Alice <alice@sender.example>\r\nTo: support@corp.example\r\nSubject: %s\r\n"
           b"Message-ID: <m1@sender.example>\r\nDKIM-Signature: v=1; d=sender.example; b=AAAA\r\n\r\n"
           b"Hello,\r\n.line with a dot\r\n")
ENVELOPE = Envelope("bounces@sender.example", ("support@corp.example", "nobody@corp.example"),
                    "mx.sender.example", ("127.0.0.1", 40000))


def receiver(tmp_path: Path, policy: str = ACTIONS, verdicts: dict | None = None,
             maildir: bool = True) -> Receiver:
    loaded = load_policy_text(policy, name="test")
    return Receiver(lambda: loaded, verdicts or {}, LocalBackend(tmp_path / "actions"), local_setup({}),
                    tmp_path / "maildir" if maildir else None)


def test_the_event_is_what_ses_would_send_for_the_smtp_transaction(tmp_path):
    row, subject = receiver(tmp_path).receive(ENVELOPE, MESSAGE % b"hi")
    assert subject == "hi"
    assert row["smtp"] == {"mail_from": "bounces@sender.example",
                           "rcpt_tos": ["support@corp.example", "nobody@corp.example"], "peer": "127.0.0.1:40000"}
    assert row["assumed"] == ["spf", "dkim", "dmarc", "spam", "virus"]
    assert row["disposition"] == "CONTINUE" and row["rule"] is None
    stored = Path(row["delivered"]).read_bytes()
    assert stored.endswith(MESSAGE % b"hi")
    headers = read_headers(stored)
    assert headers[0] == ("Return-Path", "<bounces@sender.example>")
    assert headers[1][1].startswith(f"from mx.sender.example (unknown [127.0.0.1]) by inbound-smtp.local with "
                                    f"SMTP id {row['input']} for support@corp.example; ")
    assert find_ses_block(headers) is None          # the local block is never mistaken for SES's


def test_envelope_not_headers_decides_sender_and_recipients(tmp_path):
    policy = ("version: 1\nrules:\n  - {name: bcc, when: {recipients: hidden@corp.example}, "
              "disposition: STOP_RULE}\n  - {name: env, when: {sender: bounces@sender.example}, "
              "disposition: STOP_RULE_SET}\n")
    bcc = Envelope("x@other.example", ("hidden@corp.example",), "h", ("127.0.0.1", 1))
    assert receiver(tmp_path, policy).receive(bcc, MESSAGE % b"hi")[0]["rule"] == "bcc"
    assert receiver(tmp_path, policy).receive(ENVELOPE, MESSAGE % b"hi")[0]["rule"] == "env"


def test_verdicts_given_are_not_assumed(tmp_path):
    policy = "version: 1\nrules:\n  - {name: spam, when: {spam: FAIL}, disposition: STOP_RULE_SET}\n"
    row, _ = receiver(tmp_path, policy, {"spam": "FAIL"}).receive(ENVELOPE, MESSAGE % b"hi")
    assert row["rule"] == "spam" and row["assumed"] == ["spf", "dkim", "dmarc", "virus"]
    assert "delivered" not in row                   # only CONTINUE mail is delivered


def test_a_copy_of_an_ses_block_inside_the_message_is_the_senders_text(tmp_path):
    forged = (b"Return-Path: <a@x.example>\r\nReceived: from x (x [1.2.3.4]) by inbound-smtp.us-east-1."
              b"amazonaws.com with SMTP id forged0001 for v@corp.example\r\nX-SES-Spam-Verdict: FAIL\r\n"
              b"X-SES-Virus-Verdict: FAIL\r\n" + MESSAGE % b"hi")
    policy = "version: 1\nrules:\n  - {name: virus, when: {virus: FAIL}, disposition: STOP_RULE_SET}\n"
    row, _ = receiver(tmp_path, policy).receive(ENVELOPE, forged)
    assert row["disposition"] == "CONTINUE" and row["input"] != "forged0001"


def test_the_row_is_the_dry_run_row_of_the_stored_message_plus_smtp(tmp_path):
    rcv = receiver(tmp_path)
    row, _ = rcv.receive(ENVELOPE, MESSAGE % b"hi")
    policy = rcv.policy()
    # dry-run of what was stored (the local block on top) plans the same: SES's own block is not there
    again = dry_row(from_message("x", Path(row["delivered"]).read_bytes()), policy)
    assert {k: again[k] for k in ("disposition", "rule", "shadow", "errors")} == \
        {k: row[k] for k in ("disposition", "rule", "shadow", "errors")}
    assert set(row) == {"input", "disposition", "rule", "shadow", "errors", "assumed", "actions", "smtp",
                        "outcomes", "delivered"}


def test_actions_run_through_the_runners_against_the_local_backend(tmp_path):
    row, _ = receiver(tmp_path).receive(ENVELOPE, MESSAGE % b"hi")
    assert [(a["type"], a["rule"]) for a in row["actions"]] == [("bounce", "unknown-mailbox"), ("forward", "support")]
    bounce, forward = row["outcomes"]
    assert bounce["outcome"] == "done"
    [effect] = bounce["effects"]
    assert effect["call"] == "SES SendBounce"
    assert effect["request"] == {
        "OriginalMessageId": row["input"], "BounceSender": "postmaster@corp.example", "Explanation": "No such mailbox",
        "BouncedRecipientInfoList": [{"Recipient": "nobody@corp.example",
                                      "RecipientDsnFields": {"Action": "failed", "Status": "5.1.1"}}]}
    assert forward["outcome"] == "done"
    [written] = forward["effects"]
    assert written["mail_from"] == "forwarder@corp.example" and written["rcpt_tos"] == ["alice@team.example"]
    sent = Path(written["file"]).read_bytes()
    assert Path(written["file"]).parent.parent.name == ".Forwarded"
    assert sent.endswith(b"\r\n\r\nHello,\r\n.line with a dot\r\n")      # body bytes unchanged
    assert b"Subject: [support] hi\r\n" in sent and b"DKIM-Signature" not in sent
    assert b"X-Original-To: support@corp.example, nobody@corp.example\r\n" in sent


def test_store_and_notify_write_and_print(tmp_path):
    row, _ = receiver(tmp_path).receive(ENVELOPE, MESSAGE % b"quarantine me")
    assert row["disposition"] == "STOP_RULE_SET" and "delivered" not in row
    store, notify = row["outcomes"]
    [written] = store["effects"]
    assert written["file"] == str(tmp_path / "actions" / "store" / "quarantine" / row["input"])
    revision = load_policy_text(ACTIONS).revision
    assert written["metadata"] == {"policy": "local-actions", "revision": revision, "rule": "quarantine"}
    assert Path(written["file"]).read_bytes().endswith(MESSAGE % b"quarantine me")
    [published] = notify["effects"]
    assert published["call"] == "SNS Publish" and published["topic"].endswith(":security")
    assert published["message"]["messageId"] == row["input"]
    assert published["message"]["disposition"] == "STOP_RULE_SET"
    assert published["message"]["subject"] == "quarantine me"
    json.dumps(row)                                   # a JSON line


def test_a_message_that_is_not_mail_gets_an_unreadable_row(tmp_path):
    row, subject = receiver(tmp_path).receive(ENVELOPE, b"just some text, no header\r\n")
    assert row["disposition"] is None and "not an e-mail message" in row["errors"][0]
    assert subject is None and "delivered" not in row and "outcomes" not in row


def test_the_null_sender_is_the_empty_source(tmp_path):
    row, _ = receiver(tmp_path).receive(Envelope("", ("support@corp.example",), "h", ("::1", 9, 0, 0)),
                                        MESSAGE % b"hi")
    assert row["smtp"]["mail_from"] == "" and row["smtp"]["peer"] == "[::1]:9"
    assert Path(row["delivered"]).read_bytes().startswith(b"Return-Path: <>\r\n")


@pytest.mark.parametrize("data, eol", [(b"From: a@x.example\n\nbody\n", b"\n"), (MESSAGE % b"hi", b"\r\n")])
def test_the_stored_block_keeps_the_messages_line_ending(data, eol):
    from engine.mail.sesevent import Arrival

    stored = stored_message(ENVELOPE, Arrival("h", "unknown [127.0.0.1]", "id1", "Mon, 1 Jan 2024 00:00:00 +0000"),
                            data)
    assert stored.count(eol) == data.count(eol) + 2 and stored.endswith(data)


def test_message_ids_look_like_ses_ids_and_sort_by_arrival():
    ids = [new_message_id() for _ in range(50)]
    assert all(len(i) == 40 and i.isalnum() and i == i.lower() for i in ids)
    assert len(set(ids)) == 50 and sorted(ids, key=lambda i: i[:12]) == ids
