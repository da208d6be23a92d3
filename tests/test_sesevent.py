"""engine.mail.sesevent: the events `ses-rules event`, `.eml` dry runs and inline test events evaluate."""
from __future__ import annotations

import json
import re
from email import policy as email_policy
from email.header import Header

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.mail.addresses import MAX_REFERENCE_LENGTH, normalize_domain, parse_addresses
from engine.mail.commonheaders import address_strings
from engine.mail.sesevent import (EPOCH, HEADERS_LIMIT, build_event, event_from_eml,
                             normalize_fields, read_headers)
from tests.conftest import CORPUS, corpus_files, need

ADDRESS_HEADERS = {"from": "from", "to": "to", "cc": "cc", "bcc": "bcc", "reply-to": "replyTo",
                   "sender": "sender"}


def ses(event: dict) -> dict:
    [record] = event["Records"]
    assert record["eventSource"] == "aws:ses" and record["eventVersion"] == "1.0"
    return record["ses"]


def mail_of(data: bytes, **fields) -> dict:
    return ses(event_from_eml(data, fields))["mail"]


def reference_parts(raw: str) -> list[tuple[str, str, str]]:
    """(display name, local part, domain) per mailbox by the stdlib reference parser."""
    try:
        header = email_policy.default.header_factory("to", raw)
    except Exception:  # the reference parser raises on some broken headers
        return []
    return [(a.display_name, a.username, a.domain) for a in header.addresses]


def reference(raw: str) -> list[tuple[str, str]]:
    return [(name, f"{local}@{domain}") for name, local, domain in reference_parts(raw)]


def engine_view(raw: str) -> list[tuple[str, str]]:
    return [(a.display_name, a.address) for a in parse_addresses(raw)]


def assert_parses_back(raw: str, written: list[str]) -> None:
    """The strings SES-style events hold for one header mean what the header means.

    Through the stdlib parser: the same mailboxes. Through engine.mail.addresses: the mailboxes the
    reference parser sees in the header (a header kept as written reads as it always did).
    """
    assert [m for s in written for m in reference_parts(s)] == reference_parts(raw), (raw, written)
    if written == [raw]:
        return
    expected = [(name, f"{local}@{normalize_domain(domain)}")
                for name, local, domain in reference_parts(raw) if local and domain]
    assert [m for s in written for m in engine_view(s)] == expected, (raw, written)


# --------------------------------------------------------------------------- the corpus

@pytest.mark.parametrize("path", corpus_files("eml", "*.eml"))
def test_corpus_message_converts_and_addresses_parse_back(path):
    data = need(path).read_bytes()
    event = event_from_eml(data)
    json.dumps(event, ensure_ascii=False).encode("utf-8")  # JSON-safe: no lone surrogates
    mail = ses(event)["mail"]
    headers = read_headers(data)
    for name, key in ADDRESS_HEADERS.items():
        raws = [value for field, value in headers if field.lower() == name]
        if not raws:
            assert key not in mail["commonHeaders"]
            continue
        assert mail["commonHeaders"][key] == [s for raw in raws for s in address_strings(raw)]
        for raw in raws:
            assert_parses_back(raw, address_strings(raw))


@pytest.mark.parametrize("path", corpus_files("eml", "*.eml"))
def test_corpus_message_keeps_every_header_in_order(path):
    data = need(path).read_bytes()
    mail = ses(event_from_eml(data))["mail"]
    headers = [(h["name"], h["value"]) for h in mail["headers"]]
    assert [name for name, _ in headers[:2]] == ["Return-Path", "Received"]   # the synthetic block
    assert "by inbound-smtp.local with SMTP id" in headers[1][1]
    headers = headers[2:]
    full = read_headers(data)
    assert headers == full[:len(headers)]
    assert mail["headersTruncated"] == (len(headers) < len(full))
    assert all("\n" not in value and "\r" not in value for _, value in headers)


def test_corpus_display_names_are_decoded():
    mail = mail_of(need(CORPUS / "eml" / "spamscope--mail_test_18.eml").read_bytes())
    assert mail["commonHeaders"]["from"] == ['"LastßlName, FirstName" <comma.name@example.com>']
    assert mail["commonHeaders"]["cc"] == ["simple@example.net",
                                           '"John \\"Johnny\\" Doe" <john.doe@example.com>']


def test_corpus_mbox_line_and_obsolete_field_names():
    mail = mail_of(need(CORPUS / "eml" / "spamassassin--spam_008.eml").read_bytes())
    names = [h["name"] for h in mail["headers"]]
    assert names[2] == "Received" and names.count("From") == 2  # `From  :` is obs syntax
    assert mail["commonHeaders"]["from"] == ["tst1@example.com", "tst2@example.com"]
    assert mail["source"] == "travelincentives@aol.com"  # Sender, no Return-Path


# --------------------------------------------------------------------------- the event shape

SAM_FIELDS = {"from": "Jane Doe <janedoe@example.com>", "to": "johndoe@example.com",
              "subject": "Test Subject",
              "header": ["Return-Path: <janedoe@example.com>",
                         "Date: Wed, 7 Oct 2015 12:34:56 -0700",
                         "Message-ID: <0123456789example.com>"]}


def keys(value):
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items() if k != "headers"}
    return None


def test_event_has_the_keys_of_sam_generate_event_plus_dmarc():
    sam = json.loads(need(CORPUS / "ses-events" / "aws-sam-cli--SesEmailReceiving.json").read_text())
    expected = keys(sam)
    expected["Records"] = None
    got = keys(build_event(SAM_FIELDS))
    got["Records"] = None
    assert got == expected
    sam_ses = keys(sam["Records"][0]["ses"])
    sam_ses["receipt"]["dmarcVerdict"] = {"status": None}
    assert keys(ses(build_event(SAM_FIELDS))) == sam_ses


def test_every_header_field_of_the_registry_is_an_event_field():
    """The builder's fields come from the field registry: bcc, return_path, message_id and date too."""
    from engine.mail.fields import FIELDS
    from engine.mail.sesevent import EVENT_FIELDS
    assert {f.name for f in FIELDS.values() if f.header} <= set(EVENT_FIELDS)
    event = ses(build_event({"from": "a@x.example", "bcc": "hidden@y.example", "return_path": "bounce@x.example",
                             "message_id": "<m1@x.example>", "date": "Wed, 7 Oct 2015 12:34:56 -0700",
                             "sender_header": "list@x.example"}))
    common = event["mail"]["commonHeaders"]
    assert common["bcc"] == ["hidden@y.example"] and common["sender"] == ["list@x.example"]
    assert (common["returnPath"], common["messageId"]) == ("bounce@x.example", "<m1@x.example>")
    assert common["date"] == "Wed, 7 Oct 2015 12:34:56 -0700"
    assert event["mail"]["source"] == "bounce@x.example"       # the envelope follows Return-Path
    assert list(common) == ["returnPath", "from", "sender", "date", "bcc", "messageId"]   # SES's order


def test_a_bad_field_names_itself():
    from engine.mail.sesevent import EventFieldError
    with pytest.raises(EventFieldError) as info:
        build_event({"bcc": "a@x.example\nBcc: b@y.example"})
    assert info.value.field == "bcc"


def test_event_values_look_like_ses():
    event = ses(build_event(SAM_FIELDS))
    mail, receipt = event["mail"], event["receipt"]
    assert mail["source"] == "janedoe@example.com"
    assert mail["destination"] == receipt["recipients"] == ["johndoe@example.com"]
    assert mail["timestamp"] == receipt["timestamp"] == "2015-10-07T19:34:56.000Z"
    assert mail["commonHeaders"] == {
        "returnPath": "janedoe@example.com", "from": ["Jane Doe <janedoe@example.com>"],
        "date": "Wed, 7 Oct 2015 12:34:56 -0700", "to": ["johndoe@example.com"],
        "messageId": "<0123456789example.com>", "subject": "Test Subject"}
    assert len(mail["messageId"]) == 40 and mail["messageId"].isalnum()
    assert receipt["action"]["type"] == "Lambda"
    assert receipt["action"]["invocationType"] == "RequestResponse"
    assert receipt["action"]["functionArn"].startswith("arn:aws:lambda:")
    assert not re.search(r"\{\{|\{[a-z_]+\}", json.dumps(event))  # no template placeholders
    assert all(receipt[k] == {"status": "PASS"} for k in
               ("spfVerdict", "dkimVerdict", "dmarcVerdict", "spamVerdict", "virusVerdict"))
    assert "dmarcPolicy" not in receipt


def test_same_input_same_event_byte_for_byte():
    data = b"From: a@x.example\nTo: b@y.example\nSubject: hi\n\nbody\n"
    assert json.dumps(event_from_eml(data)) == json.dumps(event_from_eml(data))
    assert json.dumps(build_event(SAM_FIELDS)) == json.dumps(build_event(dict(SAM_FIELDS)))


def test_message_id_depends_on_the_input():
    ids = {ses(build_event(fields))["mail"]["messageId"] for fields in
           ({}, {"subject": "a"}, {"subject": "b"}, {"subject": "a", "spam": "FAIL"})}
    assert len(ids) == 4
    data = b"From: a@x.example\n\nbody\n"
    assert mail_of(data)["messageId"] != mail_of(data + b"more\n")["messageId"]


# --------------------------------------------------------------------------- fields and defaults

def test_verdicts_are_upper_cased_and_dmarc_policy_follows_a_dmarc_failure():
    receipt = ses(build_event({"spf": "fail", "dkim": "Gray", "dmarc": "fail", "spam": "DISABLED",
                               "virus": "processing_failed"}))["receipt"]
    assert [receipt[k]["status"] for k in ("spfVerdict", "dkimVerdict", "dmarcVerdict",
                                           "spamVerdict", "virusVerdict")] == \
        ["FAIL", "GRAY", "FAIL", "DISABLED", "PROCESSING_FAILED"]
    assert receipt["dmarcPolicy"] == "none"
    receipt = ses(build_event({"dmarc": "FAIL", "dmarc_policy": "Reject"}))["receipt"]
    assert receipt["dmarcPolicy"] == "reject"


@pytest.mark.parametrize("fields, message", [
    ({"spf": "PAS"}, "spf: 'PAS' is not one of PASS, FAIL, GRAY, PROCESSING_FAILED, DISABLED"),
    ({"dmarc": "FAIL", "dmarc_policy": "drop"}, "dmarc_policy: 'drop' is not one of none"),
    ({"dmarc_policy": "reject"}, "only when dmarc is FAIL"),
    ({"form": "a@b.example"}, "unknown event field 'form' (did you mean from?)"),
    ({"subject": 5}, "subject: expected a string, not int"),
    ({"to": {"a": 1}}, "to: expected a string or a list of strings"),
    ({"subject": "hi\r\nBcc: x@evil.example"}, "line break"),
    ({"header": ["X-Spam-Flag YES"]}, "is not NAME:VALUE"),
    ({"header": ["Bad Name: x"]}, "is not NAME:VALUE"),
    ({"eml": "/nonexistent/message.eml"}, "eml: cannot read /nonexistent/message.eml"),
])
def test_bad_fields_are_clear_value_errors(fields, message):
    with pytest.raises(ValueError) as info:
        build_event(fields)
    assert message in str(info.value)


def test_normalized_fields_normalize_to_themselves():
    fields = {"from": "a@x.example", "spf": "fail", "header": ["X-A:1", "X-B: two: 2"],
              "dmarc": "fail", "dmarc_policy": "QUARANTINE", "to": None}
    once = normalize_fields(fields)
    assert once == normalize_fields(once) == {"from": ["a@x.example"], "spf": "FAIL",
                                              "header": ["X-A: 1", "X-B: two: 2"], "dmarc": "FAIL",
                                              "dmarc_policy": "quarantine"}
    assert build_event(once) == build_event(fields)
    assert ses(build_event(once))["mail"]["headers"][-2:] == [{"name": "X-A", "value": "1"},
                                                              {"name": "X-B", "value": "two: 2"}]


def test_unset_fields_are_ignored():
    assert build_event({"from": None, "to": [], "spf": None}) == build_event({})


def test_address_fields_take_a_string_or_a_list():
    mail = ses(build_event({"from": "Boss <boss@company.example>",
                            "to": ["a@x.example", "B <b@y.example>"], "cc": "c@z.example",
                            "reply_to": ["r@x.example"]}))["mail"]
    common = mail["commonHeaders"]
    assert common["from"] == ["Boss <boss@company.example>"]
    assert common["to"] == ["a@x.example", "B <b@y.example>"]
    assert common["replyTo"] == ["r@x.example"]
    assert mail["destination"] == ["a@x.example", "b@y.example", "c@z.example"]
    assert mail["source"] == "boss@company.example"
    assert [h["name"] for h in mail["headers"]] == ["Return-Path", "Received", "Date", "Message-ID",
                                                    "From", "To", "Cc", "Reply-To"]


def test_recipients_default_to_to_and_cc_once_each():
    mail = mail_of(b"To: A <a@x.example>, b@x.example\nCc: a@x.example, c@x.example\n"
                   b"Bcc: hidden@x.example\n\n")
    assert mail["destination"] == ["a@x.example", "b@x.example", "c@x.example"]


@pytest.mark.parametrize("value", [", ".join(f"user{i}@x.example" for i in range(100)),
                                   '"' * 8192 + " <x@y.example>"])
def test_very_long_address_header_is_kept_as_written(value):
    assert len(value) > MAX_REFERENCE_LENGTH
    mail = mail_of(f"To: {value}\n\n".encode())
    assert mail["commonHeaders"]["to"] == [value]
    assert mail["destination"] == [a.address for a in parse_addresses(value)]


def test_recipient_and_sender_set_the_envelope():
    event = ses(build_event({"from": "a@x.example", "to": "b@y.example", "sender": "bounce@x.example",
                             "recipient": ["rcpt@y.example", "other@y.example"]}))
    assert event["mail"]["source"] == "bounce@x.example"
    assert event["mail"]["destination"] == event["receipt"]["recipients"] == \
        ["rcpt@y.example", "other@y.example"]


@pytest.mark.parametrize("head, source", [
    ("Return-Path: <rp@x.example>\nSender: s@x.example\nFrom: f@x.example\n", "rp@x.example"),
    ("Sender: S <s@x.example>\nFrom: f@x.example\n", "s@x.example"),
    ("From: F <f@x.example>, g@x.example\n", "f@x.example"),
    ("Return-Path: <>\nFrom: MAILER-DAEMON@x.example\n", ""),
    ("Return-Path: <nobody>\nFrom: f@x.example\n", "f@x.example"),
    ("Subject: no sender at all\n", ""),
])
def test_envelope_sender_defaults(head, source):
    assert mail_of(head.encode() + b"\nbody\n")["source"] == source


@pytest.mark.parametrize("date, stamp", [
    ("Thu, 13 Feb 1969 23:32:54 -0330", "1969-02-14T03:02:54.000Z"),
    ("Fri, 7 Dec 2001 07:01:03", "2001-12-07T07:01:03.000Z"),  # no zone: taken as UTC
    ("Tue, 06 Jun 2017 27:39:33 +0600", EPOCH),                # hour 27
    ("yesterday", EPOCH),
])
def test_timestamps_come_from_the_date_header(date, stamp):
    event = ses(event_from_eml(f"Date: {date}\nFrom: a@x.example\n\n".encode()))
    assert event["mail"]["timestamp"] == event["receipt"]["timestamp"] == stamp
    assert event["mail"]["commonHeaders"]["date"] == date


def test_header_flag_adds_fields_the_policy_can_test():
    mail = ses(build_event({"header": ["X-Spam-Flag: YES", "X-Priority:1", "X-Empty:"]}))["mail"]
    assert mail["headers"][-3:] == [{"name": "X-Spam-Flag", "value": "YES"},
                               {"name": "X-Priority", "value": "1"},
                               {"name": "X-Empty", "value": ""}]


def test_fields_override_the_message(tmp_path):
    raw = (b"Return-Path: <rp@x.example>\nFrom: Old <old@x.example>\nTo: t@y.example\n"
           b"Subject: old\nX-A: 1\nFrom: second@x.example\n\nbody\n")
    path = tmp_path / "m.eml"
    path.write_bytes(raw)
    event = ses(build_event({"eml": str(path), "from": "New <new@x.example>", "subject": "new",
                             "header": ["X-B: 2"], "virus": "FAIL"}))
    mail = event["mail"]
    assert [(h["name"], h["value"]) for h in mail["headers"]][2:] == [
        ("Return-Path", "<rp@x.example>"), ("From", "New <new@x.example>"), ("To", "t@y.example"),
        ("Subject", "new"), ("X-A", "1"), ("X-B", "2")]
    assert mail["commonHeaders"]["from"] == ["New <new@x.example>"]
    assert mail["commonHeaders"]["subject"] == "new"
    assert event["receipt"]["virusVerdict"] == {"status": "FAIL"}
    assert event == ses(event_from_eml(raw, {"from": "New <new@x.example>", "subject": "new",
                                             "header": "X-B: 2", "virus": "fail"}))


# --------------------------------------------------------------------------- display names

HOSTILE = [
    ("=?utf-8?q?a=2C_b=40evil.example_=3C?= <x@y.example>",
     '"a, b@evil.example <" <x@y.example>', "a, b@evil.example <"),
    ("=?utf-8?q?=22=5C?= <x@y.example>", '"\\"\\\\" <x@y.example>', '"\\'),
    ("=?utf-8?q?=3D=3Futf-8=3Fq=3Fz=3F=3D?= <x@y.example>", '"\\=?utf-8?q?z?=" <x@y.example>',
     "=?utf-8?q?z?="),
    ("=?utf-8?b?Ym9zc0Bjb21wYW55LmV4YW1wbGU=?= <a@evil.example>",
     '"boss@company.example" <a@evil.example>', "boss@company.example"),
]


@pytest.mark.parametrize("raw, written, name", HOSTILE)
def test_hostile_display_names_stay_one_address(raw, written, name):
    common = mail_of(f"From: {raw}\n\n".encode())["commonHeaders"]
    assert common["from"] == [written]
    address = raw.rsplit("<", 1)[1][:-1]
    assert reference(written) == reference(raw) == engine_view(written) == [(name, address)]


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40))
def test_any_encoded_display_name_parses_back_the_same(name):
    raw = f"{Header(name, 'utf-8').encode()} <user@host.example>".replace("\n", "")  # unfolded
    written = mail_of(f"To: {raw}\n\n".encode())["commonHeaders"]["to"]
    assert_parses_back(raw, written)


def test_broken_address_header_is_kept_as_written():
    common = mail_of(b"From: alice@example.com <bob@example.com>\n\n")["commonHeaders"]
    assert common["from"] == ["alice@example.com <bob@example.com>"]


def test_groups_are_flattened_and_empty_groups_kept():
    common = mail_of(b"To: Team: A <a@x.example>, b@x.example;\nCc: undisclosed-recipients:;\n\n")
    assert common["commonHeaders"]["to"] == ["A <a@x.example>", "b@x.example"]
    assert common["commonHeaders"]["cc"] == ["undisclosed-recipients:;"]
    assert common["destination"] == ["a@x.example", "b@x.example"]


# --------------------------------------------------------------------------- headers

def test_subject_decoding_is_best_effort():
    subject = mail_of(b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= =?NONE?B?aGVsbG8=?= "
                      b"=?utf-8?B?####?=\n\n")["commonHeaders"]["subject"]
    assert subject.startswith("Grüße")
    json.dumps(subject)


def test_eight_bit_headers_are_decoded():
    mail = mail_of("Subject: Grüße\nFrom: Jöhn <jöhn@exämple.example>\n\n".encode()
                   + b"X-Latin: caf\xe9\n\n")
    assert mail["commonHeaders"]["subject"] == "Grüße"
    assert mail["commonHeaders"]["from"] == ["Jöhn <jöhn@exämple.example>"]
    mail = mail_of(b"Subject: caf\xe9 \x93quoted\x94\n\n")
    assert mail["commonHeaders"]["subject"] == "café \u201cquoted\u201d"  # Windows-1252


def test_crlf_and_lf_and_folding_give_the_same_headers():
    lf = b"From: a@x.example\nSubject: one\n  two\nTo: b@y.example,\n\tc@y.example\n\nbody\n"
    crlf = lf.replace(b"\n", b"\r\n")
    assert read_headers(lf) == read_headers(crlf) == [
        ("From", "a@x.example"), ("Subject", "one  two"), ("To", "b@y.example,\tc@y.example")]
    assert mail_of(crlf)["destination"] == ["b@y.example", "c@y.example"]


def test_tolerates_mbox_line_missing_separator_and_no_from():
    assert read_headers(b"From sender@x.example Mon Jan  1 00:00:00 2024\nTo: a@x.example\n\nb") \
        == [("To", "a@x.example")]
    assert read_headers(b"To: a@x.example\nSubject: s\nthis is the body already\n") == \
        [("To", "a@x.example"), ("Subject", "s")]
    mail = mail_of(b"To: a@x.example\n\n")
    assert "from" not in mail["commonHeaders"] and mail["source"] == ""


def test_headers_beyond_10_kb_are_truncated():
    filler = [f"X-Filler-{i}: {'v' * 480}" for i in range(40)]
    data = ("\n".join(["From: a@x.example", *filler, "Subject: late"]) + "\n\nbody\n").encode()
    mail = mail_of(data)
    assert mail["headersTruncated"] is True
    size = sum(len(f"{h['name']}: {h['value']}\r\n".encode()) for h in mail["headers"])
    assert HEADERS_LIMIT - 500 < size <= HEADERS_LIMIT
    assert mail["commonHeaders"]["subject"] == "late"  # commonHeaders still see every field
    small = mail_of(("\n".join(["From: a@x.example", *filler[:5]]) + "\n\n").encode())
    assert small["headersTruncated"] is False and len(small["headers"]) == 2 + 6


@pytest.mark.parametrize("data", [
    b"", b"\n\nbody only\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b'{"Records": []}',
    b"just some text\nwithout headers\n"])
def test_not_a_mail_is_a_clear_error(data):
    with pytest.raises(ValueError, match="not an e-mail message"):
        event_from_eml(data)


def test_non_bytes_is_a_clear_error():
    with pytest.raises(ValueError, match="must be bytes"):
        event_from_eml("From: a@x.example\n\n")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eml: not allowed"):
        event_from_eml(b"From: a@x.example\n\n", {"eml": "x.eml"})


@given(st.binary(max_size=300))
def test_any_bytes_give_an_event_or_a_clear_error(data):
    try:
        event = event_from_eml(data)
    except ValueError as exc:
        assert str(exc)
    else:
        json.dumps(event, ensure_ascii=False).encode("utf-8")


ADDRESS_TEXT = st.lists(st.sampled_from(list('ab@.,<>"\\ =?:;()\té') + ["=?utf-8?q?", "?="]),
                        max_size=30).map("".join)


@given(ADDRESS_TEXT)
def test_any_address_header_parses_back(value):
    written = address_strings(value)
    if value.strip():
        assert_parses_back(value, written)
    json.dumps(written, ensure_ascii=False).encode("utf-8")


def test_a_malformed_header_line_is_skipped_not_the_end_of_the_headers():
    """`quite Delivered-To:` (a space in the name) or `__`: MTAs and Sieve skip the line and read on."""
    raw = (b"Received: from x\nquite Delivered-To: a@x.example\n  continued\nFrom: Boss <boss@x.example>\n"
           b"__\nSubject:\n Quarterly report \nTo: t@x.example\n\nbody\n")
    common = event_from_eml(raw)["Records"][0]["ses"]["mail"]["commonHeaders"]
    assert common["from"] == ["Boss <boss@x.example>"]
    assert common["to"] == ["t@x.example"]
    assert common["subject"] == "Quarterly report"       # folding white space is not part of the value


def test_a_body_without_headers_is_still_not_a_mail():
    with pytest.raises(ValueError, match="not an e-mail message"):
        event_from_eml(b"just some text\nFrom: x@y.example\n\nbody\n")


@pytest.mark.parametrize("data", [b"version: 1\nrules: []\n", b"version: 1\nname: x\nrules:\n  - name: r\n",
                                  b"X-Custom: 1\nX-Other: 2\n\nbody\n", b"Key: value\n"])
def test_a_text_with_no_mail_header_at_all_is_not_a_mail(data):
    """`version: 1\\nrules: []` was a message whose headers were `version` and `rules`: dry-run decided it."""
    with pytest.raises(ValueError, match="none of its header fields is a mail header"):
        event_from_eml(data)


@pytest.mark.parametrize("head", [b"From: a@x.example\n", b"Received: from x by y\n", b"Subject: hi\n",
                                  b"MIME-Version: 1.0\n", b"X-Thing: 1\nmessage-id: <a@b>\n"])
def test_one_mail_header_is_enough(head):
    assert event_from_eml(head + b"\nbody\n")["Records"]


def test_the_unknown_event_field_message_does_not_list_eml_as_a_field():
    """In an inline test event `eml:` stands beside `event:`, not in it: it is no event field."""
    with pytest.raises(ValueError) as info:
        event_from_eml(b"From: a@x.example\n\n", {"form": "a@b.example"})
    fields = str(info.value).split("; fields: ")[1].split(", ")
    assert "eml" not in fields and "from" in fields and "dmarc_policy" in fields
