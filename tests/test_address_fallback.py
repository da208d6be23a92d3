"""engine.mail.address_fallback: what the linear fallback reads, and that it stays linear (SPEC 3.4, issue 10 items 1, 2, 5)."""
from __future__ import annotations

import collections
import copy
import functools
import json
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import assume, given, strategies as st

from engine import load_policy, load_policy_text
from engine.mail import address_fallback, addresses, mailbox
from engine.mail.addresses import parse_addresses

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "examples" / "events"
ATTACK = ',(") <attacker @ evil.example> (" <ceo@acme.example>)'


def addrs(raw: str, **kwargs) -> list[str]:
    return [a.address for a in parse_addresses(raw, **kwargs)]


def routes(raw: str) -> dict[str, list[str]]:
    """What each route reads: the public entry point, and the fallback forced."""
    return {"parse": addrs(raw), "fallback": addrs(raw, fallback=True)}


# --------------------------------------------------------------------------- item 1: comments

@pytest.mark.parametrize("raw", [
    ATTACK,                                                               # the red-team input (56 characters)
    ',attacker @ evil.example',                                           # obsolete comma, spaces around @
    ',attacker@(x)evil.example',                                          # a comment inside the address
    ',((")) <attacker@evil.example> ((" <ceo@acme.example>))',            # nested comments
    ',(\\)") <attacker@evil.example> (\\(" <ceo@acme.example>)',         # escaped parentheses in comments
    '(") <attacker@evil.example> (" <ceo@acme.example>), ',              # trailing empty element
    ',(" <ceo@acme.example> ") <attacker@evil.example>',                 # the decoy first
    'attacker@evil.example (" <ceo@acme.example>)',
    '<attacker @ evil . example> (<ceo@acme.example>)',                  # spaces around dots too
])
def test_a_comment_never_hides_the_real_sender(raw):
    assert routes(raw) == {"parse": ["attacker@evil.example"], "fallback": ["attacker@evil.example"]}


@pytest.mark.parametrize("padding", ["(" + "x" * 1000 + ")", " " * 1000, '("' + "," * 1000 + ")"])
def test_padded_past_the_reference_parser_the_fallback_reads_it_the_same(padding):
    raw = ',(") <attacker @ evil.example> ' + padding + ' (" <ceo@acme.example>)'
    assert len(raw) > addresses.MAX_REFERENCE_LENGTH
    assert addrs(raw) == ["attacker@evil.example"]


def test_obsolete_syntax_alone_keeps_the_reference_parse(monkeypatch):
    """`J. Doe` (a period in a phrase) and the leading comma are ObsoleteHeaderDefect only."""
    monkeypatch.setattr(addresses, "_fallback", lambda raw: pytest.fail("the fallback must not be used"))
    (address,) = parse_addresses("J. Doe <j@x.example>")
    assert (address.address, address.display_name) == ("j@x.example", "J. Doe")
    assert addrs(",a@b.example,,c@d.example") == ["a@b.example", "c@d.example"]


def test_other_defects_still_take_the_fallback():
    assert addrs("alice@example.com <bob@example.com>") == ["bob@example.com"]


def test_a_1051_character_from_in_an_eml_is_read_right_by_dry_run(tmp_path):
    sender = ',(") <attacker @ evil.example> (' + "x" * 998 + '" <ceo@acme.example>)'
    assert len(sender) == 1051
    eml = tmp_path / "attack.eml"
    eml.write_bytes(f"From: {sender}\r\nTo: finance@corp.example\r\nSubject: invoice\r\n\r\nPay.\r\n".encode())
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nrules:\n  - {name: evil, when: {from.domain: {in_domain: evil.example}},"
                      " disposition: STOP_RULE_SET}\n  - {name: acme, when: {from: ceo@acme.example},"
                      " disposition: CONTINUE}\ndefault: STOP_RULE\n")
    result = subprocess.run([sys.executable, "-m", "engine", "dry-run", "--format", "json", str(policy), str(eml)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["results"]
    assert (row["disposition"], row["rule"]) == ("STOP_RULE_SET", "evil")


def _attacked(event_file: str, address: str, **common: object) -> tuple[dict, dict]:
    """The example event, and the same with its From rewritten around `address` as the red team did."""
    event = json.loads((EVENTS / event_file).read_text(encoding="utf-8-sig"))
    attacked = copy.deepcopy(event)
    headers = attacked["Records"][0]["ses"]["mail"]["commonHeaders"]
    headers["from"] = [f',(") <attacker @ evil.example> (" <{address}>)']
    headers.update(common)
    return event, attacked


@pytest.mark.parametrize(("policy", "event_file", "address", "rule"), [
    ("examples/policies/partner-support.yaml", "partner-ticket.json", "support@acme.example", "partner-ticket"),
    ("examples/policies/security-hardened.yaml", "cloudwatch-alarm.json", "no-reply@sns.amazonaws.com",
     "allow-vendors"),
    ("examples/policies/alerts-inbox.yaml", "cloudwatch-alarm.json", "no-reply@sns.amazonaws.com",
     "cloudwatch-alarm"),
])
def test_the_comment_attack_no_longer_passes_the_shipped_allow_rules(policy, event_file, address, rule):
    event, attacked = _attacked(event_file, address)
    loaded = load_policy(str(ROOT / policy))
    assert (loaded.evaluate(event).disposition, loaded.evaluate(event).rule) == ("CONTINUE", rule)
    decision = loaded.evaluate(attacked)
    assert decision.rule != rule and decision.disposition != "CONTINUE"


def test_the_comment_attack_no_longer_passes_the_allow_rule_the_security_doc_recommends():
    policy = load_policy_text("""version: 1
default: STOP_RULE_SET
lists: {partners: [acme.example]}
rules:
  - name: partner-mail
    when:
      all:
        - from: {in_domain: {list: partners}, match: all}
        - not: {from.name_address: {exists: true, not_same_as: from.address}}
        - dmarc: PASS
    disposition: CONTINUE
""")
    event, attacked = _attacked("partner-ticket.json", "ceo@acme.example")
    assert policy.evaluate(event).rule == "partner-mail"
    assert policy.evaluate(attacked).disposition == "STOP_RULE_SET"


@pytest.mark.parametrize("when", ["{from.domain: {in_domain: evil.example}}", "{reply_to: {not_same_as: from}}"])
def test_the_comment_attack_is_seen_by_blocking_rules(when):
    policy = load_policy_text(f"version: 1\nrules:\n  - {{name: block, when: {when}, disposition: STOP_RULE_SET}}\n")
    _, attacked = _attacked("partner-ticket.json", "ceo@acme.example", replyTo=["ceo@acme.example"])
    assert policy.evaluate(attacked).rule == "block"


# --------------------------------------------------------------------------- the scan

@pytest.mark.parametrize(("raw", "expected"), [
    ('a (b, "c) <x@y.example>', [("x@y.example", "a")]),                  # a quote and a comma in a comment
    ('a (b (c) d) <x@y.example>', [("x@y.example", "a")]),                # nested
    ('"a (b)" <x@y.example>', [("x@y.example", "a (b)")]),                # parentheses in quotes are text
    ('"a, b" <x@y.example>, c@d.example', [("x@y.example", "a, b"), ("c@d.example", "")]),
    (',, a@b.example ,, ,c@d.example,', [("a@b.example", ""), ("c@d.example", "")]),   # empty elements
    ('(unclosed <x@y.example>', [("x@y.example", "(unclosed")]),          # an unclosed comment is text
    ('"unclosed <x@y.example>', [("x@y.example", "unclosed")]),           # so is an unclosed quote
    ('"a\\"b" <x@y.example>', [("x@y.example", 'a"b')]),
    ('"john doe" @ x.example', [("john doe@x.example", "")]),             # quoted local part, spaced
    ('<"a b"@evil.example>', [("a b@evil.example", "")]),
    ("a@[192.0.2.1]", [("a@[192.0.2.1]", "")]),                           # address literal
])
def test_fallback_scan(raw, expected):
    assert [(a.address, a.display_name) for a in parse_addresses(raw, fallback=True)] == expected


def test_each_angle_address_is_named_by_the_text_before_it():
    found = parse_addresses("<a@b.example> x@y.example <c@d.example> z@w.example tail@t.example", fallback=True)
    assert [(a.address, a.name_addresses) for a in found] == [
        ("a@b.example", ()), ("c@d.example", ("x@y.example", "z@w.example", "tail@t.example"))]


# --------------------------------------------------------------------------- item 5: RFC 2047 6.2

ADJACENT = "=?utf-8?q?ceo=40?= =?utf-8?q?corp.example?= <attacker@evil.example>"


@pytest.mark.parametrize("raw", [
    ADJACENT,                                                     # fast path
    "G: " + ADJACENT + ";",                                       # reference parser (a group)
    ADJACENT.replace(" <", " (c) <"),                             # reference parser (a comment)
    ADJACENT.replace("?= =?", "?= (c) =?"),                       # a comment between the words
    ADJACENT + " " * 1000,                                        # fallback (too long)
])
def test_white_space_between_adjacent_encoded_words_is_dropped_on_every_route(raw):
    (address,) = parse_addresses(raw)
    assert address.name_addresses == ("ceo@corp.example",)
    assert address.display_name.startswith("ceo@corp.example")


def test_jane_smith_ceo():
    raw = "=?utf-8?q?Jane_Smith_=28C?= =?utf-8?q?EO=29?= <jane@freemail.example>"
    for route in (parse_addresses(raw), parse_addresses(raw, fallback=True), parse_addresses("G: " + raw + ";")):
        assert route[0].display_name == "Jane Smith (CEO)"


def test_default_policy_drops_the_encoded_word_spoof():
    policy = load_policy(str(ROOT / "policies" / "default.yaml"))
    event = json.loads((EVENTS / "partner-ticket.json").read_text(encoding="utf-8-sig"))
    event["Records"][0]["ses"]["mail"]["commonHeaders"]["from"] = [ADJACENT]
    assert policy.evaluate(event).rule == "drop-display-name-spoof"


# --------------------------------------------------------------------------- item 2: bounded counts

HOSTILE = {
    "angles among bare addresses": lambda n: "<a@b> x@y " * (n // 10),
    "distinct angles among bare addresses": lambda n: "".join(f"<a{i}@b> x{i}@y " for i in range(n // 14)),
    "escaped quotes": lambda n: '"' + 'a@b\\"' * (n // 5),
    "comma list": lambda n: ",".join(f"N <a{i}@b.example>" for i in range(n // 20)),
    "spaced addresses": lambda n: " ".join(f"a{i} @ b . example" for i in range(n // 18)),
    "nested comments": lambda n: "(" * (n // 2) + "a@b" + ")" * (n // 2),
    "unclosed quotes and comments": lambda n: '("' * (n // 4) + "a@b",
    "angle brackets": lambda n: "<" * (n // 2) + "a@b" + ">" * (n // 2),
    # aimed at the plain-piece reader: quoted commas, comments, a piece that fails at its end
    "plain pieces with comments": lambda n: ", ".join(f'"N, {i}" (c) <a{i}@b> (d)' for i in range(n // 27)),
    "quoted commas, unclosed": lambda n: '"a", ' * (n // 10) + '"' + "a@b," * (n // 8),
    "pieces failing at the comma": lambda n: '"a" (x) <a@b> \\' * (n // 17) + ",",
}


class Counting:
    """A pattern (RE2 or `re`) that counts the text it is asked to search."""

    def __init__(self, program):
        self.program, self.searched, self.calls = program, 0, 0
        self.pattern = program.pattern

    def finditer(self, data):
        self.searched += len(data)
        self.calls += 1
        return self.program.finditer(data)

    def match(self, text, pos):       # the plain-piece reader's `re` pattern: tries, and text it read
        match = self.program.match(text, pos)
        self.calls += 1
        self.searched += 0 if match is None else match.end() - pos
        return match


@pytest.fixture
def counted(monkeypatch):
    bare = Counting(address_fallback._BARE_ADDRESS)
    names = Counting(mailbox._NAME_ADDRESS)
    pieces = Counting(address_fallback._PLAIN_PIECE)
    made = []
    real_make = address_fallback.make
    monkeypatch.setattr(address_fallback, "_BARE_ADDRESS", bare)
    monkeypatch.setattr(address_fallback, "_PLAIN_PIECE", pieces)
    monkeypatch.setattr(mailbox, "_NAME_ADDRESS", names)
    monkeypatch.setattr(address_fallback, "make", lambda *a: made.append(a) or real_make(*a))
    mailbox._name_addresses_cached.cache_clear()

    def work(raw: str) -> dict[str, int]:
        bare.searched = names.searched = bare.calls = names.calls = pieces.calls = pieces.searched = 0
        made.clear()
        found = parse_addresses(raw)
        return {"addresses": len(found), "name addresses": sum(len(a.name_addresses) for a in found),
                "searched": bare.searched + names.searched, "searches": bare.calls + names.calls,
                "made": len(made), "at signs": raw.count("@"), "piece tries": pieces.calls,
                "piece text": pieces.searched, "piece ends": sum(map(raw.count, ',">'))}
    return work


@pytest.mark.parametrize("name", HOSTILE)
def test_values_yielded_are_at_most_the_addresses_written(counted, name):
    raw = HOSTILE[name](60_000)
    work = counted(raw)
    assert work["addresses"] + work["name addresses"] <= work["at signs"]
    assert work["made"] <= work["at signs"]


@pytest.mark.parametrize("name", HOSTILE)
def test_work_grows_linearly(counted, name):
    """Bytes handed to RE2 and RE2 calls: at most a small multiple of the input, and twice the input costs
    at most twice as much (counts, not timings)."""
    small_size, large_size = (len(HOSTILE[name](n).encode()) for n in (30_000, 60_000))
    small, large = counted(HOSTILE[name](30_000)), counted(HOSTILE[name](60_000))
    assert large["searched"] <= 3 * large_size
    assert large["searches"] <= large["at signs"] + 2
    assert large["piece tries"] <= large["piece ends"] + 2 and large["piece text"] <= large_size
    for key in ("searched", "searches", "made", "piece tries"):     # per byte of input, the larger costs no more
        assert large[key] / large_size <= 1.05 * small[key] / small_size + 1e-4, key


@pytest.fixture
def routed(monkeypatch):
    """parse_addresses' routes, wrapped to count the characters each is handed."""
    handed: collections.Counter[str] = collections.Counter()
    for route in ("_bare", "_plain_mailboxes", "_fast_like_fallback", "_reference", "_fallback"):
        real = getattr(addresses, route)
        monkeypatch.setattr(addresses, route, functools.partial(_counted, handed, route, real))
    return handed


def _counted(handed, route, real, raw):
    handed[route] += len(raw)
    handed[route + " calls"] += 1
    return real(raw)


def _recipients_work(routed, count: int) -> dict[str, int]:
    """Parse a record of `count` recipients of assorted forms; the characters each route was handed."""
    from engine.mail.context import RecordContext
    from engine.mail.fields import resolve

    forms = ("r{k}@corp.example", "<r{k}@corp.example>", '"R {k}" (desk) <r{k}@corp.example>', "r{k} @ corp.example")
    recipients = [forms[k % 4].format(k=k) for k in range(count)]
    routed.clear()
    values = resolve("recipients", False).values(RecordContext({"receipt": {"recipients": recipients}, "mail": {}}))
    assert values == [f"r{k}@corp.example" for k in range(count)]
    return {**routed, "input": sum(map(len, recipients))}


def test_past_the_record_budget_each_string_is_read_once_by_a_linear_route(routed):
    """Past 16 KB of address text a record's strings take the linear routes, each read once: every
    further 2,000 recipients hand each route the same text again (counts, not timings), so nothing
    is read again once the budget is spent."""
    from engine.mail.context import ADDRESS_BUDGET

    small, middle, large = (_recipients_work(routed, n) for n in (2_000, 4_000, 6_000))
    assert small["input"] > 2 * ADDRESS_BUDGET
    # the stdlib parser reads only strings within the budget (the commented form), never past it
    assert large["_reference"] == small["_reference"] <= ADDRESS_BUDGET
    assert large["_fallback calls"] > small["_fallback calls"] > 0
    routes = [key for key in large if not key.endswith("calls") and key != "input"]
    assert sum(large[key] for key in routes) <= 4 * large["input"]
    for key in routes:
        assert large[key] - middle[key] <= 1.05 * (middle[key] - small[key]) + 100, key


def test_the_red_team_8kb_header_yields_800_addresses_not_640000():
    policy = load_policy(str(ROOT / "policies" / "default.yaml"))
    from engine.mail.context import RecordContext
    from engine.mail.fields import resolve

    event = json.loads((EVENTS / "partner-ticket.json").read_text(encoding="utf-8-sig"))
    event["Records"][0]["ses"]["mail"]["commonHeaders"]["from"] = ["<a@b> x@y " * 800]
    ctx = RecordContext(event["Records"][0]["ses"])
    assert len(resolve("from", False).values(ctx)) == 800
    assert len(resolve("from.name_address", False).values(ctx)) == 800    # was 640,000
    assert policy.evaluate(event).rule == "drop-display-name-spoof"


def test_same_as_builds_one_set_per_record(monkeypatch):
    """`not_same_as` over thousands of values: one key per value on each side, not one per pair."""
    from engine.mail import operators

    keyed = []
    real = operators.text_key

    def counting_key(cs):
        key = real(cs)
        return lambda text: keyed.append(1) or key(text)
    monkeypatch.setattr(operators, "text_key", counting_key)
    policy = load_policy_text("version: 1\nrules:\n  - {name: r, when: {from.display_name: {not_same_as: "
                              "to.display_name}}, disposition: STOP_RULE}\n")
    event = json.loads((EVENTS / "partner-ticket.json").read_text(encoding="utf-8-sig"))
    headers = event["Records"][0]["ses"]["mail"]["commonHeaders"]
    headers["from"] = [", ".join(f"F{i} <f{i}@x.example>" for i in range(2000))]
    headers["to"] = [", ".join(f"T{i} <t{i}@x.example>" for i in range(2000))]
    keyed.clear()
    assert policy.evaluate(event).rule == "r"
    assert len(keyed) <= 4000


class _Asked(frozenset):
    """A set that notes every lookup."""

    def __contains__(self, item):
        self.asked.append(item)
        return super().__contains__(item)


def _asked(domain: str, listed: set[str]) -> tuple[bool, list[str]]:
    wanted = _Asked(listed)
    wanted.asked = []
    return mailbox.in_domains(domain, wanted, max(map(len, listed))), wanted.asked


def test_in_domain_looks_up_a_few_short_parents_of_a_long_domain():
    assert _asked("a." * 200_000 + "example", {"corp.example"}) == (False, ["example", "a.example", "a.a.example"])
    assert _asked("a.b.example", {"x" * 100}) == (False, ["example", "b.example", "a.b.example"])
    assert _asked("a.b.example", {"b.example"}) == (True, ["example", "b.example"])
    assert _asked("badexample.com", {"example.com"}) == (False, ["com"])          # longer than any listed


# --------------------------------------------------------------------------- differential: fallback vs stdlib

_ATEXT = "abcXYZ0189!#$%&'*+/=?^_`{|}~-"
_atom = st.text(alphabet=_ATEXT, min_size=1, max_size=6)
_label = st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True)
_domain = st.lists(_label, min_size=1, max_size=3).map(".".join)
_qtext = st.lists(st.sampled_from(list("ab ,<>@.():;[]") + ['\\"', "\\\\"]), max_size=8).map("".join)
_quoted = _qtext.map(lambda t: f'"{t}"')
_ctext = st.lists(st.sampled_from(list("ab ,<>@.:;\"") + ["\\(", "\\)", "\\\\"]), max_size=8).map("".join)
_comment = st.recursive(_ctext.map(lambda t: f"({t})"),
                        lambda inner: st.tuples(_ctext, inner, _ctext).map(lambda p: f"({p[0]}{p[1]}{p[2]})"),
                        max_leaves=3)
_cfws = st.lists(st.one_of(st.sampled_from([" ", "  ", "\t"]), _comment), max_size=2).map("".join)
_local = st.one_of(st.lists(_atom, min_size=1, max_size=3).map(".".join), _quoted)
_addr_spec = st.builds(lambda c1, local, c2, c3, domain, c4: f"{c1}{local}{c2}@{c3}{domain}{c4}",
                       _cfws, _local, _cfws, _cfws, _domain, _cfws)
_encoded = st.sampled_from(["=?utf-8?q?Caf=C3=A9?=", "=?utf-8?b?SsO8cmdlbg==?=", "=?iso-8859-1?q?a=40b.example?=",
                            "=?utf-8?q?x_y?="])
_word = st.one_of(_atom, _quoted, _encoded)
_phrase = st.lists(st.tuples(_word, st.sampled_from([" ", "  ", " (c) "])), min_size=1, max_size=3).map(
    lambda words: "".join(w + gap for w, gap in words))
_mailbox = st.one_of(
    _addr_spec,
    st.builds(lambda name, c, spec, c2: f"{name}{c}<{spec}>{c2}", st.one_of(st.just(""), _phrase), _cfws,
              _addr_spec, _cfws))
_mailbox_list = st.lists(_mailbox, min_size=1, max_size=3).map(",".join)
_group = st.builds(lambda name, members, c: f"{name}:{members};{c}", _phrase, st.one_of(st.just(""), _mailbox_list),
                   _cfws)
_address_list = st.lists(st.one_of(_mailbox, _group), min_size=1, max_size=3).map(",".join)


@given(_address_list)
def test_fallback_finds_what_the_stdlib_finds_on_strings_it_parses_without_defect(raw):
    header = addresses._reference_header(raw)
    assume(header is not None and not header.defects)
    reference = addresses._reference(raw)
    assert [a.address for a in addresses._fallback(raw)] == [a.address for a in reference]


# --------------------------------------------------------------------------- plain pieces in one match

NO_PIECE = re.compile(r"(?!)")     # matches nothing: every piece goes through the character scan
_PIECE_TEXT = st.lists(st.sampled_from(['"', "(", ")", "\\", ",", "<", ">", "@", ".", " ", "a", "b", "x@y.z",
                                        "=?utf-8?q?a=40b?=", "Name", "\u00e9"]), max_size=24).map("".join)


@given(st.lists(_PIECE_TEXT, max_size=4).map(", ".join))
def test_reading_plain_pieces_whole_gives_what_the_character_scan_gives(raw):
    """The plain-piece shortcut hands the reader exactly the items the scan would (items, names, order)."""
    whole = address_fallback.fallback(raw)
    with mock.patch.object(address_fallback, "_PLAIN_PIECE", NO_PIECE):
        assert address_fallback.fallback(raw) == whole


@pytest.mark.parametrize("raw", [
    '"Smith, J (x)" (team, a) <js@x.example> (c), b@y.example',
    'ceo@corp.example (c) <attacker@evil.example>, "Q"@x.example <r@y.example>, ',
    '<a(c)@b.example>, N <c @ d . example> after, (x) "q" (y) <e@f.example> z,',
    'x@y.example, N <c@d.example>, e@f.example, "Q" <g@h.example>,',     # bare addresses keep their place
])
def test_plain_pieces_read_like_the_character_scan(monkeypatch, raw):
    whole = address_fallback.fallback(raw)
    monkeypatch.setattr(address_fallback, "_PLAIN_PIECE", NO_PIECE)
    assert address_fallback.fallback(raw) == whole and whole
