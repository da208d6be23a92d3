"""`ses-rules serve` with the clients operators use and the corpus: swaks, a relay target, and every
corpus message deciding exactly as `dry-run` decides on the same file with the same envelope."""
from __future__ import annotations

import json
import re
import shutil
import smtplib
import subprocess
from email import message_from_bytes, policy as email_policy
from pathlib import Path

import pytest

from conftest import CORPUS, corpus_path, need
from engine.mail.sesevent import message_event
from serve_harness import COMMAND, ROOT, relay_target, served

TIMEOUT = 60
POLICIES = [ROOT / "policies" / "default.yaml", ROOT / "examples" / "policies" / "forwarder.yaml",
            ROOT / "examples" / "policies" / "security-hardened.yaml"]
COMPARED = ("disposition", "rule", "shadow", "errors", "assumed", "actions")
FORWARDER = ROOT / "examples" / "policies" / "forwarder.yaml"
IDENTITY = "forwarder@relay.example"


def envelope(data: bytes) -> tuple[str, list[str]]:
    """The envelope `dry-run` gives a stored `.eml`: its sender and recipients."""
    ses = message_event(data).event["Records"][0]["ses"]
    return ses["mail"]["source"], ses["receipt"]["recipients"]


def crlf(data: bytes) -> bytes:
    """What goes over SMTP: every line ending CRLF (swaks does the same to a file)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def send(smtp: smtplib.SMTP, sender: str, recipients: list[str], data: bytes) -> None:
    options = [] if (sender + "".join(recipients)).isascii() else ["SMTPUTF8"]
    options += [] if data.isascii() else ["BODY=8BITMIME"]
    assert smtp.sendmail(sender, recipients, data, mail_options=options) == {}


@pytest.mark.corpus
@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.stem)
def test_every_corpus_message_decides_through_serve_as_dry_run_decides(policy: Path):
    folder = corpus_path("eml")
    files = sorted(folder.glob("*.eml"))
    done = subprocess.run([*COMMAND, "dry-run", "--format", "json", str(policy), str(folder)], capture_output=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr.decode()
    expected = {Path(r["input"]).name: r for r in json.loads(done.stdout)["results"]}
    assert sorted(expected) == [f.name for f in files]
    with served(policy) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=TIMEOUT) as smtp:
            for path in files:
                data = path.read_bytes()
                sender, recipients = envelope(data)
                send(smtp, sender, recipients, crlf(data))
                row = server.row()
                assert row["smtp"] == {"mail_from": sender, "rcpt_tos": recipients, "peer": row["smtp"]["peer"]}
                wanted = expected[path.name]
                assert {k: row.get(k) for k in COMPARED} == {k: wanted.get(k) for k in COMPARED}, path.name


def swaks(port: int, *args: str) -> subprocess.CompletedProcess:
    if shutil.which("swaks") is None:
        pytest.fail("swaks is not installed: scripts/ci-system-deps.sh installs it")
    return subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port), *args], capture_output=True,
                          text=True, timeout=TIMEOUT)


@pytest.mark.corpus
def test_swaks_sends_a_corpus_message_with_data(tmp_path):
    path = need(CORPUS / "eml" / "spamassassin--spam_fromnamespoof_spoof1.eml")
    sender, recipients = envelope(path.read_bytes())
    with served(ROOT / "policies" / "default.yaml", "--maildir", str(tmp_path)) as server:
        done = swaks(server.port, "--from", sender, "--to", ",".join(recipients), "--data", f"@{path}")
        row = server.row()
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(rf"<-  250 Ok {row['input']}\n", done.stdout)
    assert row["smtp"]["mail_from"] == sender and row["smtp"]["rcpt_tos"] == recipients
    assert row["disposition"] == "STOP_RULE_SET" and row["rule"] == "drop-display-name-spoof"


def test_swaks_default_message_is_delivered(tmp_path):
    with served(ROOT / "policies" / "default.yaml", "--maildir", str(tmp_path), json_rows=False) as server:
        done = swaks(server.port, "--from", "alice@sender.example", "--to", "bob@corp.example",
                     "--header", "Subject: try it")
        head = server.line()
        delivered = server.line()
    assert done.returncode == 0 and "<-  250 Ok " in done.stdout
    assert "CONTINUE" in head and '"try it"' in head and "delivered:" in delivered


def body_of(data: bytes) -> bytes:
    return data[data.index(b"\r\n\r\n") + 4:]


MESSAGE = crlf(b"""Return-Path: <bounce@sender.example>
DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=s1; h=from:to:subject; b=AAAA
From: "Alice Example" <alice@sender.example>
To: support@corp.example
Subject: =?utf-8?q?Rechnung_f=C3=BCr_M=C3=A4rz?=
Message-ID: <m42@sender.example>
Date: Mon, 1 Jan 2024 10:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Gr\xc3\xbc\xc3\x9fe,
.a line that starts with a dot, and trailing spaces   
the invoice.
""")


def test_a_forward_is_relayed_end_to_end_headers_rewritten_body_unchanged():
    with relay_target() as (port, relayed):
        with served(FORWARDER, "--relay", f"127.0.0.1:{port}", env={"FORWARD_FROM": IDENTITY}) as server:
            with smtplib.SMTP("127.0.0.1", server.port, timeout=TIMEOUT) as smtp:
                send(smtp, "bounce@sender.example", ["support@corp.example"], MESSAGE)
            row = server.row()
    [outcome] = row["outcomes"]
    assert outcome["outcome"] == "done" and outcome["effects"][0]["to"] == f"127.0.0.1:{port}"
    [message] = relayed
    assert message.mail_from == IDENTITY and message.rcpt_tos == ["alice@team.example", "bob@team.example"]
    assert body_of(message.content) == body_of(MESSAGE)                       # body bytes unchanged
    headers = message_from_bytes(message.content, policy=email_policy.default)
    assert headers["From"] == f'"Alice Example via relay.example" <{IDENTITY}>'
    assert headers["Reply-To"] == "Alice Example <alice@sender.example>"      # set to the original From
    assert "<alice@sender.example>" in headers["X-Original-From"]
    assert headers["X-Original-To"] == "support@corp.example"
    assert headers["X-SES-Rules-Forwarded-By"] == IDENTITY
    assert headers["Subject"] == "Rechnung für März"
    for removed in ("DKIM-Signature", "Message-ID", "Return-Path", "Sender"):
        assert removed not in headers, removed
    assert row["input"] in headers["Received"]          # the receiving block's Received stays, as SES's does


@pytest.mark.corpus
def test_swaks_corpus_message_forwarded_through_the_relay_keeps_its_body(tmp_path):
    path = need(CORPUS / "eml" / "stalwart--thirdparty_015.eml")      # 8-bit, a long body
    with relay_target() as (port, relayed):
        with served(FORWARDER, "--relay", f"127.0.0.1:{port}", "--maildir", str(tmp_path),
                    env={"FORWARD_FROM": IDENTITY}) as server:
            done = swaks(server.port, "--from", "x@sender.example", "--to", "someone@elsewhere.example",
                         "--data", f"@{path}")
            row = server.row()
    assert done.returncode == 0, done.stdout
    assert [a["rule"] for a in row["actions"]] == ["forward-catch-all"]
    [message] = relayed
    assert message.rcpt_tos == ["postmaster@team.example"]
    received = Path(row["delivered"]).read_bytes()      # what serve got from swaks (which adds a last CRLF)
    assert body_of(message.content) == body_of(received)
    assert body_of(received).startswith(body_of(crlf(path.read_bytes())))
