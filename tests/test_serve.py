"""`ses-rules serve` end to end with the standard library's SMTP client: the server in a subprocess
on 127.0.0.1 (a free port), every wait bounded."""
from __future__ import annotations

import json
import mailbox
import signal
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import pytest

from serve_harness import COMMAND, ROOT, served

DEFAULT = ROOT / "policies" / "default.yaml"
TIMEOUT = 60
SPOOF = "version: 1\nname: spoof\nrules:\n  - {name: spoof, when: {subject: {contains: spoof}}, disposition: STOP_RULE_SET}\n"


def message(subject: str = "hello", body: bytes = b"Hello.\r\n", extra: bytes = b"") -> bytes:
    return (b"From: Alice <alice@sender.example>\r\nTo: bob@corp.example\r\nSubject: " + subject.encode() +
            b"\r\nMessage-ID: <m@sender.example>\r\n" + extra + b"\r\n" + body)


def client(port: int) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT)


def test_plain_message_is_accepted_decided_and_delivered(tmp_path):
    with served(DEFAULT, "--maildir", str(tmp_path / "md")) as server:
        with client(server.port) as smtp:
            code, features = smtp.ehlo("client.example")
            assert code == 250 and b"SMTPUTF8" in features and b"8BITMIME" in features
            assert b"SIZE 41943040" in features                      # SES's 40 MB, not aiosmtpd's 32 MiB
            assert smtp.sendmail("alice@sender.example", ["bob@corp.example"], message()) == {}
        row = server.row()
        code, rest, said = server.stop()
    assert code == 0 and rest == "" and "Traceback" not in said
    assert row["disposition"] == "CONTINUE" and row["rule"] is None and row["errors"] == []
    assert row["smtp"]["mail_from"] == "alice@sender.example" and row["smtp"]["rcpt_tos"] == ["bob@corp.example"]
    assert row["smtp"]["peer"].startswith("127.0.0.1:")
    assert row["assumed"] == ["spf", "dkim", "dmarc", "spam", "virus"]
    [delivered] = list(mailbox.Maildir(tmp_path / "md"))
    assert delivered["Return-Path"] == "<alice@sender.example>"
    assert f"from client.example (unknown [127.0.0.1]) by inbound-smtp.local with SMTP id {row['input']}" \
        in delivered["Received"]
    assert Path(row["delivered"]).read_bytes().endswith(message())


def test_every_message_gets_250_whatever_the_policy_decides(tmp_path):
    policy = tmp_path / "spoof.yaml"
    policy.write_text(SPOOF)
    with served(policy, "--maildir", str(tmp_path / "md")) as server:
        with client(server.port) as smtp:
            smtp.ehlo()
            smtp.mail("alice@sender.example")
            smtp.rcpt("bob@corp.example")
            code, answer = smtp.data(message("a spoof"))
            assert code == 250 and answer.decode().startswith("Ok ")
        row = server.row()
        assert row["disposition"] == "STOP_RULE_SET" and row["rule"] == "spoof"
        assert answer.decode() == f"Ok {row['input']}"
    assert list(mailbox.Maildir(tmp_path / "md")) == []              # not delivered


def test_smtputf8_envelope_and_headers():
    data = "From: Jöran <jöran@bücher.example>\r\nTo: märy@exämple.net\r\nSubject: grüße\r\n\r\nHallo\r\n".encode()
    with served(DEFAULT) as server:
        with client(server.port) as smtp:
            smtp.ehlo()
            smtp.sendmail("jöran@bücher.example", ["märy@exämple.net"], data, mail_options=["SMTPUTF8"])
        row = server.row()
    assert row["smtp"]["mail_from"] == "jöran@bücher.example" and row["smtp"]["rcpt_tos"] == ["märy@exämple.net"]
    assert row["disposition"] == "CONTINUE" and row["errors"] == []


def test_8bitmime_body_is_kept_byte_for_byte(tmp_path):
    body = "Grüße aus Köln, ½ € \r\n".encode("utf-8") + b"latin-1 \xe9t\xe9\r\n"
    data = message(extra=b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n", body=body)
    with served(DEFAULT, "--maildir", str(tmp_path)) as server:
        with client(server.port) as smtp:
            smtp.ehlo()
            smtp.sendmail("alice@sender.example", ["bob@corp.example"], data, mail_options=["BODY=8BITMIME"])
        row = server.row()
    assert Path(row["delivered"]).read_bytes().endswith(data)


def test_a_20_mb_message_and_a_1051_character_from_line(tmp_path):
    long_from = b"From: " + b"x" * 1022 + b" <alice@sender.example>"
    assert len(long_from) == 1051
    body = (b"A" * 76 + b"\r\n") * (20 * 1024 * 1024 // 78)
    data = message().replace(b"From: Alice <alice@sender.example>", long_from) + body
    assert len(data) > 20_000_000
    with served(DEFAULT, "--maildir", str(tmp_path)) as server:
        with client(server.port) as smtp:
            smtp.ehlo()
            assert smtp.sendmail("alice@sender.example", ["bob@corp.example"], data) == {}
        row = server.row()
    assert row["disposition"] == "CONTINUE" and row["errors"] == []
    assert Path(row["delivered"]).stat().st_size > len(data)


def test_over_40_mb_is_refused_as_ses_refuses_it():
    with served(DEFAULT) as server:
        with client(server.port) as smtp:
            smtp.ehlo()
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:     # SIZE= over the limit
                smtp.sendmail("alice@sender.example", ["bob@corp.example"], b"x" * (41 * 1024 * 1024))
            assert refused.value.smtp_code == 552


def test_a_hundred_recipients_are_all_in_the_event(tmp_path):
    recipients = [f"user{n:03d}@corp.example" for n in range(100)]
    with served(DEFAULT) as server:
        with client(server.port) as smtp:
            smtp.ehlo()
            assert smtp.sendmail("alice@sender.example", recipients, message()) == {}
        row = server.row()
    assert row["smtp"]["rcpt_tos"] == recipients


def test_recipients_reach_the_policy_as_receipt_recipients_and_destination(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nrules:\n"
                      "  - {name: d, when: {path: '$.mail.destination[99]', equals: user099@corp.example},"
                      " disposition: STOP_RULE_SET}\n"
                      "  - {name: r, when: {recipients: user098@corp.example}, disposition: STOP_RULE}\n")
    recipients = [f"user{n:03d}@corp.example" for n in range(100)]
    with served(policy) as server:
        with client(server.port) as smtp:
            smtp.sendmail("alice@sender.example", recipients, message())
            smtp.sendmail("alice@sender.example", recipients[:99] + ["x@corp.example"], message())
            smtp.sendmail("", recipients[:1], message())
        first, second, third = server.row(), server.row(), server.row()
    assert first["rule"] == "d" and second["rule"] == "r" and third["rule"] is None
    assert third["smtp"]["mail_from"] == ""                                # MAIL FROM:<>, the null sender


def test_a_client_that_disconnects_mid_data_leaves_no_row_and_the_server_serving():
    with served(DEFAULT) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw:
            reader = raw.makefile("rb")
            assert reader.readline().startswith(b"220")
            for command in (b"EHLO c.example", b"MAIL FROM:<a@x.example>", b"RCPT TO:<b@corp.example>", b"DATA"):
                raw.sendall(command + b"\r\n")
                while (line := reader.readline())[3:4] == b"-":
                    pass
            assert line.startswith(b"354")
            raw.sendall(b"From: a@x.example\r\nSubject: cut\r\n\r\nhalf a bo")
        with client(server.port) as smtp:
            smtp.sendmail("alice@sender.example", ["bob@corp.example"], message("after"))
        row = server.row()
        code, rest, said = server.stop()
    assert row["smtp"]["mail_from"] == "alice@sender.example"             # the next message's row, not the cut one
    assert code == 0 and rest == "" and "stopped after 1 message" in said and "Traceback" not in said


def test_text_rows_show_the_decision_the_envelope_and_the_subject(tmp_path):
    with served(DEFAULT, "--maildir", str(tmp_path), json_rows=False) as server:
        with client(server.port) as smtp:
            smtp.sendmail("alice@sender.example", [f"u{n}@corp.example" for n in range(5)], message("Quarterly"))
        head, delivered = server.line(), server.line()
    assert "CONTINUE" in head and "(default)" in head and "<alice@sender.example> -> u0@corp.example" in head
    assert "(+2 more)" in head and '"Quarterly"' in head
    assert delivered.strip().startswith(f"delivered: {tmp_path}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_stop_it_cleanly(sig):
    with served(DEFAULT) as server:
        with client(server.port) as smtp:                  # an open connection does not hold it up
            smtp.ehlo()
            code, rest, said = server.stop(sig)
    assert code == 0 and rest == ""
    assert "stopped after 0 messages" in said and "Traceback" not in said


def test_watch_reloads_a_good_edit_and_keeps_the_last_good_policy_on_a_bad_one(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text(SPOOF)
    with served(policy, "--watch") as server:
        def decide(subject: str) -> dict:
            with client(server.port) as smtp:
                smtp.sendmail("alice@sender.example", ["bob@corp.example"], message(subject))
            return server.row()

        assert decide("a spoof")["rule"] == "spoof"
        policy.write_text(SPOOF.replace("spoof}", "phish}").replace("name: spoof, ", "name: phish, "))
        server.wait_said("reloaded: spoof revision")
        assert decide("a spoof")["rule"] is None and decide("a phish")["rule"] == "phish"
        policy.write_text(SPOOF.replace("disposition: STOP_RULE_SET", "disposition: STOP_EVERYTHING"))
        said = server.wait_said("does not load")
        detail = server.wait_said(r"p\.yaml:\d+:\d+: error")
        assert "still deciding with spoof revision" in said and "STOP_EVERYTHING" in detail
        assert decide("a phish")["rule"] == "phish"                # the last good policy
        code, _, log = server.stop()
    assert code == 0 and "Traceback" not in log


def test_listening_beyond_loopback_needs_allow_remote():
    done = subprocess.run([*COMMAND, "serve", str(DEFAULT), "--listen", "0.0.0.0:0"], capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=ROOT)
    assert done.returncode == 2
    assert "reachable from other machines" in done.stderr and "--allow-remote" in done.stderr


@pytest.mark.parametrize("args, message", [
    (["--listen", "127.0.0.1"], "is not HOST:PORT"),
    (["--relay", "127.0.0.1:0"], "is not HOST:PORT"),
    (["--verdict", "spma=FAIL"], "did you mean spam"),
    (["--verdict", "spam=MAYBE"], "'MAYBE' is not one of"),
    (["--verdict", "dmarc_policy=reject"], "only when dmarc is FAIL"),
    (["--maildir", "pyproject.toml"], "--maildir pyproject.toml: Not a directory"),
])
def test_bad_options_are_usage_errors(args, message):
    done = subprocess.run([*COMMAND, "serve", str(DEFAULT), *args], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=ROOT)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_verdict_flags_reach_every_message(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nrules:\n  - {name: reject, when: {dmarc: FAIL, dmarc_policy: reject}, "
                      "disposition: STOP_RULE_SET}\n")
    with served(policy, "--verdict", "dmarc=FAIL", "--verdict", "dmarc-policy=reject") as server:
        assert any("set: dmarc=FAIL, dmarc_policy=reject" in line for line in server.said)
        with client(server.port) as smtp:
            smtp.sendmail("alice@sender.example", ["bob@corp.example"], message())
        row = server.row()
    assert row["rule"] == "reject" and row["assumed"] == ["spf", "dkim", "spam", "virus"]


def test_a_policy_that_does_not_load_is_not_served(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nrules:\n  - {name: x, disposition: MAYBE}\n")
    started = time.monotonic()
    done = subprocess.run([*COMMAND, "serve", str(policy), "--listen", "127.0.0.1:0"], capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=ROOT)
    assert done.returncode == 1 and "p.yaml:3:" in done.stderr and "nothing served" in done.stderr
    assert time.monotonic() - started < TIMEOUT


def test_json_rows_are_one_object_per_line(tmp_path):
    with served(DEFAULT) as server:
        with client(server.port) as smtp:
            for n in range(3):
                smtp.sendmail("alice@sender.example", ["bob@corp.example"], message(f"n{n}"))
        lines = [server.line() for _ in range(3)]
    rows = [json.loads(line) for line in lines]
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    assert len({row["input"] for row in rows}) == 3


def test_make_serve_runs_the_default_policy_with_a_maildir_under_build():
    argv = ["make", "-s", "serve", "SERVE_ARGS=--listen 127.0.0.1:0 --format json"]
    with served(DEFAULT, argv=argv) as server:
        assert any("policy default" in line for line in server.said)
        with client(server.port) as smtp:
            smtp.sendmail("alice@sender.example", ["bob@corp.example"], message("make serve"))
        row = server.row()
        delivered = ROOT / row["delivered"]                   # relative: make runs in the checkout
        try:
            assert delivered.parent == ROOT / "build" / "maildir" / "new" and delivered.read_bytes().endswith(
                message("make serve"))
        finally:
            delivered.unlink()
        _, _, said = server.stop(signal.SIGINT)
    assert "stopped after 1 message" in said and "Traceback" not in said
