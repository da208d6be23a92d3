"""engine.mail.addresses on the address headers of real messages (../shared/corpus/eml).

Header values are taken the way SES hands them over: the raw text of the header
(folding kept, encoded words not decoded), the message bytes read as UTF-8 with
invalid bytes replaced, since SES delivers JSON strings.
"""
from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from conftest import corpus_files, need
from engine.mail import addresses
from engine.mail.addresses import parse_addresses

ADDRESS_HEADERS = ("from", "to", "cc", "reply-to", "sender")


def raw_headers(path: Path, name: str) -> list[str]:
    """Every raw value of header `name`, unmodified (compat32 raw_items keeps folding)."""
    message = email.message_from_string(path.read_bytes().decode("utf-8", "replace"),
                                        policy=email.policy.compat32)
    return [value for key, value in message.raw_items() if key.lower() == name]


def parsed(path: Path, name: str) -> list[tuple[str, tuple[str, ...]]]:
    """(address, name_addresses) for every address in every value of header `name`."""
    return [(a.address, a.name_addresses) for raw in raw_headers(path, name) for a in parse_addresses(raw)]


@pytest.mark.parametrize("path", corpus_files("eml", "*.eml"))
def test_every_address_header_parses_and_hides_no_address(path):
    need(path)
    for name in ADDRESS_HEADERS:
        for raw in raw_headers(path, name):
            for fallback in (False, True):
                found = parse_addresses(raw, fallback=fallback)
                assert all(a.local and a.domain for a in found)
                if not fallback and "@" in raw:
                    assert found, f"{name}: {raw!r} has an address but none was found"


@pytest.mark.parametrize("path", corpus_files("eml", "*.eml"))
def test_fast_path_agrees_with_the_slow_route_on_real_headers(path):
    """Real UTF-8 and encoded-word headers: the fast path gives what the stdlib route gives."""
    need(path)
    for name in ADDRESS_HEADERS:
        for raw in raw_headers(path, name):
            fast = addresses._fast(raw)
            if fast is not None:
                reference = addresses._reference(raw)
                assert fast == (reference if reference is not None else addresses._fallback(raw)), raw


CORPUS_EXPECTATIONS = [
    # display-name spoofs: the angle address decides, the name's address is a name_address
    ("spamassassin--spam_013.eml", "from", [("info@paypal.com", ("baz@example.com",))]),
    ("spamassassin--spam_fromnamespoof_spoof1.eml", "from", [("test1@gmail.com", ("test@example.com",))]),
    ("spamscope--mail_test_19.eml", "from", [("bob@example.com", ("alice@example.com",))]),
    ("spamscope--mail_test_19.eml", "cc", [("frank@example.com", ("eve@example.com",))]),
    ("spamscope--mail_test_19.eml", "reply-to", [("ivan@example.com", ("henry@example.com",))]),
    ("spamscope--mail_test_19.eml", "to", [("charlie@example.com", ()), ("dave@example.com", ())]),
    ("cpython--msg_47.eml", "from", [("123@example.com", ("123@abuse.net",))]),
    ("cpython--msg_47.eml", "to", [("123@abuse.net", ())]),
    ("mimekit--issue358.eml", "from", [("jang.abcdef@xyzlinux12345678.it", ("jang.abcdef@xyzlinu",))]),
    ("mimekit--issue358.eml", "to", [("jang12@linux12.org.new", ("jang12@linux12.org.new",))]),
    # an unquoted display name holding "@", next to bare addresses
    ("mikel-mail--raw_email_with_at_display_name.eml", "to",
     [("smith@gmail.com", ()), ("raasdnil@gmail.com", ("Mikel@lindsaar",)), ("tom@gmail.com", ())]),
    ("mikel-mail--raw_email_with_at_display_name.eml", "from", [("test@lindsaar.net", ()), ("jack@lindsar.com", ())]),
    # encoded words decoding to an address
    ("spamscope--mail_test_17.eml", "from",
     [("notificaccion-clientes@bbva.mx", ("notificaccion-clientes@bbva.mx",))]),
    ("spamscope--mail_test_18.eml", "to", [("tony.stark@example.com", ("tony.stark@example.com",))]),
    # broken lists: every address still surfaces
    ("mikel-mail--raw_email_multiple_from.eml", "from", [("tim@powerupdev.com", ()), ("concierge@powerupdev.com", ())]),
    ("mikel-mail--weird_to_header.eml", "to", [("user-example@aol.com", ()), ("e-s-a-s-2200@app.ar.com", ())]),
    ("spamassassin--mime-subject.eml", "from", [("stefanie.schwabe@wanadoo.fr", ())]),
    ("mikel-mail--new_line_in_to_header.eml", "to",
     [(a, ()) for a in ("leads@sg.dc.com", "sag@leads.gs.ry.com", "sn@example-hotmail.com",
                        "e-s-a-g-8718@app.ar.com", "jp@t-exmaple.com", "cc@c-l-example.com")]),
    # groups: members are addresses, empty groups yield none
    ("mikel-mail--rfc2822_example04.eml", "to", [("c@a.test", ()), ("joe@where.test", ()), ("jdoe@one.test", ())]),
    ("mikel-mail--rfc2822_example04.eml", "cc", []),
    ("mikel-mail--rfc2822_example10.eml", "to", [("c@public.example", ()), ("joe@example.org", ()), ("jdoe@one.test", ())]),
    ("mikel-mail--rfc2822_example10.eml", "cc", []),
    ("mikel-mail--empty_group_lists.eml", "to", []),
    ("spamassassin--spam_001.eml", "to", []),
    # comments are not addresses
    ("mikel-mail--rfc2822_example10.eml", "from", [("pete@silly.test", ())]),
    ("mimekit--bounce.eml", "from", [("MAILER-DAEMON@hmail.jitbit.com", ())]),
    # RFC 6532: raw UTF-8 local parts and domains
    ("mikel-mail--rfc6532_utf8_headers.eml", "from", [("jdöe@mächine.example", ())]),
    ("spamassassin--nice_unicode1.eml", "to", [("Dörte@sörensen.example.com", ())]),
    ("spamassassin--nice_unicode1.eml", "cc", [("θσερ@εχαμπλε.ψομ", ())]),
    ("spamscope--mail_test_12.eml", "to", [("danglüe@email.com", ())]),
    # no address at all
    ("cpython--msg_15.eml", "to", []),
    ("spamassassin--nice_unicode2.eml", "from", []),
    ("spamassassin--nice_unicode2.eml", "to", []),
]


@pytest.mark.parametrize("name, header, expected", CORPUS_EXPECTATIONS,
                         ids=[f"{n}:{h}" for n, h, _ in CORPUS_EXPECTATIONS])
def test_corpus_addresses(eml_dir, name, header, expected):
    assert parsed(eml_dir / name, header) == expected


@pytest.mark.parametrize("name, header, expected", [
    ("spamscope--mail_test_18.eml", "from", ["LastßlName, FirstName"]),
    ("spamscope--mail_test_18.eml", "cc", ["", 'John "Johnny" Doe']),
    ("stalwart--legacy_001.eml", "to", ["Joe Blow", "Jürgen Schmürgen"]),       # UTF-7 encoded word
    ("spamscope--mail_test_12.eml", "from", ["张先生"]),                          # GB2312
    ("mikel-mail--rfc6532_utf8_headers.eml", "to", ["Märy Smith"]),
])
def test_corpus_display_names_are_decoded(eml_dir, name, header, expected):
    assert [a.display_name for raw in raw_headers(eml_dir / name, header)
            for a in parse_addresses(raw)] == expected
