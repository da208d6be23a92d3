"""Forward rewriting (SPEC 3.9): only the header block changes, and it changes exactly as specified."""
from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from conftest import corpus_files, need
from engine.actions.forwarding import (
    MARKER,
    MAX_MESSAGE_BYTES,
    Forward,
    Loop,
    TooLarge,
    chunks,
    display_name,
    rewrite,
)
from engine.mail.addresses import parse_addresses

FWD = Forward("forwarder@relay.example", ["support@corp.example"])


def body_after_blank_line(data: bytes) -> bytes:
    """The bytes after the first empty line, found without the code under test."""
    ends = [i for i in (data.find(b"\n\n"), data.find(b"\n\r\n")) if i >= 0]
    if not ends:
        return b""
    end = min(ends) + 1
    return data[end + (1 if data[end:end + 1] == b"\n" else 2):]


def header_block(data: bytes) -> bytes:
    return data[:len(data) - len(body_after_blank_line(data))]


def parsed(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def multipart(linesep: str, name: str = "Zoë Ünïcode") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <zoe@sender.example>"
    msg["To"] = "support@corp.example"
    msg["Subject"] = "Rapport trimestriel – résumé " + "long words " * 12
    msg["Message-ID"] = "<abc@sender.example>"
    msg["Return-Path"] = "<bounce@sender.example>"
    msg["Sender"] = "list@sender.example"
    msg.set_content("Grüße,\nsee the attachment.\n", cte="8bit")
    msg.add_attachment(bytes(range(256)) * 40, maintype="application", subtype="octet-stream",
                       filename="data.bin")
    msg.add_attachment("ünïcode text attachment\n", filename="notes.txt", cte="quoted-printable")
    return msg.as_bytes(policy=email.policy.default.clone(linesep=linesep))


@pytest.mark.parametrize("linesep", ["\r\n", "\n"])
def test_multipart_with_attachments_keeps_body_bytes_and_line_ending(linesep) -> None:
    raw = multipart(linesep)
    out = rewrite(raw, FWD)
    assert body_after_blank_line(out) == body_after_blank_line(raw)
    eol = linesep.encode()
    head = header_block(out)
    assert head.endswith(eol + eol)
    lines = head[:-len(eol)].split(eol)[:-1]
    assert lines and all(b"\r" not in line and b"\n" not in line for line in lines)
    msg = parsed(out)
    assert [p.get_filename() for p in msg.iter_attachments()] == ["data.bin", "notes.txt"]
    assert msg.get_body().get_content().replace("\r\n", "\n") == "Grüße,\nsee the attachment.\n"


def test_headers_removed_added_and_kept() -> None:
    out = parsed(rewrite(multipart("\r\n"), Forward("forwarder@relay.example", ["support@corp.example"],
                                                    headers=[("X-Team", "ops")])))
    for gone in ("Return-Path", "Sender", "Message-ID", "DKIM-Signature"):
        assert out[gone] is None
    assert out.get_all("From") == ['"Zoë Ünïcode via relay.example" <forwarder@relay.example>']
    assert out["From"].addresses[0].addr_spec == "forwarder@relay.example"
    assert str(out["Reply-To"]) == "Zoë Ünïcode <zoe@sender.example>"
    assert str(out["X-Original-From"]) == "Zoë Ünïcode <zoe@sender.example>"
    assert str(out["X-Original-To"]) == "support@corp.example"
    assert str(out[MARKER]) == "forwarder@relay.example"
    assert str(out["X-Team"]) == "ops"
    assert str(out["To"]) == "support@corp.example"


def test_non_ascii_headers_are_rfc2047_encoded() -> None:
    out = rewrite(multipart("\r\n"), Forward("forwarder@relay.example", ["support@corp.example"],
                                             subject_prefix="[Fwd: équipe] "))
    head = header_block(out)
    assert head.isascii()
    assert b"=?utf-8?" in head
    assert parsed(out)["Subject"].startswith("[Fwd: équipe] Rapport trimestriel – résumé")


def test_three_dkim_signatures_and_folded_headers() -> None:
    signature = (b"DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=s%d;\r\n"
                 b"\tbh=abc=; h=from:to:subject;\r\n\tb=AAAA\r\n")
    raw = (b"".join(signature % n for n in range(3))
           + b"Received: from mx.sender.example\r\n\tby inbound-smtp.eu-west-1.amazonaws.com;\r\n"
           + b"From: plain@sender.example\r\nTo: support@corp.example\r\nSubject: folded\r\n subject\r\n"
           + b"\r\nbody\r\n")
    out = rewrite(raw, FWD)
    msg = parsed(out)
    assert msg["DKIM-Signature"] is None
    assert b"Received: from mx.sender.example\r\n\tby inbound-smtp.eu-west-1.amazonaws.com;\r\n" in out
    assert b"Subject: folded\r\n subject\r\n" in out
    assert str(msg["From"]) == '"plain via relay.example" <forwarder@relay.example>'
    assert str(msg["Reply-To"]) == "plain@sender.example"
    assert body_after_blank_line(out) == b"body\r\n"


def test_existing_reply_to_is_kept() -> None:
    raw = b"From: A <a@x.example>\nReply-To: list@x.example\nSubject: s\n\nbody\n"
    msg = parsed(rewrite(raw, FWD))
    assert msg.get_all("Reply-To") == ["list@x.example"]


@pytest.mark.parametrize("name, shown", [
    ("ceo@corp.example", "ceo at corp.example"),
    ("ceo\uff20corp.example", "ceo at corp.example"),               # full-width @
    ("C\u200bE\u00adO\u202e", "CEO"),                               # zero-width, soft hyphen, bidi
    ("ＡＣＭＥ Support", "ACME Support"),                            # NFKC
    ("line\r\nbreak\x00\tend", "linebreakend"),
    ("x" * 300, "x" * 99 + "\u2026"),
])
def test_display_name_never_holds_an_address_or_invisible_text(name, shown) -> None:
    assert display_name(name) == shown


def test_display_name_with_an_address_is_not_flagged_as_a_name_address() -> None:
    raw = '"boss@corp.example" <x@evil.example>'.encode() + b"\n"
    out = rewrite(b"From: " + raw + b"Subject: s\n\nb\n", FWD)
    (sender,) = parse_addresses(str(parsed(out)["From"]))
    assert sender.address == "forwarder@relay.example"
    assert sender.name_addresses == ()
    assert sender.display_name == "boss at corp.example via relay.example"


def test_no_display_name_uses_the_local_part() -> None:
    out = parsed(rewrite(b"From: <jane.doe@sender.example>\n\nb\n", FWD))
    assert str(out["From"]) == '"jane.doe via relay.example" <forwarder@relay.example>'


def test_loop_marker_for_the_same_identity_is_a_loop() -> None:
    once = rewrite(b"From: a@x.example\n\nb\n", FWD)
    with pytest.raises(Loop):
        rewrite(once, FWD)


def test_three_markers_of_any_identities_are_a_loop() -> None:
    raw = b"From: a@x.example\n\nb\n"
    for identity in ("one@a.example", "two@b.example"):
        raw = rewrite(raw, Forward(identity, ["r@c.example"]))
    third = rewrite(raw, Forward("three@c.example", ["r@c.example"]))   # two markers: still forwarded
    assert len(parsed(third).get_all(MARKER)) == 3
    with pytest.raises(Loop):
        rewrite(third, Forward("four@d.example", ["r@c.example"]))


def test_no_header_line_over_998_octets() -> None:
    raw = b"From: a@x.example\nX-Long: " + b"word " * 400 + b"\nX-Token: " + b"y" * 3000 + b"\n\nbody\n"
    out = rewrite(raw, FWD)
    assert max(len(line) for line in header_block(out).split(b"\n")) <= 998
    assert body_after_blank_line(out) == b"body\n"
    assert str(parsed(out)["X-Long"]).split() == ["word"] * 400


def test_policy_headers_replace_same_named_headers() -> None:
    raw = b"From: a@x.example\nX-Team: attacker\nx-team: again\n\nb\n"
    msg = parsed(rewrite(raw, Forward("f@relay.example", ["r@c.example"], headers=[("X-Team", "ops")])))
    assert msg.get_all("X-Team") == ["ops"]


def test_senders_own_x_original_headers_are_dropped() -> None:
    raw = b"From: a@x.example\nX-Original-To: ceo@corp.example\n\nb\n"
    msg = parsed(rewrite(raw, FWD))
    assert msg.get_all("X-Original-To") == ["support@corp.example"]


def test_over_40_mb_is_too_large() -> None:
    raw = b"From: a@x.example\n\n" + b"x" * MAX_MESSAGE_BYTES
    with pytest.raises(TooLarge):
        rewrite(raw, FWD)


def test_destinations_in_calls_of_50() -> None:
    addresses = [f"user{n}@team.example" for n in range(120)]
    assert [len(c) for c in chunks(addresses)] == [50, 50, 20]
    assert sum(chunks(addresses), []) == addresses


def test_mbox_from_line_and_stray_lines_in_the_header_block() -> None:
    raw = b"From someone Thu Oct  3 16:04:09 1991\nFrom: a@x.example\nnot a header\n\nbody\n"
    out = rewrite(raw, FWD)
    assert not out.startswith(b"From ")
    assert body_after_blank_line(out) == b"not a header\n\nbody\n"


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_files("eml", "*.eml"))
def test_every_corpus_message_forwards_cleanly(path: Path) -> None:
    raw = need(path).read_bytes()
    out = rewrite(raw, Forward("forwarder@relay.example", ["support@corp.example"], subject_prefix="[fwd] "))
    msg = parsed(out)
    original = parsed(raw)
    assert msg.get_all("From") and len(msg.get_all("From")) == 1
    assert [a.addr_spec for a in msg["From"].addresses] == ["forwarder@relay.example"]
    for gone in ("DKIM-Signature", "Return-Path", "Sender", "Message-ID"):
        assert msg[gone] is None, gone
    expected = _raw(raw, "Reply-To") if _raw(raw, "Reply-To") is not None else _raw(raw, "From")
    if expected is not None and parse_addresses(expected):
        sendable = [a for a in _addresses(expected) if a.partition("@")[0].isascii()]   # SES has no SMTPUTF8
        assert _addresses(_raw(out, "Reply-To") or "") == sendable
    body = body_after_blank_line(raw)
    if any(type(d).__name__ == "MissingHeaderBodySeparatorDefect" for d in original.defects):
        assert body_after_blank_line(out).endswith(body)
    else:
        assert body_after_blank_line(out) == body
    assert max(len(line.rstrip(b"\r")) for line in header_block(out).split(b"\n")) <= 998


def _addresses(value: str) -> list[str]:
    return [a.address for a in parse_addresses(value)]


def _raw(data: bytes, name: str) -> str | None:
    """A header's value as written (compat32), 8-bit bytes read as UTF-8."""
    for key, value in email.message_from_bytes(data).raw_items():
        if key.lower() == name.lower():
            return value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    return None
