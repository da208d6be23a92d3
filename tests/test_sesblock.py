"""engine.mail.sesblock and engine.mail.authres: SES's verdicts from a stored message, and only from SES.

The `.eml` fixtures are built at test time from the header blocks of Mozilla Relay's captured SES
notifications in the shared corpus (never copied into the project). Their authors edited them: the
headers say `pass` where the receipt says FAIL, so they show the block's shape, and each test sets
the values it needs.
"""
from __future__ import annotations

import json

import pytest

from engine.mail.authres import parse_authentication_results
from engine.mail.sesblock import find_ses_block, synthetic_block
from engine.mail.sesevent import build_event, message_event, read_headers
from tests.conftest import CORPUS, corpus_files, need

RELAY = "fx-private-relay--*.json"
FORGED_BELOW = [("X-SES-Spam-Verdict", "PASS"), ("X-SES-Virus-Verdict", "PASS"),
                ("Authentication-Results", "amazonses.com; spf=pass; dkim=pass; dmarc=pass;"),
                ("Received-SPF", "pass")]


def relay_headers(path) -> list[tuple[str, str]]:
    notification = json.loads(json.loads(need(path).read_text(encoding="utf-8-sig"))["Message"])
    return [(h["name"], h["value"]) for h in notification["mail"]["headers"]]


def eml(headers: list[tuple[str, str]], body: str = "hello\r\n") -> bytes:
    return ("".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n" + body).encode()


def replace(headers, name: str, value: str, nth: int = 0):
    """The headers with the ``nth`` field called ``name`` given ``value``."""
    seen, result = 0, []
    for key, old in headers:
        if key.lower() == name.lower():
            result.append((key, value if seen == nth else old))
            seen += 1
        else:
            result.append((key, old))
    return result


def receipt(data: bytes, **fields):
    made = message_event(data, fields)
    return made.event["Records"][0]["ses"], made.assumed


# --------------------------------------------------------------------------- the real blocks

@pytest.mark.parametrize("path", corpus_files("ses-events", RELAY))
def test_the_real_block_is_recognised_and_ends_before_the_senders_headers(path):
    headers = relay_headers(path)
    block = find_ses_block(headers)
    assert block is not None
    assert [name for name, _ in headers[:block.size]][-1] == "X-SES-DKIM-SIGNATURE"
    assert block.size == 8
    assert block.helo and block.peer and "[" in block.peer
    assert "@" in block.recipient and block.date
    # What the (edited) headers say, not the receipt: the block is the stored message's truth.
    assert block.verdicts == {"spam": "PASS", "virus": "PASS", "spf": "PASS", "dkim": "PASS",
                              "dmarc": "PASS"}


@pytest.mark.parametrize("path", corpus_files("ses-events", RELAY))
def test_a_stored_message_takes_envelope_recipient_and_id_from_the_block(path):
    notification = json.loads(json.loads(need(path).read_text(encoding="utf-8-sig"))["Message"])
    ses, assumed = receipt(eml(relay_headers(path)))
    mail = notification["mail"]
    assert assumed == ()
    assert ses["mail"]["messageId"] == mail["messageId"]          # SES's id is the SMTP id
    assert ses["mail"]["source"] == mail["source"]
    assert ses["receipt"]["recipients"] == ses["mail"]["destination"] == mail["destination"]
    assert ses["mail"]["timestamp"][:19] == mail["timestamp"][:19]  # SES's receipt time
    assert ses["mail"]["headers"][:8] == mail["headers"][:8]        # no synthetic block on top


def test_forged_verdicts_below_the_block_are_the_senders_text():
    """The block says FAIL; the sender wrote PASS lower down: SES's FAIL stands."""
    path = CORPUS / "ses-events" / "fx-private-relay--dmarc_failed_email_sns_body.json"
    headers = relay_headers(path)
    headers = replace(headers, "X-SES-Spam-Verdict", "FAIL")
    headers = replace(headers, "Authentication-Results",
                      "amazonses.com; spf=fail (spfCheck: 209.85.128.45 is not permitted) "
                      "client-ip=209.85.128.45; envelope-from=source@sender.com; helo=x; "
                      "dkim=pass header.i=@mozilla.com; "
                      "dmarc=fail (p=REJECT sp=REJECT pct=100%) header.from=mozilla.com;")
    size = find_ses_block(headers).size
    forged = headers[:size] + FORGED_BELOW + headers[size:]
    ses, assumed = receipt(eml(forged))
    got = {key: ses["receipt"][key]["status"] for key in ("spamVerdict", "spfVerdict", "dkimVerdict",
                                                           "dmarcVerdict", "virusVerdict")}
    assert got == {"spamVerdict": "FAIL", "spfVerdict": "FAIL", "dkimVerdict": "PASS",
                   "dmarcVerdict": "FAIL", "virusVerdict": "PASS"}
    assert ses["receipt"]["dmarcPolicy"] == "reject"
    assert assumed == ()


def test_a_forged_block_lower_down_is_not_a_block():
    """Without SES's block on top, SES-looking headers anywhere are ignored: every verdict assumed."""
    path = CORPUS / "ses-events" / "fx-private-relay--spamVerdict_FAIL_email_sns_body.json"
    headers = relay_headers(path)
    size = find_ses_block(headers).size
    moved = [("From", "a@x.example")] + replace(headers[:size], "X-SES-Spam-Verdict", "FAIL")
    ses, assumed = receipt(eml(moved))
    assert ses["receipt"]["spamVerdict"]["status"] == "PASS"
    assert assumed == ("spf", "dkim", "dmarc", "spam", "virus")
    assert ses["mail"]["headers"][1]["value"].endswith("for recipient@example.com")


def test_block_ends_at_a_repeat_or_a_foreign_name_and_the_first_occurrence_wins():
    top = [("Return-Path", "<a@x.example>"),
           ("Received", "from h (h [192.0.2.1]) by inbound-smtp.eu-west-1.amazonaws.com with SMTP id "
                        "abc123 for rcpt@corp.example; Mon, 27 Sep 2021 20:16:39 +0000 (UTC)")]
    repeat = top + [("X-SES-Spam-Verdict", "FAIL"), ("X-SES-Spam-Verdict", "PASS"),
                    ("X-SES-Virus-Verdict", "FAIL")]
    block = find_ses_block(repeat)
    assert block.size == 3 and block.verdicts == {"spam": "FAIL"}   # the virus verdict is past the end
    foreign = top + [("X-SES-Virus-Verdict", "FAIL"), ("Subject", "x"), ("X-SES-Spam-Verdict", "FAIL")]
    assert find_ses_block(foreign).verdicts == {"virus": "FAIL"}
    after_last = top + [("X-SES-DKIM-SIGNATURE", "a=rsa-sha256"), ("X-SES-Spam-Verdict", "FAIL")]
    assert find_ses_block(after_last).size == 3 and find_ses_block(after_last).verdicts == {}


@pytest.mark.parametrize("top", [
    [("Received", "by inbound-smtp.us-east-1.amazonaws.com with SMTP id abc"), ("Return-Path", "<a@x>")],
    [("Return-Path", "<a@x.example>"), ("Received", "from h by mx.evil.example with SMTP id abc")],
    [("Return-Path", "<a@x.example>"), ("Received", "by inbound-smtp.us-east-1.amazonaws.com.evil.example "
                                                    "with SMTP id abc")],
    [("Return-Path", "<a@x.example>"), ("X-SES-Spam-Verdict", "FAIL")],
    [("Return-Path", "<a@x.example>"), ("Received", "from h by inbound-smtp.local with SMTP id abc")],
])
def test_only_the_exact_shape_is_recognised(top):
    assert find_ses_block(top + [("X-SES-Spam-Verdict", "FAIL")]) is None


def test_authserv_id_other_than_amazonses_does_not_count():
    top = [("Return-Path", "<a@x.example>"),
           ("Received", "from h (h [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com with SMTP id i1")]
    block = find_ses_block(top + [("Authentication-Results", "mx.evil.example; spf=fail; dkim=fail")])
    assert block.verdicts == {}
    block = find_ses_block(top + [("Received-SPF", "softfail (domain does not designate)")])
    assert block.verdicts == {"spf": "FAIL"}


@pytest.mark.parametrize("result, verdict", [
    ("pass", "PASS"), ("fail", "FAIL"), ("softfail", "FAIL"), ("none", "GRAY"), ("neutral", "GRAY"),
    ("temperror", "PROCESSING_FAILED"), ("permerror", "PROCESSING_FAILED"), ("PASS", "PASS")])
def test_results_map_to_ses_verdicts(result, verdict):
    top = [("Return-Path", "<a@x.example>"),
           ("Received", "from h (h [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com with SMTP id i1"),
           ("Authentication-Results", f"amazonses.com; spf={result}; dkim={result}; dmarc={result};")]
    assert find_ses_block(top).verdicts == {"spf": verdict, "dkim": verdict, "dmarc": verdict}


def test_verdicts_not_found_are_pass_and_assumed():
    top = [("Return-Path", "<a@x.example>"),
           ("Received", "from h (h [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com with SMTP id i1"
                        " for b@corp.example"),
           ("X-SES-Spam-Verdict", "FAIL"),
           ("Authentication-Results", "amazonses.com; dmarc=fail header.from=x.example;")]
    ses, assumed = receipt(eml(top + [("From", "a@x.example")]))
    assert assumed == ("spf", "dkim", "virus", "dmarc_policy")
    assert ses["receipt"]["dmarcPolicy"] == "none" and ses["receipt"]["spfVerdict"]["status"] == "PASS"
    assert ses["mail"]["messageId"] == "i1" and ses["receipt"]["recipients"] == ["b@corp.example"]
    _, assumed = receipt(eml(top), spf="FAIL", dkim="PASS", virus="PASS", dmarc="FAIL",
                         dmarc_policy="reject")
    assert assumed == ()                                        # what the caller sets is not assumed


# --------------------------------------------------------------------------- Authentication-Results

def test_the_real_ses_header_parses_with_its_extra_items_and_trailing_semicolon():
    value = ("amazonses.com; spf=pass (spfCheck: domain of mozilla.com designates 209.85.128.45 as "
             "permitted sender) client-ip=209.85.128.45; envelope-from=source@sender.com; "
             "helo=mail-wm1-f45.google.com; dkim=pass header.i=@mozilla.com; dmarc=pass header.from=mozilla.com;")
    parsed = parse_authentication_results(value)
    assert parsed.authserv_id == "amazonses.com"
    assert [(r.method, r.result) for r in parsed.results] == [("spf", "pass"), ("dkim", "pass"),
                                                               ("dmarc", "pass")]
    spf = parsed.first("spf")
    assert spf.properties == {"client-ip": "209.85.128.45", "envelope-from": "source@sender.com",
                              "helo": "mail-wm1-f45.google.com"}
    assert spf.comments == ["spfCheck: domain of mozilla.com designates 209.85.128.45 as permitted sender"]
    assert parsed.first("dkim").properties == {"header.i": "@mozilla.com"}


def test_comments_nest_and_quotes_hide_semicolons():
    parsed = parse_authentication_results(
        'AmazonSES.com 1; dmarc=fail (p=REJECT (nested; really) sp=NONE) header.from="a;b"; dkim=none')
    assert parsed.authserv_id == "amazonses.com"
    dmarc = parsed.first("dmarc")
    assert dmarc.comments == ["p=REJECT (nested; really) sp=NONE"]
    assert dmarc.properties == {"header.from": "a;b"}
    assert parsed.first("dkim").result == "none"


@pytest.mark.parametrize("value", ["", ";", "(only a comment)", "amazonses.com; ((((", ";;;; spf=pass",
                                   "amazonses.com; spf=", "x" * 100_000, "a; " + "(" * 5000 + ")" * 5000])
def test_anything_parses_or_gives_none_without_raising(value):
    parsed = parse_authentication_results(value)
    assert parsed is None or isinstance(parsed.authserv_id, str)


def test_first_result_of_a_method_wins():
    parsed = parse_authentication_results("amazonses.com; dkim=fail; dkim=pass")
    assert parsed.first("dkim").result == "fail"


# --------------------------------------------------------------------------- synthetic block

def test_synthetic_block_is_what_serve_and_dry_run_both_prepend():
    assert synthetic_block(helo="client.example", peer="127.0.0.1", message_id="m1",
                           mail_from="a@x.example", rcpt="b@y.example", date="Mon, 1 Jan 2024 00:00:00 +0000") == [
        ("Return-Path", "<a@x.example>"),
        ("Received", "from client.example (127.0.0.1) by inbound-smtp.local with SMTP id m1 for b@y.example; "
                     "Mon, 1 Jan 2024 00:00:00 +0000")]
    data = b"From: Boss <boss@x.example>\r\nTo: t@y.example\r\n\r\nbody\r\n"
    ses, assumed = receipt(data)
    block = synthetic_block(helo="unknown", peer="unknown", message_id=ses["mail"]["messageId"],
                            mail_from="boss@x.example", rcpt="t@y.example")
    assert [(h["name"], h["value"]) for h in ses["mail"]["headers"]] == block + read_headers(data)
    assert ses["mail"]["commonHeaders"]["returnPath"] == "boss@x.example"
    assert assumed == ("spf", "dkim", "dmarc", "spam", "virus")


# --------------------------------------------------------------------------- events from flags (issue 16 item 5)

def test_flag_events_have_date_message_id_return_path_and_a_recipient():
    ses = build_event({"from": "Jane <jane@x.example>", "subject": "hi"})["Records"][0]["ses"]
    common = ses["mail"]["commonHeaders"]
    assert common["returnPath"] == "jane@x.example"
    assert common["date"] == "Thu, 01 Jan 1970 00:00:00 +0000"
    assert common["messageId"] == f"<{ses['mail']['messageId']}@ses-rules.invalid>"
    assert ses["mail"]["destination"] == ses["receipt"]["recipients"] == ["recipient@example.com"]
    given = build_event({"header": ["Date: Wed, 7 Oct 2015 12:34:56 -0700", "Message-ID: <m@x>"]})
    common = given["Records"][0]["ses"]["mail"]["commonHeaders"]
    assert common["date"] == "Wed, 7 Oct 2015 12:34:56 -0700" and common["messageId"] == "<m@x>"
