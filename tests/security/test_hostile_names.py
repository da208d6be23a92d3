"""Display names built to make the name-address search quadratic (issue 15 item 4): a hang guard, not a timing.

`re` searches for addresses in display names; an unquoted local part may only start where a run
of token characters starts. Without that, every position of a long run would be tried once, each
reading to the end of the run: these names would take hours instead of milliseconds.
"""
from __future__ import annotations

import pytest

from engine.mail import mailbox
from engine.mail.addresses import parse_addresses

SIZE = 2_000_000


@pytest.mark.parametrize(("name", "found"), [
    ("a" * SIZE + "@", ()),                          # a run, then "@" and nothing after it
    ("a" * SIZE + "@ b", ()),
    ('"' + "a" * SIZE + '"@', ()),                   # a quoted run with no domain
    ("a@" * (SIZE // 2), ("a@a",) * (SIZE // 4)),    # every match ends where the next cannot start
])
def test_a_long_run_in_a_name_is_read_once(hang_guard, name, found):
    with hang_guard(60, "searching a 2 MB display name"):
        assert mailbox._name_addresses(name) == tuple(found)


def test_a_hostile_name_in_a_from_header_is_read_once(hang_guard):
    raw = '"' + "x" * SIZE + '@" <victim@example.com>'
    with hang_guard(60, "parsing a From with a 2 MB display name"):
        (address,) = parse_addresses(raw)
    assert address.address == "victim@example.com" and address.name_addresses == ()
