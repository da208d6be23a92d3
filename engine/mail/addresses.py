"""Address parsing for address fields: a fast path, the stdlib reference parser, a linear fallback.

docs/policy-language.md, "Address parts". Three routes give one result type (``mailbox.Address``):

* the FAST PATH (``re`` with possessive quantifiers only, so it cannot backtrack) takes
  the plain forms SES puts in ``commonHeaders`` -- ``a@b``, ``Name <a@b>``,
  ``"Quoted, Name" <a@b>``, comma lists of those, raw UTF-8 (RFC 6532) and strict
  RFC 2047 encoded words in unquoted names -- and must give exactly what the slow
  route below gives on everything it accepts (property-tested), declining when in doubt;
* the REFERENCE parser, ``email.headerregistry`` under ``email.policy.default``,
  takes everything else up to ``MAX_REFERENCE_LENGTH`` characters, unless it raises
  or reports a defect other than ``ObsoleteHeaderDefect`` (obsolete syntax such as a
  leading comma is parsed right, and the fallback must not be the one to read it);
* the FALLBACK (``address_fallback.py``, linear time and memory) takes the rest: long
  or padded strings, broken syntax, and whatever the caller flags with ``fallback=True``
  once a record's address strings are too large in total.

On every route the white space between two adjacent RFC 2047 encoded words is dropped
(RFC 2047 6.2), which ``email.headerregistry`` does not do in display names.
"""
from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from engine.mail.address_fallback import fallback as _fallback
from engine.mail.mailbox import (
    Address, decode_encoded_words, encodable, in_domains, make as _make, normalize_domain,
    unquote as _unquote,
)
from engine.mail.regex import Lazy

if TYPE_CHECKING:
    from email.headerregistry import AddressHeader, HeaderRegistry

_tuple_new = tuple.__new__

__all__ = ["Address", "MAX_REFERENCE_LENGTH", "all_bare", "bare_lower", "in_domains", "normalize_domain", "parse_addresses",
           "parse_literal"]

MAX_REFERENCE_LENGTH = 1000
"""Longer strings skip the reference parser, which is quadratic on some inputs."""


# --------------------------------------------------------------------------- fast path

# A word character: ASCII atext, or non-ASCII (RFC 6532) other than Unicode white space, C1
# controls, surrogates, non-characters and astral planes (the reference parser strips white
# space, and the fallback splits on it). Written as a negated class: the same set as the
# positive ranges, but it compiles 4x faster, which is most of this module's import time.
_WORD_CHAR = (r"[^\x00-\x20\"(),.:;<>@\[\\\]\x7f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
              r"\ud800-\udfff\ufffe\uffff\U00010000-\U0010ffff]")
_WORD = rf"{_WORD_CHAR}++"
_DOT_ATOM = rf"{_WORD}(?:\.{_WORD})*+"
# Quoted-string content: runs of plain characters between escape pairs (unrolled: a third faster
# than one alternation per character, and the same strings).
_QTEXT = r'[^"\\\x00-\x1f\x7f\ud800-\udfff]*+'
_QCONTENT = rf'{_QTEXT}(?:\\[^\x00-\x1f\x7f\ud800-\udfff]{_QTEXT})*+'


# One plain mailbox, anchored at the position given to match(); possessive (Python 3.11+)
# quantifiers make it backtracking-free, hence linear.
# `re` compiles the Unicode word class in 5 ms (`_KNOWN_DEFECTIVE` in 1.4): patterns compiled at
# first use, a cold start's cost that ASCII mail never needs.
_MAILBOX_PATTERN = (
    rf'[ \t]*+(?:'
    rf'(?:"(?P<quoted>{_QCONTENT})"|(?P<phrase>{_WORD}(?:[ \t]++{_WORD})*+))?+'
    rf'(?P<gap>[ \t]*+)<(?P<angle_local>{_DOT_ATOM})@(?P<angle_domain>{_DOT_ATOM})>'
    rf'|(?P<local>{_DOT_ATOM})@(?P<domain>{_DOT_ATOM})'
    rf')[ \t]*+'
)
_MAILBOX = Lazy(_MAILBOX_PATTERN, compile=re.compile)
# The same pattern for ASCII text, where the word class is exactly atext: a fifth faster.
_MAILBOX_ASCII = re.compile(_MAILBOX_PATTERN.replace(_WORD_CHAR, r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"))
_WSP_RUN = re.compile(r"[ \t]+")
# A bare ASCII addr-spec, the form of the envelope sender and of nearly every recipient: the
# mailbox pattern's second branch with ASCII word characters (atext) only and no white space.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_ADDR_SPEC = rf"{_ATEXT}++(?:\.{_ATEXT}++)*+@{_ATEXT}++(?:\.{_ATEXT}++)*+"
_BARE_ASCII = re.compile(_ADDR_SPEC)
_BARE_LIST = re.compile(rf"{_ADDR_SPEC}(?:,{_ADDR_SPEC})*+")
# Shapes the reference parser always reports a defect on (property-tested), so their result is
# the fallback's: asking the stdlib first would cost 100-300 µs a string to learn nothing.
_KNOWN_DEFECTIVE = Lazy((
    rf"[ \t]*+(?:"
    rf"(?P<spoof>{_ADDR_SPEC}[ \t]++<{_ADDR_SPEC}>)"   # an address before an angle address (the spoof form)
    rf"|(?P<run>{_ADDR_SPEC}(?:[ \t]++{_ADDR_SPEC})++)"   # addresses without commas between them
    rf"|(?P<named>(?:{_ATEXT}++[ \t]++)++{_ADDR_SPEC})"     # a name, then an address without angle brackets
    rf"|(?=[^@]*\.\.){_ATEXT}++(?:\.++{_ATEXT}++)++@{_ATEXT}++(?:\.{_ATEXT}++)*+"   # ".." in a local part
    rf")[ \t]*+"), compile=re.compile)
# A quoted display name starting with a base64 encoded word: the stdlib decodes it and flags
# "encoded word inside quoted string" (its most expensive defect: ~0.5 ms a string).
_ENCODED_IN_QUOTES = Lazy((
    rf'[ \t]*+"(?P<quoted>[ \t]*+=\?[A-Za-z0-9_-]++\?[Bb]\?[A-Za-z0-9+/]*+=*+\?=[^"\\\x00-\x1f\x7f]*+)"'
    rf"[ \t]*+<(?P<angle>{_ADDR_SPEC})>[ \t]*+"), compile=re.compile)

# An RFC 2047 encoded word that is a whole phrase word, in the strict form the stdlib
# decodes without a defect: Q text of atext characters and =XX escapes, B text correctly
# padded. Anything looser (raw "." or "@" in Q text, bad padding) goes the slow way.
_ENCODED_WORD_STRICT = Lazy((
    r"=\?(?P<charset>[A-Za-z0-9-]++)(?:\*[A-Za-z0-9-]++)?+\?"
    r"(?:[Qq]\?(?P<q>(?:[A-Za-z0-9!#$%&'*+/^_`{|}~-]|=[0-9A-Fa-f]{2})*+)"
    r"|[Bb]\?(?P<b>(?:[A-Za-z0-9+/]{4})*+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?+))\?="), compile=re.compile)
_STRICT_CHARSETS = frozenset(
    ["utf-8", "us-ascii"]
    + [f"iso-8859-{n}" for n in range(1, 17) if n != 12]
    + [f"windows-{n}" for n in range(1250, 1259)])
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
# In decoded text the stdlib turns a space or tab and all white space after it (str.lstrip)
# into one space; other characters it reports as a defect (NonPrintableDefect) or refuses.
_DECODED_FWS = re.compile(r"[ \t]\s*")
_NON_PRINTABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _decode_phrase_word(word: str) -> str | None:
    """An encoded word as the reference parser decodes it in a phrase; None when in doubt.

    Its decoding: strict charset; a space or tab and the white space after it become one space.
    """
    match = _ENCODED_WORD_STRICT.fullmatch(word)
    if match is None or match["charset"].lower() not in _STRICT_CHARSETS:
        return None
    try:
        if match["b"] is not None:
            data = base64.b64decode(match["b"], validate=True)
        else:
            data = _Q_ESCAPE.sub(lambda m: bytes.fromhex(m[1].decode()),
                                 match["q"].encode().replace(b"_", b" "))
        text = data.decode(match["charset"].lower())
    except (binascii.Error, UnicodeDecodeError):
        return None
    text = _DECODED_FWS.sub(" ", text)
    return None if _NON_PRINTABLE.search(text) else text


def _phrase_name(phrase: str, gap: str) -> str | None:
    """The reference route's display name for an unquoted phrase; None when in doubt.

    Words are joined by one space, encoded words decoded, and two adjacent encoded words
    joined without one (RFC 2047 6.2).
    """
    if "=?" not in phrase:
        return phrase if "\t" not in phrase and "  " not in phrase else _WSP_RUN.sub(" ", phrase)
    words = _WSP_RUN.split(phrase)
    if not gap and "=?" in words[-1]:
        return None              # "=?..?=<a@b>": the stdlib flags the missing white space
    name: list[str] = []
    previous_encoded = False
    for word in words:
        encoded = "=?" in word
        text = _decode_phrase_word(word) if encoded else word
        if text is None:
            return None
        if name and not (encoded and previous_encoded):
            name.append(" ")
        name.append(text)
        previous_encoded = encoded
    return "".join(name)


def _fast_address(groups: tuple, like_fallback: bool) -> Address | None:
    """One matched mailbox (its ``_MAILBOX`` groups) as the slow route would give it; None when
    in doubt.

    ``like_fallback``: the slow route is the fallback (a raw UTF-8 local part somewhere
    in the string), which collapses white space in quoted names.
    """
    quoted, phrase, gap, angle_local, angle_domain, local, domain = groups
    local = angle_local or local
    domain = angle_domain or domain
    if "=?" in local or "=?" in domain:
        return None              # the stdlib decodes encoded words even there
    if quoted is not None:
        if "=?" in quoted:
            return None
        name = _unquote(quoted)
        if like_fallback:
            name = " ".join(name.split())
    elif phrase is not None:     # a plain phrase (no encoded word, single spaces) is its own name
        name = phrase if "=?" not in phrase and "\t" not in phrase and "  " not in phrase else _phrase_name(phrase, gap)
        if name is None:
            return None
    else:
        name = ""
    return _make(local, domain, name)


def _bare(raw: str) -> list[Address] | None:
    """A bare ASCII ``local@domain``, as every route reads it, without their general patterns."""
    if _BARE_ASCII.fullmatch(raw) is None or "=?" in raw:
        return None
    at = raw.rindex("@")
    domain = raw[at + 1:].lower()       # an atext domain's normal form, unless a label is IDNA's
    if "xn--" in domain:
        domain = normalize_domain(raw[at + 1:])
    return [_tuple_new(Address, (raw[:at], domain, "", ()))] if domain else None


def bare_lower(raw: str) -> str | None:
    """A bare ASCII ``local@domain`` without an IDNA label, lower-cased; None for any other
    string. Every route reads such a string as the one address ``_bare`` makes, whose local part
    is ``raw``'s and whose domain is the lower-cased text after the last "@": a part of it is
    a slice of this (the envelope sender's parts without building an address)."""
    if _BARE_ASCII.fullmatch(raw) is None:
        return None
    lowered = raw.lower()
    return None if "=?" in lowered or "xn--" in lowered else lowered


def all_bare(strings: list[str]) -> bool:
    """Whether every string is one bare address as ``_bare`` reads it, without building them (to
    count them): one match over the strings joined with commas, which no addr-spec holds. An
    ASCII domain without an IDNA label (``xn--``) is lower-cased, never emptied, by normalisation;
    no "=?" or "--" can span two strings."""
    if len(strings) == 1:                   # one recipient, the usual: no list to join
        (raw,) = strings
        return _BARE_ASCII.fullmatch(raw) is not None and "=?" not in raw and ("--" not in raw or _bare(raw) is not None)
    joined = ",".join(strings)
    if joined.count(",") != len(strings) - 1 or _BARE_LIST.fullmatch(joined) is None or "=?" in joined:
        return False
    return "--" not in joined or all(_bare(raw) is not None for raw in strings)


def _fast(raw: str) -> list[Address] | None:
    """Plain forms only; None hands the string on to the slow route.

    Gives what the slow route gives: the reference parser's result, or, when any local
    part holds raw UTF-8 (RFC 6532; the stdlib flags NonASCIILocalPartDefect), the
    fallback's (which decodes encoded words its own way, so that mix is declined).
    """
    bare = _bare(raw)
    return bare if bare is not None else _plain_mailboxes(raw)


def _plain_mailboxes(raw: str) -> list[Address] | None:
    """``_fast`` past the bare address: a comma list of plain mailboxes."""
    if raw.isascii():
        whole = _MAILBOX_ASCII.fullmatch(raw)      # one ASCII mailbox, the usual: its local part is ASCII
        if whole is not None:
            address = _fast_address(whole.groups(), False)
            return None if address is None else [address]
        mailbox = _MAILBOX_ASCII
    else:
        mailbox = _MAILBOX
    match = mailbox.match(raw)
    if match is None:
        return None
    if match.end() == len(raw):             # one mailbox, the common case: no list to build
        groups = match.groups()
        like_fallback = not (groups[3] or groups[5]).isascii()
        if like_fallback and "=?" in raw:
            return None
        address = _fast_address(groups, like_fallback)
        return None if address is None else [address]
    found = [match.groups()]
    pos, end = match.end(), len(raw)
    while True:
        if raw[pos] != ",":
            return None
        match = mailbox.match(raw, pos + 1)
        if match is None:
            return None
        found.append(match.groups())
        pos = match.end()
        if pos == end:
            break
    like_fallback = not all((groups[3] or groups[5]).isascii() for groups in found)
    if like_fallback and "=?" in raw:
        return None
    out = []
    for groups in found:
        address = _fast_address(groups, like_fallback)
        if address is None:
            return None
        out.append(address)
    return out


def _known_defective(raw: str) -> list[Address] | None:
    """The fallback's reading of a shape the reference parser always flags; None for other strings.

    The plain shapes are read here as the fallback reads them, without its scan: an encoded
    word in quotes names the angle address (the quoted text, white space collapsed, decoded);
    the spoof form's first address names the second; a run of words and addresses without
    angle brackets or commas is its addresses. Property-tested against the fallback."""
    if "=?" in raw:
        match = _ENCODED_IN_QUOTES.fullmatch(raw)
        if match is None:
            return None
        name = decode_encoded_words(" ".join(encodable(match["quoted"]).split()))
        return _made(*match["angle"].rsplit("@", 1), name)
    match = _KNOWN_DEFECTIVE.fullmatch(raw)
    if match is None:
        return None
    if match["spoof"] is not None:
        name, angle = match["spoof"].split()
        return _made(*angle[1:-1].rsplit("@", 1), name)
    if match["run"] is None and match["named"] is None:
        return _fallback(raw)
    out = []
    for word in raw.split():
        if "@" in word:
            out += _made(*word.rsplit("@", 1), "")
    return out


def _made(local: str, domain: str, name: str) -> list[Address]:
    address = _make(local, domain, name)
    return [] if address is None else [address]


def _fast_like_fallback(raw: str) -> list[Address] | None:
    """Plain forms as the fallback reads them (its display names have their white space
    collapsed), for strings the reference parser must not see; None hands them to it.

    Addresses are made as mailboxes are matched, so memory stays that of the result however
    many mailboxes come before a form the fallback must read."""
    if "=?" in raw:
        return None              # the fallback decodes encoded words its own way
    bare = _bare(raw)
    if bare is not None:
        return bare
    mailbox = _MAILBOX_ASCII if raw.isascii() else _MAILBOX
    out = []
    pos, end = 0, len(raw)
    while True:
        match = mailbox.match(raw, pos)
        address = None if match is None else _fast_address(match.groups(), True)
        if address is None:
            return None
        out.append(address)
        pos = match.end()
        if pos == end:
            return out
        if raw[pos] != ",":
            return None
        pos += 1


# --------------------------------------------------------------------------- reference parser

_LINE_BREAKS = re.compile(r"\r|\n")


@lru_cache(maxsize=1)
def _registry() -> HeaderRegistry:
    """Imported on first use: ~8 ms of every cold start, and only strings the fast path
    declines (and address literals that are not bare addr-specs) need it."""
    from email.headerregistry import HeaderRegistry
    return HeaderRegistry()


def _reference_header(raw: str) -> AddressHeader | None:
    """The stdlib header object, unfolded as policy.default does; None when the parser raises."""
    registry = _registry()
    try:
        return registry("to", _LINE_BREAKS.sub("", raw))
    except Exception:  # noqa: BLE001 - the stdlib parser raises assorted errors on bad input
        return None


def _reference(raw: str) -> list[Address] | None:
    """Addresses by email.headerregistry; None when it raises or reports a defect that is
    not an ``ObsoleteHeaderDefect``."""
    header = _reference_header(raw)
    if header is None:
        return None
    if header.defects:
        from email.errors import ObsoleteHeaderDefect  # loaded with the parser
        if not all(isinstance(defect, ObsoleteHeaderDefect) for defect in header.defects):
            return None
    out = []
    for local, domain, name in _mailboxes(header, "=?" in raw):
        address = _make(local, domain, name)
        if address is not None:
            out.append(address)
    return out


def _mailboxes(header: AddressHeader, encoded: bool) -> list[tuple[str, str, str]]:
    """(local part, domain, display name) of every mailbox, as ``header.addresses`` has them,
    but with the white space between adjacent encoded words of a display name dropped
    (RFC 2047 6.2), read from the parse tree the header keeps."""
    if not encoded:
        return [(a.username, a.domain, a.display_name) for a in header.addresses]
    out = []
    for address in header._parse_tree.addresses:  # noqa: SLF001 - the only view of the words
        for mailbox in address.all_mailboxes:
            _join_encoded_words(mailbox)
            out.append((mailbox.local_part or "", mailbox.domain or "", mailbox.display_name or ""))
    return out


def _join_encoded_words(mailbox) -> None:
    """Drop the white space (and comments) between two adjacent encoded words of the display
    name, in place: the stdlib keeps the trailing white space of each word inside its atom."""
    name_addr = mailbox[0] if mailbox and mailbox[0].token_type == "name-addr" else None
    if name_addr is None or len(name_addr) < 2 or name_addr[0].token_type != "display-name":
        return
    words = [w for w in name_addr[0] if isinstance(w, list)]
    for first, second in zip(words, words[1:]):
        if _edge_word(first, -1) and _edge_word(second, 0):
            while first and first[-1].token_type == "cfws":
                del first[-1]
            while second and second[0].token_type == "cfws":
                del second[0]


def _edge_word(word, end: int) -> bool:
    """Whether the first (end=0) or last (end=-1) non-white part of a phrase word is an encoded word."""
    parts = [part for part in word if part.token_type != "cfws"]
    return bool(parts) and parts[end].token_type == "encoded-word"


# --------------------------------------------------------------------------- public API

def parse_addresses(raw: str, *, fallback: bool = False) -> list[Address]:
    """Every address in one header string (groups flattened). Never raises.

    ``fallback=True`` forces the linear fallback; the caller sets it once a record's
    address strings exceed its total budget.
    """
    if not isinstance(raw, str) or "@" not in raw:
        return []                # every route needs an "@" for an address: "" costs 17 µs in the stdlib
    if "<" not in raw:           # an angle address is never bare: no match to try
        bare = _bare(raw)        # every route reads a bare address alike (property-tested)
        if bare is not None:
            return bare
    if fallback or len(raw) > MAX_REFERENCE_LENGTH:
        fast = _fast_like_fallback(raw)
        return fast if fast is not None else _fallback(raw)
    fast = _plain_mailboxes(raw)
    if fast is not None:
        return fast
    known = _known_defective(raw)
    if known is not None:
        return known
    reference = _reference(raw)
    return reference if reference is not None else _fallback(raw)


def parse_literal(text: str) -> Address | None:
    """A policy literal that must be exactly one mailbox, cleanly parsed; otherwise None.

    Stricter than event parsing on purpose: an ambiguous literal such as
    ``alice@x.example <bob@y.example>`` is an error for the author to fix, not
    something to guess at. Raw UTF-8 local parts (RFC 6532) are accepted.
    """
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_REFERENCE_LENGTH:
        return None
    fast = _fast(text) if "<" not in text else None
    if fast is not None and len(fast) == 1 and not fast[0].display_name:
        return fast[0]           # a bare addr-spec; the fast path agrees with the reference parser
    header = _reference_header(text)
    if header is None or len(header.groups) != 1 or header.groups[0].display_name is not None:
        return None
    if len(header.addresses) != 1:
        return None
    from email.errors import NonASCIILocalPartDefect  # loaded with the parser above
    if any(not isinstance(defect, NonASCIILocalPartDefect) for defect in header.defects):
        return None
    (parsed,) = header.addresses
    return _make(parsed.username, parsed.domain, parsed.display_name)
