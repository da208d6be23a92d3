"""engine.mail.mailbox: name addresses found by Python's `re` exactly as by the RE2 program before (issue 15 item 4)."""
from __future__ import annotations

import re

import re2
from hypothesis import given, strategies as st

from engine.mail import mailbox

# The RE2 program name addresses were found with before: the reference for the `re` pattern.
RE2_NAME_ADDRESS = re2.compile(rb'(?:"[^"]*"|' + mailbox.TOKEN_CHARS + rb"+)@" + mailbox.TOKEN_CHARS + rb"+")
EVERY_CHARACTER = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)


def test_the_token_class_is_the_re2_one_on_every_code_point():
    not_token_re2 = re2.compile(b"[" + mailbox.TOKEN_CHARS[2:])
    not_token_re = re.compile("[" + mailbox._TOKEN_CHAR[2:])
    assert not_token_re.pattern.startswith("[\\s") and not_token_re2.pattern.startswith(b"[\\s")
    expected = {b.decode() for b in not_token_re2.findall(EVERY_CHARACTER.encode())}
    assert set(not_token_re.findall(EVERY_CHARACTER)) == expected
    assert len(expected) > 40        # white space, controls, specials


TEXT = st.lists(st.sampled_from(['"', "@", "a", "b.c", " ", "\u3000", "\u00a0", "\x85", "<", ">", ",", "\\",
                                 "é", "\ud800", "ß", "\x00", "\t"]), max_size=30).map("".join)


@given(TEXT)
def test_name_address_tokens_are_the_ones_the_re2_program_found(text):
    assert list(mailbox.address_tokens(mailbox._NAME_ADDRESS, text)) == \
        list(mailbox.address_tokens(RE2_NAME_ADDRESS, text))


def test_tokens_start_where_a_run_starts_and_quoted_local_parts_run_to_the_next_quote():
    found = mailbox._name_addresses('ceo@corp.example "a b"@x.example a@b@c @d e@ x"y"@z.example')
    assert found == ("ceo@corp.example", "a b@x.example", "a@b", "y@z.example")
