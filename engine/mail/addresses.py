"""Address parsing for address fields: a fast path, the stdlib reference parser, a linear fallback.

Spec section 3.4. Three routes give one result type:

* the FAST PATH (``re`` with possessive quantifiers only, so it cannot backtrack) takes
  the plain forms SES puts in ``commonHeaders`` -- ``a@b``, ``Name <a@b>``,
  ``"Quoted, Name" <a@b>``, comma lists of those, raw UTF-8 (RFC 6532) and strict
  RFC 2047 encoded words in unquoted names -- and must give exactly what the slow
  route below gives on everything it accepts (property-tested), declining when in doubt;
* the REFERENCE parser, ``email.headerregistry`` under ``email.policy.default``,
  takes everything else up to ``MAX_REFERENCE_LENGTH`` characters, unless it raises
  or reports a defect;
* the FALLBACK (RE2 and plain string scans, linear time) takes the rest: long or
  padded strings, broken syntax, and whatever the caller flags with ``fallback=True``
  once a record's address strings are too large in total. It is deliberately
  generous: every ``local@domain`` it sees surfaces either as an address or as a
  ``name_addresses`` entry, so padding cannot hide an address from a blocking rule.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import idna
import re2

if TYPE_CHECKING:
    from email.headerregistry import AddressHeader, HeaderRegistry

MAX_REFERENCE_LENGTH = 1000
"""Longer strings skip the reference parser, which is quadratic on some inputs."""


@dataclass(frozen=True, slots=True)
class Address:
    """One parsed mailbox; the engine derives folded and ``user+detail`` forms from it."""

    local: str                       # as written (case kept), quotes removed
    domain: str                      # normalize_domain() form
    display_name: str                # RFC 2047 encoded words decoded
    name_addresses: tuple[str, ...]  # every local@domain inside the display name

    @property
    def address(self) -> str:
        return f"{self.local}@{self.domain}"


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
    try:
        return idna.decode(label, uts46=True)
    except Exception:  # noqa: BLE001 - third-party decoder; normalize_domain must never raise
        return label.lower()


# --------------------------------------------------------------------------- shared pieces

# Not in an address token: specials, control characters (a NUL must not hide a name's address
# from in_domain) and every character Python counts as white space.
_TOKEN_CHARS = rb'[^\s\x00-\x1f\x7f\x85\pZ<>()\[\]",;:@\\]'
# A bare local@domain inside text, matched on UTF-8 bytes (the google-re2 wrapper is
# several times cheaper per match on bytes than on str). Linear in RE2; the
# quoted-local branch only runs to the next double quote.
_BARE_ADDRESS = re2.compile(rb'(?:"(?:[^"\\]|\\.)*"|' + _TOKEN_CHARS + rb"+)@" + _TOKEN_CHARS + rb"+")
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def _unquote(text: str) -> str:
    return _QUOTED_PAIR.sub(r"\1", text) if "\\" in text else text


def _encodable(text: str) -> str:
    """Lone surrogates (from surrogateescape'd bytes) replaced, since RE2 needs valid UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _bare_addresses(text: str) -> list[tuple[str, str]]:
    """Every ``local@domain`` written in free text, as (local, normalised domain)."""
    if "@" not in text:
        return []
    data = _encodable(text).encode("utf-8")
    found = []
    for match in _BARE_ADDRESS.finditer(data):
        start, end = match.span()
        local, _, domain = data[start:end].decode("utf-8", "replace").rpartition("@")
        if local.startswith('"'):
            local = _unquote(local[1:-1])
        domain = normalize_domain(domain)
        if local and domain:
            found.append((local, domain))
    return found


def _name_addresses(display_name: str) -> tuple[str, ...]:
    if "@" not in display_name:
        return ()
    return tuple(f"{local}@{domain}" for local, domain in _bare_addresses(display_name))


def _make(local: str, domain: str, display_name: str) -> Address | None:
    domain = normalize_domain(domain)
    if not local or not domain:
        return None
    return Address(local, domain, display_name, _name_addresses(display_name))


# --------------------------------------------------------------------------- fast path

# A word character: ASCII atext, or non-ASCII (RFC 6532) other than Unicode white space, C1
# controls, surrogates, non-characters and astral planes (the reference parser strips white
# space, and the fallback splits on it). Written as a negated class: the same set as the
# positive ranges, but it compiles 4x faster, which is most of this module's import time.
_WORD_CHAR = (r"[^\x00-\x20\"(),.:;<>@\[\\\]\x7f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
              r"\ud800-\udfff\ufffe\uffff\U00010000-\U0010ffff]")
_WORD = rf"{_WORD_CHAR}++"
_DOT_ATOM = rf"{_WORD}(?:\.{_WORD})*+"
_QCONTENT = r'(?:[^"\\\x00-\x1f\x7f\ud800-\udfff]|\\[^\x00-\x1f\x7f\ud800-\udfff])*+'
# One plain mailbox, anchored at the position given to match(); possessive (Python 3.11+)
# quantifiers make it backtracking-free, hence linear.
_MAILBOX = re.compile(
    rf'[ \t]*+(?:'
    rf'(?:"(?P<quoted>{_QCONTENT})"|(?P<phrase>{_WORD}(?:[ \t]++{_WORD})*+))?+'
    rf'(?P<gap>[ \t]*+)<(?P<angle_local>{_DOT_ATOM})@(?P<angle_domain>{_DOT_ATOM})>'
    rf'|(?P<local>{_DOT_ATOM})@(?P<domain>{_DOT_ATOM})'
    rf')[ \t]*+'
)
_WSP_RUN = re.compile(r"[ \t]+")

# An RFC 2047 encoded word that is a whole phrase word, in the strict form the stdlib
# decodes without a defect: Q text of atext characters and =XX escapes, B text correctly
# padded. Anything looser (raw "." or "@" in Q text, bad padding) goes the slow way.
_ENCODED_WORD_STRICT = re.compile(
    r"=\?(?P<charset>[A-Za-z0-9-]++)(?:\*[A-Za-z0-9-]++)?+\?"
    r"(?:[Qq]\?(?P<q>(?:[A-Za-z0-9!#$%&'*+/^_`{|}~-]|=[0-9A-Fa-f]{2})*+)"
    r"|[Bb]\?(?P<b>(?:[A-Za-z0-9+/]{4})*+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?+))\?=")
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
    """The reference parser's display name for an unquoted phrase; None when in doubt.

    Words are joined by one space. Encoded words are decoded, and, unlike RFC 2047 says,
    the space between two adjacent ones is kept, as ``email.headerregistry`` keeps it.
    """
    if "=?" not in phrase:
        return _WSP_RUN.sub(" ", phrase)
    words = _WSP_RUN.split(phrase)
    if not gap and "=?" in words[-1]:
        return None              # "=?..?=<a@b>": the stdlib flags the missing white space
    decoded = [_decode_phrase_word(word) if "=?" in word else word for word in words]
    return None if None in decoded else " ".join(decoded)  # type: ignore[arg-type]


def _fast_address(match: re.Match[str], like_fallback: bool) -> Address | None:
    """One matched mailbox as the slow route would give it; None when in doubt.

    ``like_fallback``: the slow route is the fallback (a raw UTF-8 local part somewhere
    in the string), which collapses white space in quoted names.
    """
    local = match["angle_local"] or match["local"]
    domain = match["angle_domain"] or match["domain"]
    quoted, phrase = match["quoted"], match["phrase"]
    if "=?" in local or "=?" in domain:
        return None              # the stdlib decodes encoded words even there
    if quoted is not None:
        if "=?" in quoted:
            return None
        name = _unquote(quoted)
        if like_fallback:
            name = " ".join(name.split())
    elif phrase is not None:
        name = _phrase_name(phrase, match["gap"])
        if name is None:
            return None
    else:
        name = ""
    return _make(local, domain, name)


def _fast(raw: str) -> list[Address] | None:
    """Plain forms only; None hands the string on to the slow route.

    Gives what the slow route gives: the reference parser's result, or, when any local
    part holds raw UTF-8 (RFC 6532; the stdlib flags NonASCIILocalPartDefect), the
    fallback's (which decodes encoded words its own way, so that mix is declined).
    """
    matches = []
    pos, end = 0, len(raw)
    while True:
        match = _MAILBOX.match(raw, pos)
        if match is None:
            return None
        matches.append(match)
        pos = match.end()
        if pos == end:
            break
        if raw[pos] != ",":
            return None
        pos += 1
    like_fallback = not all((m["angle_local"] or m["local"]).isascii() for m in matches)
    if like_fallback and "=?" in raw:
        return None
    out = []
    for match in matches:
        address = _fast_address(match, like_fallback)
        if address is None:
            return None
        out.append(address)
    return out


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
    """Addresses by email.headerregistry; None when it raises or reports any defect."""
    header = _reference_header(raw)
    if header is None or header.defects:
        return None
    out = []
    for parsed in header.addresses:
        address = _make(parsed.username, parsed.domain, parsed.display_name)
        if address is not None:
            out.append(address)
    return out


# --------------------------------------------------------------------------- fallback

_ANGLE = re2.compile(r"<([^<>]*)>")
_COMMENT = re2.compile(r"\([^()]*\)")
_ENCODED_WORD = re2.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")


def _split_outside_quotes(text: str) -> list[str]:
    """Split on commas outside double quotes, by plain string scans (linear time).

    Splitting on every quote leaves parts that alternate outside / inside a quoted
    string; a part inside quotes that ends in an odd run of backslashes escapes the
    quote after it, so the string goes on.
    """
    if '"' not in text:
        return text.split(",")
    pieces: list[str] = []
    current: list[str] = []
    inside = False
    for index, part in enumerate(text.split('"')):
        if index:
            current.append('"')
        if inside:
            current.append(part)
            inside = (len(part) - len(part.rstrip("\\"))) % 2 == 1
            continue
        first, *rest = part.split(",")
        current.append(first)
        for following in rest:
            pieces.append("".join(current))
            current = [following]
        inside = True
    pieces.append("".join(current))
    return pieces


def _angle_address(content: str) -> tuple[str, str] | None:
    """(local, domain) of an angle token's content, or None when it holds no address."""
    if "(" in content:
        content = _COMMENT.sub("", content)
    local, at, domain = content.rpartition("@")
    local, domain = local.strip(), domain.strip()
    if not at or not local or not domain or any(c.isspace() for c in domain):
        return None
    if len(local) > 1 and local[0] == local[-1] == '"':
        local = _unquote(local[1:-1])
    return (local, domain) if local else None


def _closing_quote(text: str, opening: int) -> int:
    """Index of the quote closing the quoted string opened at ``opening``, or -1.

    A quote after an odd run of backslashes is escaped (quoted pairs read left to right).
    """
    search = opening + 1
    while (close := text.find('"', search)) >= 0:
        start = close
        while start > search and text[start - 1] == "\\":   # each backslash is looked at once
            start -= 1
        if (close - start) % 2 == 0:
            return close
        search = close + 1
    return -1


def _segments(piece: str) -> list[tuple[bool, str]]:
    """(quoted, text) runs of a piece; quoted text comes without its quotes, unescaped.

    A quoted string directly followed by "@" is a quoted local part and stays with the
    unquoted text; an unclosed one runs to the end (bar a lone final backslash). A plain
    scan: one RE2 match per quoted string cost ~6 µs each from Python (8 KB of "": 25 ms).
    """
    if '"' not in piece:
        return [(False, piece)]
    out: list[tuple[bool, str]] = []
    plain = search = 0              # start of the current unquoted run; where to look for a quote
    while (opening := piece.find('"', search)) >= 0:
        close = _closing_quote(piece, opening)
        if close >= 0 and piece.startswith("@", close + 1):
            search = close + 2
            continue
        if opening > plain:
            out.append((False, piece[plain:opening]))
        if close >= 0:
            out.append((True, _unquote(piece[opening + 1:close])))
            plain = search = close + 1
        else:
            content = piece[opening + 1:]
            odd = (len(content) - len(content.rstrip("\\"))) % 2
            out.append((True, _unquote(content[:len(content) - odd])))
            plain = search = len(piece) - odd
            break
    if plain < len(piece):
        out.append((False, piece[plain:]))
    return out


def _fallback_piece(piece: str) -> list[Address]:
    """One comma-separated piece: its angle tokens are the addresses, the rest is name text."""
    name_parts: list[str] = []
    angles: list[tuple[str, str]] = []
    if "<" in piece:
        for quoted, text in _segments(piece):
            last = 0
            for angle in () if quoted else _ANGLE.finditer(text):
                found = _angle_address(angle.group(1))
                if found is not None:
                    name_parts.append(text[last:angle.start()])
                    angles.append(found)
                    last = angle.end()
            name_parts.append(text[last:])
    if not angles:
        return _bare_mailboxes(piece)
    display_name = decode_encoded_words(" ".join(" ".join(name_parts).split()))
    return [a for local, domain in angles if (a := _make(local, domain, display_name))]


def _bare_mailboxes(text: str) -> list[Address]:
    """Text without an angle address: each bare ``local@domain`` is an address."""
    return [a for local, domain in _bare_addresses(text) if (a := _make(local, domain, ""))]


def _fallback(raw: str) -> list[Address]:
    """Linear-time, best-effort split: commas outside double quotes, then angle tokens.

    Consecutive pieces holding neither a quote nor "<" are searched in one RE2 pass, not
    one per piece (~10 µs each from Python): no bare address can span their commas.
    """
    text = _encodable(raw).replace("\r", " ").replace("\n", " ")
    out: list[Address] = []
    bare: list[str] = []
    for piece in _split_outside_quotes(text):
        if '"' not in piece and "<" not in piece:
            bare.append(piece)
            continue
        if bare:
            out.extend(_bare_mailboxes(",".join(bare)))
            bare = []
        if "@" in piece:  # no "@", no address: padding is skipped cheaply
            out.extend(_fallback_piece(piece))
    if bare:
        out.extend(_bare_mailboxes(",".join(bare)))
    return out


def decode_encoded_words(text: str) -> str:
    """RFC 2047 decoding in linear time; a word that cannot be decoded stays as written.

    White space between two adjacent encoded words is dropped, as RFC 2047 says.
    """
    if "=?" not in text:
        return text
    out: list[str] = []
    last, previous_was_word = 0, False
    for match in _ENCODED_WORD.finditer(text):
        gap = text[last:match.start()]
        if not (previous_was_word and gap.isspace()):
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


# --------------------------------------------------------------------------- public API

def parse_addresses(raw: str, *, fallback: bool = False) -> list[Address]:
    """Every address in one header string (groups flattened). Never raises.

    ``fallback=True`` forces the linear fallback; the caller sets it once a record's
    address strings exceed its total budget.
    """
    if not isinstance(raw, str) or "@" not in raw:
        return []                # every route needs an "@" for an address: "" costs 17 µs in the stdlib
    if fallback or len(raw) > MAX_REFERENCE_LENGTH:
        return _fallback(raw)
    fast = _fast(raw)
    if fast is not None:
        return fast
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
