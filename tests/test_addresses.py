"""engine.addresses: what address fields see in a header string (spec 3.4)."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from engine import addresses
from engine.addresses import Address, normalize_domain, parse_addresses, parse_literal


def summary(raw: str, **kwargs) -> list[tuple[str, str, tuple[str, ...]]]:
    """(address, display name, name addresses) of every parsed address."""
    return [(a.address, a.display_name, a.name_addresses) for a in parse_addresses(raw, **kwargs)]


def addrs(raw: str, **kwargs) -> list[str]:
    return [a.address for a in parse_addresses(raw, **kwargs)]


@pytest.fixture
def no_reference(monkeypatch):
    """Make any call into email.headerregistry fail the test."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("the reference parser must not be called here")
    monkeypatch.setattr(addresses, "_REGISTRY", refuse)


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
    assert addresses.decode_encoded_words(text) == expected


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
    real = addresses._REGISTRY
    monkeypatch.setattr(addresses, "_REGISTRY", lambda *a: calls.append(a) or real(*a))
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


@given(_plain_list)
def test_fast_path_agrees_with_the_reference_parser_on_plain_forms(raw):
    fast = addresses._fast(raw)
    if "=?" not in raw:  # encoded words are handed to the reference parser by design
        assert fast is not None
    if fast is not None:
        assert addresses._reference(raw) == fast


_messy = st.text(alphabet=st.one_of(
    st.sampled_from(list('a@b."<>, \t\\()=?:;[]\r\nXé中') + ["\x00", "\x7f", "\u2028", "\ud800", "\u00a0"]),
    st.characters()), max_size=40)


@given(st.one_of(_messy, _plain_list, st.builds(lambda a, b: a + b, _plain_list, _messy)))
def test_anything_the_fast_path_accepts_agrees_with_the_reference_parser(raw):
    fast = addresses._fast(raw)
    if fast is not None:
        assert addresses._reference(raw) == fast


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


@given(st.from_regex(r"[A-Za-z0-9._+-]{1,12}@[A-Za-z0-9-]{1,10}(\.[A-Za-z0-9-]{1,10}){0,3}", fullmatch=True))
def test_parse_literal_fast_path_agrees_with_the_reference_parser(text):
    """Large `in` lists load through the fast path: it must give what the strict reference path gives."""
    from unittest import mock

    from engine import addresses

    with_fast = addresses.parse_literal(text)
    with mock.patch.object(addresses, "_fast", lambda raw: None):
        reference_only = addresses.parse_literal(text)
    assert with_fast == reference_only


@given(st.from_regex(r"[A-Za-z0-9_.-]{1,30}", fullmatch=True))
def test_ascii_domains_normalise_like_idna(text):
    import idna

    from engine import addresses

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
