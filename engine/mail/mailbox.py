"""What every address route builds: the `Address` value, the domain normal form, name addresses.

Shared by the fast path and reference parser (`addresses.py`) and the linear fallback
(`address_fallback.py`), so all three give one result type, compared in one form.
"""
from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from typing import Callable, Iterator, NamedTuple

from engine.mail.regex import Lazy
from engine.mail.values import match_form_keep_case


class Address(NamedTuple):
    """One parsed mailbox; the engine derives folded and ``user+detail`` forms from it.

    A named tuple, immutable and without a ``__dict__``: every address of every event
    builds one, and the parsers build it with ``tuple.__new__`` (a fifth of a frozen
    dataclass's cost).
    """

    local: str                       # as written (case kept), quotes removed
    domain: str                      # normalize_domain() form
    display_name: str                # RFC 2047 encoded words decoded
    name_addresses: tuple[str, ...]  # every local@domain inside the display name's match form

    @property
    def address(self) -> str:
        return f"{self.local}@{self.domain}"


_tuple_new = tuple.__new__


# --------------------------------------------------------------------------- domains

_IDEOGRAPHIC_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_MAX_CACHED_DOMAIN = 255
"""No DNS name is longer; longer text is normalised uncached so it cannot bloat the cache."""


def normalize_domain(text: str) -> str:
    """The one form domains compare in: lowercase Unicode labels (UTS-46, non-transitional).

    A trailing root dot is dropped (``example.com.`` is the same DNS name as
    ``example.com``, and a blocking rule must not miss it). Each label goes through
    IDNA on its own so that one label IDNA rejects (``my_host``) stays as lowercased
    text without spoiling the others. Cached: the same few domains recur in every event.
    """
    if len(text) > _MAX_CACHED_DOMAIN:
        return _normalize_domain(text)
    return _normalize_domain_cached(text)


def _normalize_domain(text: str) -> str:
    if text.isascii():
        lowered = text.lower()
        if "xn--" not in lowered:
            return lowered.rstrip(".")   # what the label-by-label route gives ASCII labels
    labels = text.translate(_IDEOGRAPHIC_DOTS).split(".")
    while len(labels) > 1 and not labels[-1]:
        labels.pop()
    return ".".join(_normalize_label(label) for label in labels)


_normalize_domain_cached = lru_cache(maxsize=8192)(_normalize_domain)


def _normalize_label(label: str) -> str:
    if not label:
        return label
    if label.isascii() and label[:4].lower() != "xn--":
        return label.lower()     # what UTS-46 gives an ASCII label, accepted or not, 100x cheaper
    import idna   # on the first non-ASCII or punycode label: a cold start rarely meets one
    try:
        return idna.decode(label, uts46=True)
    except Exception:  # noqa: BLE001 - third-party decoder; normalize_domain must never raise
        return label.lower()


def in_domains(domain: str, wanted: frozenset[str], longest: int) -> bool:
    """``domain`` or one of its parents on a label boundary is in ``wanted``, whose entries are at
    most ``longest`` long.

    Only suffixes that could equal a listed domain are cut (``a.b.example``: ``example``,
    ``b.example``, ``a.b.example``, as long as they are short enough), so a domain of 200,000
    labels costs a few short slices, not one copy of its rest per label.
    """
    end = len(domain)
    dot = end
    while True:
        dot = domain.rfind(".", 0, dot)
        if end - dot - 1 > longest:
            return False
        if domain[dot + 1:] in wanted:
            return True
        if dot < 0:
            return False


SHORT_DOMAIN_LIST = 16
"""Up to this many domains, `in_domain` asks `str.endswith` of them all at once (two C calls);
past it, it walks the value's labels with one set lookup each, whatever the list's length."""


def within_domains(wanted: frozenset[str]) -> Callable[[str], bool]:
    """Whether a domain in normal form is in `wanted` or under one of them on a label boundary."""
    if len(wanted) <= SHORT_DOMAIN_LIST:
        suffixes = tuple("." + domain for domain in wanted)   # a parent on a label boundary: ".parent" ends it
        return lambda domain: domain in wanted or domain.endswith(suffixes)
    longest = max(map(len, wanted))
    return lambda domain: in_domains(domain, wanted, longest)


# --------------------------------------------------------------------------- shared pieces

# Not in an address token: specials, control characters (a NUL must not hide a name's address
# from in_domain) and every character Python counts as white space.
TOKEN_CHARS = rb'[^\s\x00-\x1f\x7f\x85\pZ<>()\[\]",;:@\\]'
# A local@domain inside a display name's match form. A quoted local part runs to the next
# double quote, escapes not honoured: with them, a run of escaped quotes (`a@b\"a@b\"...`) kept
# a search alive to the end of the text once per quote, which made the scan quadratic.
# Python's `re`, linear here: quantifiers are possessive, and an unquoted local part may only
# start where a run of token characters starts (what RE2's leftmost-first search gives too, since
# the domain's run ends a match), so no run is read twice. The token class is TOKEN_CHARS for
# `re` on str (tests/test_mailbox.py compares them on every code point); a name's search costs
# about a third of the google-re2 wrapper's (its Python objects per search and match).
_TOKEN_CHAR = r'[^\s\x00-\x1f\x7f\x85<>()\[\]",;:@\\]'
_NAME_ADDRESS = re.compile(rf'(?:"[^"]*+"|(?<!{_TOKEN_CHAR}){_TOKEN_CHAR}++)@{_TOKEN_CHAR}++')
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_MAX_CACHED_NAME = 256


def unquote(text: str) -> str:
    return _QUOTED_PAIR.sub(r"\1", text) if "\\" in text else text


def encodable(text: str) -> str:
    """Lone surrogates (from surrogateescape'd bytes) replaced, since RE2 needs valid UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def address_tokens(pattern, text: str) -> Iterator[tuple[str, str]]:
    """Every ``local@domain`` ``pattern`` finds in ``text``, as (local, domain as written).

    White space (the fallback's pattern allows it around ``@`` and ``.``) is removed from
    the token, outside a quoted local part; the quotes of a quoted local part are removed.
    """
    text = encodable(text)
    on_bytes = isinstance(pattern.pattern, bytes)     # RE2 programs here run on UTF-8
    for match in pattern.finditer(text.encode("utf-8") if on_bytes else text):
        token = match.group(0)
        local, _, domain = (token.decode("utf-8", "replace") if on_bytes else token).rpartition("@")
        domain = "".join(domain.split())
        local = local.strip()
        if local.startswith('"') and local.endswith('"') and len(local) > 1:
            local = unquote(local[1:-1])
        else:
            local = "".join(local.split())
        if local and domain:
            yield local, domain


def name_addresses(display_name: str) -> tuple[str, ...]:
    """Every local@domain written in a display name, found in its match form, so a
    full-width ``＠`` or a zero-width space inside the address does not hide it. Cached: a
    hostile header repeats one short name thousands of times."""
    if display_name.isascii() and "@" not in display_name:
        return ()
    if len(display_name) > _MAX_CACHED_NAME:
        return _name_addresses(display_name)
    return _name_addresses_cached(display_name)


def _name_addresses(display_name: str) -> tuple[str, ...]:
    text = match_form_keep_case(display_name)
    if "@" not in text:
        return ()
    found = ((local, normalize_domain(domain)) for local, domain in address_tokens(_NAME_ADDRESS, text))
    return tuple(f"{local}@{domain}" for local, domain in found if domain)


_name_addresses_cached = lru_cache(maxsize=4096)(_name_addresses)


def make(local: str, domain: str, display_name: str) -> Address | None:
    """One address; `normalize_domain` and `name_addresses` inline for the usual domain and name
    (every address of every event is made here)."""
    domain = _normalize_domain_cached(domain) if len(domain) <= _MAX_CACHED_DOMAIN else _normalize_domain(domain)
    if not local or not domain:
        return None
    if not display_name or (display_name.isascii() and "@" not in display_name):
        return _tuple_new(Address, (local, domain, display_name, ()))
    return _tuple_new(Address, (local, domain, display_name, name_addresses(display_name)))


# --------------------------------------------------------------------------- RFC 2047

# Python's `re` (the google-re2 wrapper's search costs ~15 µs a word from Python), linear here: a
# match can only start at "=?", and its two runs stop at the next "?", so no character is read
# by more than two attempts and nothing backtracks. `[^?\t\n\f\r ]` is RE2's `[^?\s]` (RE2's
# `\s` is ASCII); tests/test_addresses.py compares the two on generated text.
_ENCODED_WORD = Lazy(r"=\?([^?\t\n\f\r ]++)\?([BbQq])\?([^?\t\n\f\r ]*+)\?=", compile=re.compile)


def decode_encoded_words(text: str) -> str:
    """RFC 2047 decoding in linear time; a word that cannot be decoded stays as written.

    White space between two adjacent encoded words is dropped (RFC 2047 6.2).
    """
    if "=?" not in text:
        return text
    out: list[str] = []
    last, previous_was_word = 0, False
    for match in _ENCODED_WORD.finditer(text):
        gap = text[last:match.start()]
        if not (previous_was_word and (not gap or gap.isspace())):
            out.append(gap)
        decoded = _decode_word(*match.groups())
        out.append(match.group(0) if decoded is None else decoded)
        previous_was_word = decoded is not None
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def _decode_word(charset: str, encoding: str, payload: str) -> str | None:
    charset = charset.partition("*")[0]  # RFC 2231 language tag
    try:
        if encoding in "Bb":
            data = base64.b64decode(payload + "=" * (-len(payload) % 4))
        else:
            data = binascii.a2b_qp(payload.encode("latin-1"), header=True)
        return data.decode(charset, "replace")
    except (LookupError, UnicodeError, ValueError):
        return None
