"""engine.mail.addresses: what address fields see in a header string (spec 3.4)."""
from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
import re2
from hypothesis import assume, given, strategies as st

from engine.mail import address_fallback, addresses, mailbox
from engine.mail.addresses import Address, normalize_domain, parse_addresses, parse_literal


def summary(raw: str, **kwargs) -> list[tuple[str, str, tuple[str, ...]]]:
    """(address, display name, name addresses) of every parsed address."""
    return [(a.address, a.display_name, a.name_addresses) for a in parse_addresses(raw, **kwargs)]


def addrs(raw: str, **kwargs) -> list[str]:
    return [a.address for a in parse_addresses(raw, **kwargs)]


def slow_route(raw: str) -> list[Address]:
    """What parse_addresses gave before any shortcut: the reference parser, else the fallback."""
    reference = addresses._reference(raw)
    return reference if reference is not None else addresses._fallback(raw)


@pytest.fixture
def no_reference(monkeypatch):
    """Make any use of email.headerregistry fail the test."""
    def refuse():
        raise AssertionError("the reference parser must not be called here")
    monkeypatch.setattr(addresses, "_registry", refuse)


def test_no_reference_fixture_can_fail(no_reference):
    with pytest.raises(AssertionError, match="must not be called"):
        parse_addresses("Group: a@b.example;")


# --------------------------------------------------------------------------- plain forms

@pytest.mark.parametrize("raw, expected", [
    ("a@b.example", [("a@b.example", "", ())]),
    ("<a@b.example>", [("a@b.example", "", ())]),
    ("John Doe <john@b.example>", [("john@b.example", "John Doe", ())]),
    ("John \t Doe  <john@b.example>", [("john@b.example", "John Doe", ())]),
    ('"Doe, John" <j@x.example>', [("j@x.example", "Doe, John", ())]),
    ('"John  Doe" <j@x.example>', [("j@x.example", "John  Doe", ())]),
    ('"a\\"b\\\\c" <x@y.example>', [("x@y.example", 'a"b\\c', ())]),
    ('"" <a@b.example>', [("a@b.example", "", ())]),
    ("Jürgen Groß <a@b.example>", [("a@b.example", "Jürgen Groß", ())]),
    ("  a@b.example  ", [("a@b.example", "", ())]),
    ("O'Neil <o+tag@b.example>", [("o+tag@b.example", "O'Neil", ())]),
], ids=repr)
def test_plain_forms(raw, expected):
    assert summary(raw) == expected


def test_plain_comma_list_keeps_order_and_quoted_commas():
    raw = '"Doe, John" <j@x.example>, b@c.example,Ann <ann@d.example>'
    assert summary(raw) == [
        ("j@x.example", "Doe, John", ()),
        ("b@c.example", "", ()),
        ("ann@d.example", "Ann", ()),
    ]


def test_local_part_keeps_case_domain_is_normalised():
    (address,) = parse_addresses('"Boss" <BOSS@Company.Example>')
    assert (address.local, address.domain, address.address) == ("BOSS", "company.example", "BOSS@company.example")


def test_address_is_light():
    (address,) = parse_addresses("a@b.example")
    assert isinstance(address, Address)
    assert not hasattr(address, "__dict__")
    with pytest.raises(AttributeError):
        address.local = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------- richer syntax (reference parser)

def test_group_members_are_addresses():
    raw = "A Group:Chris Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"
    assert addrs(raw) == ["c@a.test", "joe@where.test", "jdoe@one.test"]


@pytest.mark.parametrize("raw", ["undisclosed-recipients:;", "Undisclosed recipients  :  ;", ""])
def test_empty_group_or_empty_string_yields_no_address(raw):
    assert parse_addresses(raw) == []


def test_comments_are_not_part_of_the_address():
    raw = "Pete(A wonderful \\) chap) <pete(his account)@silly.test(his host)>"
    assert summary(raw) == [("pete@silly.test", "Pete", ())]
    assert summary("MAILER-DAEMON@mx.example (Mail Delivery System)") == [("MAILER-DAEMON@mx.example", "", ())]


def test_quoted_local_part_is_unquoted():
    assert addrs('"john doe"@x.example') == ["john doe@x.example"]
    assert addrs('x <"a b"@evil.example>') == ["a b@evil.example"]


@pytest.mark.parametrize("raw", ["XX", "example.com", "a@", "@b.example", "<>", "a @", "Name <>"])
def test_no_address_without_local_part_and_domain(raw):
    assert parse_addresses(raw) == []


def test_folded_header_is_unfolded():
    assert addrs("a@b.example,\r\n\tc@d.example") == ["a@b.example", "c@d.example"]


# --------------------------------------------------------------------------- encoded words

def test_encoded_word_display_name_is_decoded():
    raw = "=?iso-8859-1?Q?Last=DFlName=2C_FirstName?= <comma.name@example.com>"
    assert summary(raw) == [("comma.name@example.com", "LastßlName, FirstName", ())]


def test_encoded_word_hiding_at_angle_and_comma_stays_in_the_name():
    raw = "=?utf-8?q?Bank=2C_Inc_=3Cservice=40bank.example=3E?= <x@evil.example>"
    assert summary(raw) == [("x@evil.example", "Bank, Inc <service@bank.example>", ("service@bank.example",))]


def test_encoded_word_that_decodes_to_an_address_is_a_name_address():
    raw = "=?UTF-8?B?dG9ueS5zdGFya0BleGFtcGxlLmNvbQ==?= <tony.stark@example.com>"
    assert summary(raw) == [("tony.stark@example.com", "tony.stark@example.com", ("tony.stark@example.com",))]


@pytest.mark.parametrize("text, expected", [
    ("=?utf-8?q?a=40b?= =?utf-8?q?c?=", "a@bc"),              # white space between words dropped
    ("x =?utf-8?b?w7w=?= y", "x ü y"),
    ("=?iso-8859-1*sv?Q?=E5?=", "å"),                          # RFC 2231 language tag
    ("=?NONE?B?abc?=", "=?NONE?B?abc?="),                      # unknown charset: kept as written
    ("=?utf-8?B?a?=", "=?utf-8?B?a?="),                        # bad base64: kept as written
    ("=?utf-7?B?SitBUHctcmdlbg==?=", "Jürgen"),
    ("plain", "plain"),
])
def test_decode_encoded_words(text, expected):
    assert mailbox.decode_encoded_words(text) == expected


_around_encoded_words = st.lists(st.one_of(
    st.sampled_from(["=?", "?=", "?", "=", "utf-8", "*sv", "B", "b", "Q", "q", "YQ==", "=C3=A9", " ", "\t", "\n",
                     "\x0b", "\x0c", "\r", "\u00a0", "\u2028", "\x85", "é", "中"]),
    st.characters(blacklist_categories=("Cs",))), max_size=30).map("".join)


@given(_around_encoded_words)
def test_encoded_words_are_found_where_re2_finds_them(text):
    """The `re` pattern for encoded words against the RE2 one it replaced (RE2's \\s is ASCII)."""
    program = re2.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")
    assert [m.groups() for m in mailbox._ENCODED_WORD.finditer(text)] == \
        [m.groups() for m in program.finditer(text)]


# --------------------------------------------------------------------------- spoofs

@pytest.mark.parametrize("raw, expected", [
    ('"baz@example.com" <info@paypal.com>', [("info@paypal.com", "baz@example.com", ("baz@example.com",))]),
    ("alice@example.com <bob@example.com>", [("bob@example.com", "alice@example.com", ("alice@example.com",))]),
    ("Mikel@Lindsaar <raasdnil@gmail.com>", [("raasdnil@gmail.com", "Mikel@Lindsaar", ("Mikel@lindsaar",))]),
    ('"Support <help@BANK.example>" <x@evil.example>',
     [("x@evil.example", "Support <help@BANK.example>", ("help@bank.example",))]),
], ids=repr)
def test_address_in_display_name_is_a_name_address_not_the_address(raw, expected):
    assert summary(raw) == expected


def test_padding_does_not_change_the_spoof_result():
    padded = "alice@example.com " + " " * 2000 + "<bob@example.com>"
    assert summary(padded) == [("bob@example.com", "alice@example.com", ("alice@example.com",))]


@pytest.mark.parametrize("raw", [
    "x" * 1200 + " <evil@evil.example>",
    '"' + "a" * 1200 + '" <evil@evil.example>',
    "(" * 1200 + "evil@evil.example",
    "<evil@evil.example> " + "y" * 1200,
    '"' * 1201 + ", evil@evil.example",
])
def test_padding_cannot_hide_an_address(raw):
    assert "evil@evil.example" in addrs(raw)


# --------------------------------------------------------------------------- bounded parsing

def test_over_1000_characters_never_reaches_the_reference_parser(no_reference):
    raw = '"' + "n" * 990 + '" <a@b.example>'
    assert len(raw) > addresses.MAX_REFERENCE_LENGTH
    assert summary(raw) == [("a@b.example", "n" * 990, ())]


def test_up_to_1000_characters_uses_the_reference_parser(monkeypatch):
    calls = []
    real = addresses._registry()
    monkeypatch.setattr(addresses, "_registry", lambda: lambda *a: calls.append(a) or real(*a))
    raw = "Group: " + "x" * 970 + "@b.example;"
    assert len(raw) <= addresses.MAX_REFERENCE_LENGTH
    assert addrs(raw) == ["x" * 970 + "@b.example"]
    assert calls


def test_fallback_flag_skips_the_reference_parser(no_reference):
    (address,) = parse_addresses('Group: "Doe, J" <j@x.example>;', fallback=True)
    assert address.address == "j@x.example"
    assert "Doe, J" in address.display_name


def test_eight_kilobytes_of_quotes_take_the_linear_fallback(no_reference):
    assert parse_addresses('"' * 8192) == []
    assert addrs('"' * 8192 + ", a@b.example") == ["a@b.example"]


def test_plain_forms_never_reach_the_reference_parser(no_reference):
    assert addrs('"Doe, John" <j@x.example>, b@c.example') == ["j@x.example", "b@c.example"]


@pytest.mark.parametrize("raw, expected", [
    ("tim@a.example concierge@a.example", ["tim@a.example", "concierge@a.example"]),   # missing comma
    ("J. Doe <j@x.example>", ["j@x.example"]),                                       # obsolete period
    ("<a@b.example> trailing", ["a@b.example"]),
    ("a@b.example.", ["a@b.example"]),
    ("Stefanie Schwabe stefanie@wanadoo.example", ["stefanie@wanadoo.example"]),
    ("x\ud800 <a@b.example>", ["a@b.example"]),                                      # parser raises
    ("jdöe@mächine.example", ["jdöe@mächine.example"]),                              # non-ASCII local part
], ids=repr)
def test_defects_and_errors_go_to_the_fallback(raw, expected):
    assert addrs(raw) == expected


def test_fallback_on_a_defect_keeps_display_names():
    assert summary("J. Doe <j@x.example>, \"Roe, R\" <r@y.example>") == [
        ("j@x.example", "J. Doe", ()), ("r@y.example", "Roe, R", ())]


def test_fallback_splits_only_on_commas_outside_quotes(no_reference):
    raw = '"Roe, \\"R, Jr\\"" <r@y.example>, j@x.example'
    assert summary(raw, fallback=True) == [("r@y.example", 'Roe, "R, Jr"', ()), ("j@x.example", "", ())]


def test_fallback_keeps_every_entry_of_a_long_list(no_reference):
    raw = ", ".join(f'"User, {i}" <u{i}@d{i}.example>' for i in range(200))
    assert len(raw) > addresses.MAX_REFERENCE_LENGTH
    assert addrs(raw) == [f"u{i}@d{i}.example" for i in range(200)]


def test_fallback_decodes_encoded_words_in_names():
    raw = "=?utf-8?q?a=40evil.example?= <x@y.example>"
    assert summary(raw, fallback=True) == [("x@y.example", "a@evil.example", ("a@evil.example",))]


def test_fallback_angle_tokens_inside_quotes_are_name_text():
    assert summary('"Bob <admin@bank.example>" <evil@x.example>', fallback=True) == [
        ("evil@x.example", "Bob <admin@bank.example>", ("admin@bank.example",))]


@pytest.mark.parametrize("value", [None, 42, b"a@b.example", ["a@b.example"]])
def test_non_text_values_yield_no_address(value):
    assert parse_addresses(value) == []


# --------------------------------------------------------------------------- domains

@pytest.mark.parametrize("a, b", [
    ("BÜCHER.example", "xn--bcher-kva.example"),
    ("Example.COM", "example.com"),
    ("example.com.", "example.com"),
    ("ＥＸＡＭＰＬＥ。com", "example.com"),
    ("XN--BCHER-KVA.example", "bücher.example"),
])
def test_domains_compare_in_one_form(a, b):
    assert normalize_domain(a) == normalize_domain(b)


def test_domain_normal_form_is_lowercase_unicode():
    assert normalize_domain("BÜCHER.example") == "bücher.example"
    assert addrs("a@xn--bcher-kva.example") == ["a@bücher.example"]


def test_no_case_folding_on_domains():
    assert normalize_domain("straße.de") == "straße.de"
    assert normalize_domain("straße.de") != normalize_domain("strasse.de")


@pytest.mark.parametrize("text, expected", [
    ("My_Host.Example", "my_host.example"),     # "_" is not IDNA-valid: kept, lowercased
    ("XN--ZZ.example", "xn--zz.example"),       # broken punycode: kept, lowercased
    ("-Bad-.Example", "-bad-.example"),
    ("[192.0.2.1]", "[192.0.2.1]"),
    ("", ""),
])
def test_labels_idna_rejects_stay_as_lowercased_text(text, expected):
    assert normalize_domain(text) == expected


@given(st.text())
def test_normalize_domain_never_raises(text):
    assert isinstance(normalize_domain(text), str)


# --------------------------------------------------------------------------- policy literals

@pytest.mark.parametrize("text, expected", [
    ("boss@company.example", "boss@company.example"),
    ("  Boss <BOSS@Company.Example> ", "BOSS@company.example"),
    ('"Doe, John" <j@x.example>', "j@x.example"),
    ("a@BÜCHER.example", "a@bücher.example"),
    ("jdöe@mächine.example", "jdöe@mächine.example"),
])
def test_literal_that_is_one_address(text, expected):
    literal = parse_literal(text)
    assert literal is not None and literal.address == expected


@pytest.mark.parametrize("text", [
    "example.com", "", "   ", "a@b.example, c@d.example", "G: a@b.example;", "G:;",
    "alice@example.com <bob@example.com>", "a@b.example.", "<>", "@b.example",
    "x" * 1001 + "@b.example",
])
def test_literal_that_is_not_exactly_one_address(text):
    assert parse_literal(text) is None


# --------------------------------------------------------------------------- properties

_ATEXT = "abcXYZ0189!#$%&'*+/=?^_`{|}~-"
_atom = st.text(alphabet=_ATEXT, min_size=1, max_size=8)
_dot_atom = st.lists(_atom, min_size=1, max_size=3).map(".".join)
_addr_spec = st.builds(lambda local, domain: f"{local}@{domain}", _dot_atom, _dot_atom)
_name_char = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\')
_quoted_name = st.lists(
    st.one_of(_name_char, st.sampled_from(['\\"', "\\\\", ",", "@", "<", ">", " ", "a@b.example"])),
    max_size=12,
).map(lambda parts: '"' + "".join(parts) + '"')
_phrase_word = st.text(alphabet=_ATEXT + "éßЖ中", min_size=1, max_size=6)
_phrase = st.lists(_phrase_word, min_size=1, max_size=3).flatmap(
    lambda words: st.lists(st.sampled_from([" ", "\t", "  "]), min_size=len(words) - 1,
                           max_size=len(words) - 1).map(
        lambda gaps: "".join(w + g for w, g in zip(words, gaps + [""]))))
_space = st.sampled_from(["", " ", "\t", "  "])
_mailbox = st.one_of(
    _addr_spec,
    _addr_spec.map(lambda a: f"<{a}>"),
    st.builds(lambda n, s, a: f"{n}{s}<{a}>", _quoted_name, _space, _addr_spec),
    st.builds(lambda n, s, a: f"{n}{s or ' '}<{a}>", _phrase, _space, _addr_spec),
)
_plain_list = st.lists(st.builds(lambda a, m, b: a + m + b, _space, _mailbox, _space),
                       min_size=1, max_size=4).map(",".join)


def assert_fast_path_takes_and_agrees(raw: str) -> None:
    fast = addresses._fast(raw)
    if "=?" not in raw:          # atext may spell "=?" by chance: declined, the stdlib may decode it
        assert fast is not None
    if fast is not None:
        assert fast == slow_route(raw)


@given(_plain_list)
def test_fast_path_takes_plain_forms_and_agrees_with_the_slow_route(raw):
    assert_fast_path_takes_and_agrees(raw)


_messy = st.lists(st.one_of(
    st.sampled_from(list('a@b."<>, \t\\()=?:;[]\r\nXé中_') + ["\x00", "\x7f", "\u2028", "\ud800", "\u00a0",
                                                             "=?", "?=", "=?utf-8?q?", "=?utf-8?b?", "=C3=A9"]),
    st.characters()), max_size=40).map("".join)


@given(st.one_of(_messy, _plain_list, st.builds(lambda a, b: a + b, _plain_list, _messy)))
def test_anything_the_fast_path_accepts_agrees_with_the_slow_route(raw):
    fast = addresses._fast(raw)
    if fast is not None:
        assert fast == slow_route(raw)


_gap = st.sampled_from([" ", "\t", "  ", " \t"])
_defective = st.one_of(
    st.builds(lambda a, gap, b: f"{a}{gap}<{b}>", _addr_spec, _gap, _addr_spec),           # the spoof form
    st.lists(st.tuples(_addr_spec, _gap), min_size=2, max_size=4).map(                       # no commas
        lambda parts: "".join(a + gap for a, gap in parts[:-1]) + parts[-1][0]),
    st.builds(lambda words, gap, a: "".join(w + " " for w in words) + gap.strip(" ") + a,   # name, no angle
              st.lists(_atom, min_size=1, max_size=3), _gap, _addr_spec),
    st.builds(lambda a, dots, b, d: f"{a}{dots}{b}@{d}", _dot_atom, st.sampled_from(["..", "..."]),
              _dot_atom, _dot_atom),
).flatmap(lambda raw: st.tuples(_space, _space).map(lambda pad: pad[0] + raw + pad[1]))


_CHARSETS = st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "windows-1252", "koi8-r", "x-unknown", "utf_8"])
_encoded_in_quotes = st.builds(
    lambda charset, text, b, before, after, gap, a: (
        f'"{before}=?{charset}?{b}?{base64.b64encode(text.encode("utf-8")).decode()}?={after}"{gap}<{a}>'),
    _CHARSETS, st.text(max_size=12), st.sampled_from("Bb"), st.sampled_from(["", " ", "\t "]),
    st.text(alphabet=st.characters(blacklist_characters='"\\', blacklist_categories=("Cc", "Cs")), max_size=10),
    _gap | st.just(""), _addr_spec)
_known_defective = st.one_of(_defective.filter(lambda raw: "=?" not in raw), _encoded_in_quotes)


@given(_known_defective)
def test_known_defective_shapes_skip_the_reference_parser_and_lose_nothing(raw):
    """Shapes parse_addresses reads as the fallback does: the reference parser flags each (so the
    fallback's answer is the slow route's own), and the shortcut reads them as the fallback."""
    assert addresses._known_defective(raw) == addresses._fallback(raw)
    assert addresses._reference(raw) is None
    assert parse_addresses(raw) == slow_route(raw)


@given(st.one_of(_messy, _plain_list, _known_defective, st.builds(lambda a, b: a + b, _known_defective, _messy)))
def test_whatever_the_defect_shortcut_takes_the_reference_parser_refuses(raw):
    if addresses._known_defective(raw) is not None:
        assert addresses._reference(raw) is None


@given(st.one_of(_plain_list, _messy, _defective).filter(str.isascii), st.integers(0, 5))
def test_the_ascii_mailbox_pattern_reads_ascii_text_as_the_general_one(raw, pos):
    ascii_match, match = addresses._MAILBOX_ASCII.match(raw, pos), addresses._MAILBOX.match(raw, pos)
    assert (ascii_match and (ascii_match.groups(), ascii_match.end())) == (match and (match.groups(), match.end()))


_long_list = st.lists(_mailbox, min_size=1, max_size=60).map(", ".join)


@given(st.one_of(_plain_list, _long_list, _messy, _defective, st.builds(lambda a, b: a + b, _long_list, _messy)))
def test_fast_path_in_the_fallbacks_form_agrees_with_the_fallback(raw):
    """Past 1,000 characters, or past a record's budget, plain forms skip the fallback's scan:
    only where they read exactly as the fallback reads them."""
    fast = addresses._fast_like_fallback(raw)
    if fast is not None:
        assert fast == addresses._fallback(raw)


def test_plain_forms_past_the_budget_take_the_fast_path(monkeypatch):
    monkeypatch.setattr(addresses, "_fallback", lambda raw: pytest.fail("the fallback scan was not needed"))
    long = ", ".join(f'"Name {k}" <user.{k}@example.com>' for k in range(60))
    assert len(long) > addresses.MAX_REFERENCE_LENGTH
    assert len(parse_addresses(long)) == 60
    assert addrs("user@corp.example", fallback=True) == ["user@corp.example"]


@given(st.one_of(st.text(), _messy, _plain_list), st.booleans())
def test_parse_addresses_never_raises(raw, fallback):
    for address in parse_addresses(raw, fallback=fallback):
        assert address.local and address.domain


@given(st.one_of(st.text(), _messy))
def test_parse_literal_never_raises(text):
    literal = parse_literal(text)
    assert literal is None or isinstance(literal, Address)


@given(_plain_list)
def test_fallback_finds_the_same_addresses_as_the_reference_on_plain_forms(raw):
    """Padding a plain header into the fallback changes nothing a rule compares."""
    reference = addresses._reference(raw)
    assert reference is not None
    assert ([(a.address, a.name_addresses) for a in addresses._fallback(raw)]
            == [(a.address, a.name_addresses) for a in reference])


@given(st.from_regex(r"[A-Za-z0-9._+ßéЖ中-]{1,12}@[A-Za-z0-9ßéЖ中-]{1,10}(\.[A-Za-z0-9-]{1,10}){0,3}",
                     fullmatch=True))
def test_parse_literal_fast_path_agrees_with_the_reference_parser(text):
    """Large `in` lists load through the fast path: it must give what the strict reference path gives."""
    from unittest import mock

    from engine.mail import address_fallback, addresses, mailbox

    with_fast = addresses.parse_literal(text)
    with mock.patch.object(addresses, "_fast", lambda raw: None):
        reference_only = addresses.parse_literal(text)
    assert with_fast == reference_only


@given(st.from_regex(r"[A-Za-z0-9_.-]{1,30}", fullmatch=True))
def test_ascii_domains_normalise_like_idna(text):
    import idna

    from engine.mail import address_fallback, addresses, mailbox

    labels = [label for label in text.split(".")]
    while len(labels) > 1 and not labels[-1]:
        labels.pop()
    expected = []
    for label in labels:
        try:
            expected.append(idna.decode(label, uts46=True) if label else label)
        except Exception:  # noqa: BLE001
            expected.append(label.lower())
    assert addresses.normalize_domain(text) == ".".join(expected)


# --------------------------------------------------------------------------- cheap routes (no stdlib parser)

@pytest.mark.parametrize("raw", ["", "   ", "\t\r\n ", "undisclosed-recipients:;", '"' * 900, "example.com"])
def test_string_without_at_sign_yields_no_address_without_parsing(no_reference, raw):
    assert parse_addresses(raw) == []
    assert parse_addresses(raw, fallback=True) == []


@given(st.one_of(st.text(), _messy).map(lambda text: text.replace("@", "")))
def test_no_route_finds_an_address_without_an_at_sign(raw):
    """Why parse_addresses may answer [] at once for such strings."""
    assert slow_route(raw) == []
    assert addresses._fallback(raw) == []


def test_importing_and_fast_parsing_does_not_load_the_stdlib_parser():
    """email.headerregistry costs ~8 ms of a Lambda cold start; only declined strings need it."""
    code = (
        "import sys\n"
        "from engine.mail.addresses import parse_addresses, parse_literal\n"
        "parse_addresses('J <j@x.example>, jdöe@mächine.example')\n"
        "parse_addresses('=?utf-8?q?Caf=C3=A9?= <a@b.example>')\n"
        "parse_literal('boss@company.example')\n"
        "assert 'email.headerregistry' not in sys.modules, 'loaded too early'\n"
        "assert [a.address for a in parse_addresses('G: a@b.example;')] == ['a@b.example']\n"
        "assert 'email.headerregistry' in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("raw, expected", [
    # RFC 6532: the stdlib flags a raw UTF-8 local part, so these are the fallback's results
    ("Dörte <dörte@sörensen.example>", [("dörte@sörensen.example", "Dörte", ())]),
    ("jdöe@mächine.example", [("jdöe@mächine.example", "", ())]),
    ('"Dö,  r" <dö@x.example>, "A  B" <a@b.example>', [("dö@x.example", "Dö, r", ()), ("a@b.example", "A B", ())]),
    ("θσερ@εχαμπλε.ψομ", [("θσερ@εχαμπλε.ψομ", "", ())]),
    # a raw UTF-8 domain alone is no defect: the reference parser's result
    ("a@BÜCHER.example", [("a@bücher.example", "", ())]),
    ('"A  B" <a@MÄCHINE.example>', [("a@mächine.example", "A  B", ())]),
    # RFC 2047 display names: the reference parser's results
    ("=?utf-8?q?Caf=C3=A9?= <a@b.example>", [("a@b.example", "Café", ())]),
    # adjacent encoded words: the white space between them is dropped (RFC 2047 6.2)
    ("=?UTF-8?B?SsO8cmdlbg==?= =?iso-8859-1?q?Gro=DF?= <j@g.example>", [("j@g.example", "JürgenGroß", ())]),
    ("=?utf-8?q?a?=  \t=?utf-8?q?b?= <x@y.example>", [("x@y.example", "ab", ())]),
    ("=?utf-8?q?a?= b =?utf-8?q?c?= <x@y.example>", [("x@y.example", "a b c", ())]),
    ("Dr =?windows-1252?q?=80uro?= Jr <x@y.example>", [("x@y.example", "Dr €uro Jr", ())]),
    ("=?us-ascii?b?YV9i?= <x@y.example>", [("x@y.example", "a_b", ())]),
    ("=?utf-8*en?q?a__b_?= <x@y.example>", [("x@y.example", "a b ", ())]),
    ("=?utf-8?q?a_=C2=A0=E3=80=80b=C2=A0?= <x@y.example>", [("x@y.example", "a b\xa0", ())]),  # str.lstrip after a space
    ("=?utf-8?q??= <x@y.example>", [("x@y.example", "", ())]),
    ("=?iso-8859-1?Q?Last=DFlName=2C_FirstName?= <c@x.example>, b@c.example",
     [("c@x.example", "LastßlName, FirstName", ()), ("b@c.example", "", ())]),
    # spoofs stay visible once decoded
    ("=?utf-8?q?a=40evil=2Eexample?= <x@y.example>", [("x@y.example", "a@evil.example", ("a@evil.example",))]),
    ("=?utf-8?b?Ym9zc0Bjb21wYW55LmV4YW1wbGU=?= <x@evil.example>",
     [("x@evil.example", "boss@company.example", ("boss@company.example",))]),
], ids=repr)
def test_utf8_and_encoded_names_take_the_fast_path(no_reference, raw, expected):
    assert summary(raw) == expected


@pytest.mark.parametrize("raw", [
    "=?utf-8?q?a@evil.example?= <x@y.example>",      # raw "@" in Q text: not strict
    "=?utf-8?q?a?=<x@y.example>",                    # no white space after the word: stdlib defect
    "=?utf-8?b?w6k?= <x@y.example>",                 # bad padding: stdlib defect
    "=?us-ascii?q?=E9?= <x@y.example>",              # undecodable byte: stdlib defect
    "=?utf-8?q?a=0Ab?= <x@y.example>",               # decodes to LF: stdlib raises
    "=?utf-8?q?a=7F?= <x@y.example>",                # non-printable: stdlib defect
    "=?koi8-r?q?=E1?= <x@y.example>",                # charset outside the strict list
    "=?utf-8?q?=zz?= <x@y.example>",                 # broken escape: stdlib keeps the word as text
    "x=?utf-8?q?a?= <x@y.example>",                  # not a whole word: stdlib keeps it as text
    "=?utf-8?q?a?= <dö@x.example>",                  # encoded word and UTF-8 local part: the fallback's decoder
    '"=?utf-8?q?a?=" <x@y.example>',                 # encoded word in a quoted string
    "=?utf-8?q?x?=@b.example",                       # encoded word as a local part
    "a@=?utf-8?q?b?=",
])
def test_doubtful_forms_are_declined_and_keep_their_slow_result(raw):
    assert addresses._fast(raw) is None
    assert parse_addresses(raw) == slow_route(raw)


def test_encoded_word_with_raw_at_sign_still_gives_the_name_address():
    assert summary("=?utf-8?q?a@evil.example?= <x@y.example>") == [
        ("x@y.example", "a@evil.example", ("a@evil.example",))]


# Generated shapes for the widened fast path: raw UTF-8 anywhere, encoded display names.
_utf8_atom = st.text(alphabet=st.one_of(st.sampled_from(_ATEXT), st.characters(min_codepoint=0xa1, max_codepoint=0xfffd,
                                                                              blacklist_categories=("Cs", "Zs", "Zl", "Zp"),
                                                                              blacklist_characters="\u3002\uff0e\uff61")),
                     min_size=1, max_size=8)
_utf8_dot_atom = st.lists(_utf8_atom, min_size=1, max_size=3).map(".".join)
_utf8_addr_spec = st.builds(lambda local, domain: f"{local}@{domain}", st.one_of(_dot_atom, _utf8_dot_atom),
                            st.one_of(_dot_atom, _utf8_dot_atom))
_utf8_mailbox = st.one_of(
    _utf8_addr_spec,
    _utf8_addr_spec.map(lambda a: f"<{a}>"),
    st.builds(lambda n, s, a: f"{n}{s}<{a}>", _quoted_name, _space, _utf8_addr_spec),
    st.builds(lambda n, s, a: f"{n}{s or ' '}<{a}>", _phrase, _space, _utf8_addr_spec),
)
_utf8_list = st.lists(st.builds(lambda a, m, b: a + m + b, _space, st.one_of(_mailbox, _utf8_mailbox), _space),
                      min_size=1, max_size=4).map(",".join)


@given(_utf8_list)
def test_fast_path_on_raw_utf8_agrees_with_the_slow_route(raw):
    assert_fast_path_takes_and_agrees(raw)


_CHARSETS = ["utf-8", "UTF-8", "us-ascii", "iso-8859-1", "ISO-8859-2", "iso-8859-15", "windows-1252", "windows-1251"]
_Q_SAFE = set(b"abcXYZ0189!*+-/")


def _q_encode(data: bytes, upper: bool) -> str:
    hexfmt = "={:02X}" if upper else "={:02x}"
    return "".join("_" if b == 0x20 else chr(b) if b in _Q_SAFE else hexfmt.format(b) for b in data)


_decoded_char = st.one_of(st.characters(blacklist_categories=("Cs",)), st.sampled_from(" \t\xa0\u3000\r\n\x85"))


@st.composite
def _encoded_word(draw, controls: bool = True) -> str:
    charset = draw(st.sampled_from(_CHARSETS))
    text = draw(st.text(alphabet=_decoded_char, max_size=10))
    if not controls:
        text = "".join(c for c in text if c.isprintable() or c in " \t")
    try:
        data = text.encode(charset)
    except UnicodeEncodeError:
        assume(False)
    lang = draw(st.sampled_from(["", "*en", "*de-CH"]))
    if draw(st.booleans()):
        return f"=?{charset}{lang}?{draw(st.sampled_from('Bb'))}?{base64.b64encode(data).decode()}?="
    return f"=?{charset}{lang}?{draw(st.sampled_from('Qq'))}?{_q_encode(data, draw(st.booleans()))}?="


_encoded_phrase = st.lists(st.one_of(_encoded_word(), _phrase_word), min_size=1, max_size=4).flatmap(
    lambda words: st.lists(st.sampled_from([" ", "\t", "  ", " \t"]), min_size=len(words),
                           max_size=len(words)).map(lambda gaps: "".join(w + g for w, g in zip(words, gaps))))
_simple_addr_spec = st.from_regex(r"[a-z0-9+]{1,8}@[a-z]{1,8}\.example", fullmatch=True)
_encoded_mailbox = st.builds(lambda n, a: f"{n}<{a}>", _encoded_phrase, _simple_addr_spec)
_encoded_list = st.lists(st.builds(lambda a, m, b: a + m + b, _space, st.one_of(_encoded_mailbox, _mailbox), _space),
                         min_size=1, max_size=3).map(",".join)


@given(_encoded_list)
def test_fast_path_on_encoded_display_names_agrees_with_the_slow_route(raw):
    fast = addresses._fast(raw)
    if fast is not None:
        assert fast == slow_route(raw)


@given(_encoded_word(controls=False))
def test_fast_path_takes_strict_encoded_words_of_printable_text(word):
    raw = f"{word} <a@b.example>"
    fast = addresses._fast(raw)
    assert fast is not None
    assert fast == slow_route(raw)


# --------------------------------------------------------------------------- fallback scans

_quote_soup = st.text(alphabet=st.sampled_from(list('"\\@a ,<>()é')), max_size=30)


_plain_piece = st.lists(st.sampled_from(["a@b.example", " x@y.example ", "", "c@d", "@", "e@f g@h", "junk", "i @ j . k"]),
                       max_size=3).map(" ".join)


@given(st.lists(_plain_piece, max_size=6))
def test_one_re2_pass_over_plain_pieces_finds_what_one_pass_per_piece_finds(pieces):
    """Pieces without quotes, comments or angle brackets are searched together: no address spans a comma."""
    expected = [address for piece in pieces for address in addresses._fallback(piece)]
    assert addresses._fallback(",".join(pieces)) == expected


@pytest.mark.parametrize("raw, expected", [
    ('"a\\"b" <x@y.example>', [("x@y.example", 'a"b', ())]),
    ('"a\\\\" <x@y.example>', [("x@y.example", "a\\", ())]),
    ('"un <closed@x.example>', [("closed@x.example", "un", ())]),  # an unclosed quote is no quote
    ('"q"@x.example <y@z.example>', [("y@z.example", '"q"@x.example', ("q@x.example",))]),
    ("a@b.example, c@d.example,, e@f.example", [("a@b.example", "", ()), ("c@d.example", "", ()), ("e@f.example", "", ())]),
])
def test_fallback_on_quotes_and_plain_runs(no_reference, raw, expected):
    assert summary(raw, fallback=True) == expected


def test_word_character_class_is_exactly_atext_plus_non_ascii_words():
    """The negated class the fast path uses must hold exactly the characters it was written for."""
    import re

    positive = re.compile("[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\-\u00a1-\u167f\u1681-\u1fff\u200b-\u2027"
                          "\u202a-\u202e\u2030-\u205e\u2060-\u2fff\u3001-\ud7ff\ue000-\ufffd]")
    negated = re.compile(addresses._WORD_CHAR)
    assert [c for c in range(0x110000) if bool(positive.match(chr(c))) != bool(negated.match(chr(c)))] == []


_idna_ish = st.builds(lambda local, label, tld: f"{local}@{label}.{tld}", st.sampled_from(["a", "B.c", "x--y"]),
                      st.sampled_from(["xn--", "XN--bcher-kva", "xn--bcher-kva", "a--b", "plain"]),
                      st.sampled_from(["example", "xn--p1ai", "Com"]))


@given(st.lists(st.one_of(_addr_spec, _idna_ish, _messy, _plain_list), min_size=1, max_size=4))
def test_counting_bare_addresses_agrees_with_reading_them(strings):
    """Recipients are counted with all_bare, one match over them all, without building what _bare gives."""
    assert addresses.all_bare(strings) is all(addresses._bare(raw) is not None for raw in strings)


def test_a_comma_inside_one_recipient_is_not_two_bare_addresses():
    assert addresses.all_bare(["a@b.example", "c@d.example"])
    assert not addresses.all_bare(["a@b.example,c@d.example"])
