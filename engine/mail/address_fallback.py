"""The linear-time address fallback: long, padded or broken header strings.

One left-to-right scan over the special characters (``"`` ``(`` ``)`` ``\\`` ``,`` ``<``
``>``) splits the string the way a mail client reads it:

* comments are removed (nested, with ``\\`` escapes; a ``"`` inside a comment is comment
  text), each leaving one space, so an address written in a comment never counts;
* the string is split on commas outside quotes and comments; empty elements (the obsolete
  leading comma) are harmless;
* in each piece an ``<local@domain>`` token is an address, and the text before it since the
  previous one is its display name (so a piece yields one display name per address, and the
  name addresses of a field are at most the addresses written); text after the last one is
  added to that one's name. A piece without an angle address takes its bare tokens as
  addresses. White space around ``@`` and ``.`` in an address is removed.

Plain pieces (``"Name" (comment) <a@b>,``: one quoted string, comments not nested, no
escapes) are read in one match each, handing the reader what the character scan would.

An unclosed quote or comment is not a quote or comment: the scan goes back to it once and
reads on with that kind of bracket switched off, so padding cannot hide what follows it.
Quoted text is display-name text; a quoted string followed by ``@`` is a quoted local part.
"""
from __future__ import annotations

import re

from engine.mail.mailbox import (
    TOKEN_CHARS, Address, address_tokens, decode_encoded_words, encodable, make, unquote,
)
from engine.mail.regex import Lazy

PLAIN, QUOTED, ANGLE = 0, 1, 2     # kinds of a piece's items

# One special character per match: a single character class cannot backtrack.
_SPECIALS = re.compile(r'[\\"(),<>]')
_WSP = rb"[ \t]*"
_LOCAL_WORD = rb'(?:"(?:[^"\\]|\\.)*"|' + TOKEN_CHARS + rb"+)"
# A bare address in unquoted text, white space allowed around "@" and ".". Linear in RE2; in
# unquoted text every double quote belongs to a closed quoted local part (the scan sees to it),
# so the quoted branch only runs to that part's closing quote.
_BARE_ADDRESS = Lazy(
    _LOCAL_WORD + rb"(?:" + _WSP + rb"\." + _WSP + _LOCAL_WORD + rb")*" + _WSP + rb"@" + _WSP
    + rb"(?:\[[^\[\]\\\s]*\]|" + TOKEN_CHARS + rb"+(?:" + _WSP + rb"\." + _WSP + TOKEN_CHARS + rb"+)*)")
# Text outside quotes and angle brackets: no special character but closed, unnested comments.
_PLAIN_PART = r'(?:[^\\"(),<>]++|\([^\\()]*+\))*+'
_PLAIN_PIECE = re.compile(rf'({_PLAIN_PART})(?:"([^"\\]*+)"({_PLAIN_PART}))?+<({_PLAIN_PART})>({_PLAIN_PART}),')
_COMMENT = re.compile(r"\([^\\()]*+\)")
_SPACE_BY_ADDRESS = re.compile(r"[ \t][@.]|[@.][ \t]")
_SPACE_OR_QUOTE = re.compile(r'[\s"]')


class _Reader:
    """Turns the scan's items into addresses as they come, holding only the current piece's state
    (memory stays a small multiple of the input however many addresses a piece holds)."""

    def __init__(self) -> None:
        self.out: list[Address] = []
        self.bare: list[str] = []       # unquoted text of pieces without an angle address, in order
        self.made: dict[tuple[str, str, str], Address | None] = {}
        self.new_piece()

    def new_piece(self) -> None:
        self.name: list[str] = []                  # name text since the last angle address
        self.pending: tuple[tuple[str, str], list[str]] | None = None   # the last angle address
        self.texts: list[str] | None = []          # the piece's unquoted text, until an angle address
        self.quoted: str | None = None             # a quoted string: a local part if "@" follows

    def add(self, kind: int, text: str) -> None:
        if self.quoted is not None:
            quoted, self.quoted = self.quoted, None
            if kind == PLAIN and text.lstrip(" \t").startswith("@"):
                text = _requote(quoted) + text     # a quoted local part (comments between allowed)
            else:
                self.name.append(quoted)
        if kind == QUOTED:
            self.quoted = text
            return
        if kind == ANGLE and (found := _angle_address(text)) is not None:
            self.finish_pending()
            self.pending, self.name, self.texts = (found, self.name), [], None
            return
        if self.texts is not None:
            self.texts.append(text)
        if kind == PLAIN and text:
            self.name.append(_tidy(text))

    def plain_piece(self, before: str, quoted: str | None, between: str | None, angle: str, after: str) -> None:
        """A whole plain piece, `before "quoted" between <angle> after,` (comments removed): its items
        one by one, or, for the usual piece (a new one, an angle address, no quoted local part), its
        address at once, named as those items would name it."""
        found = _angle_address(angle)
        if found is None or self.pending is not None or self.quoted is not None or self.name or self.texts \
                or (quoted is not None and between.lstrip(" \t").startswith("@")):
            self.add(PLAIN, before)
            if quoted is not None:
                self.add(QUOTED, quoted)
                self.add(PLAIN, between)
            self.add(ANGLE, angle)
            self.add(PLAIN, after)
            self.end_piece()
            return
        name = [_tidy(before)] if before else []
        if quoted is not None:
            name.append(quoted)
            if between:
                name.append(_tidy(between))
        if after:
            name.append(_tidy(after))
        self.flush_bare()
        self.emit(*found, _display_name(name))

    def end_piece(self) -> None:
        if self.quoted is not None:
            self.name.append(self.quoted)
        if self.pending is not None:
            self.pending[1].extend(self.name)       # text after the last address names that one
            self.finish_pending()
        elif self.texts:
            self.bare.extend(self.texts)
        self.new_piece()

    def finish_pending(self) -> None:
        """The pending angle address, named by the text before it, goes out (after the bare
        addresses of the pieces before its own)."""
        if self.pending is None:
            return
        (local, domain), name = self.pending
        self.pending = None
        self.flush_bare()
        self.emit(local, domain, _display_name(name))

    def emit(self, local: str, domain: str, display_name: str) -> None:
        key = (local, domain, display_name)
        # The value is immutable: a header repeating one mailbox holds one object, not thousands.
        address = self.made[key] if key in self.made else self.made.setdefault(key, make(*key))
        if address is not None:
            self.out.append(address)

    def flush_bare(self) -> None:
        """The bare tokens of the pieces without an angle address, as addresses. Consecutive
        pieces are searched in one RE2 pass, not one per piece (~10 µs each from Python): no
        bare address can span their commas."""
        joined = ",".join(self.bare)
        self.bare = []
        if "@" in joined:
            for local, domain in address_tokens(_BARE_ADDRESS, joined):
                self.emit(local, domain, "")


def _requote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Scan:
    """The state of one scan: the current unquoted run, handed to a reader item by item."""

    def __init__(self, text: str, reader: _Reader):
        self.text = text
        self.reader = reader
        self.run: list[str] = []        # the unquoted text of the current run, comments removed
        self.start = 0                  # where the unflushed part of the run starts in text
        self.angle: int | None = None   # index in `run` where an open "<" starts its content

    def flush(self, end: int, then: int, filler: str = "") -> None:
        """Move text[start:end] (and `filler`) into the run; go on at `then`."""
        self.run.append(self.text[self.start:end])
        if filler:
            self.run.append(filler)
        self.start = then

    def close_run(self) -> None:
        self.reader.add(PLAIN, "".join(self.run))
        self.run, self.angle = [], None

    def close_angle(self) -> None:
        self.reader.add(PLAIN, "".join(self.run[:self.angle]))
        self.reader.add(ANGLE, "".join(self.run[self.angle:]))
        self.run, self.angle = [], None

    def close_piece(self) -> None:
        self.close_run()
        self.reader.end_piece()


def _read(text: str) -> list[Address]:
    """The addresses of a header string, in one scan (see the module docstring)."""
    reader = _Reader()
    scan = _Scan(text, reader)
    pos, quotes, comments = 0, True, True
    while True:
        reopen = _scan_from(scan, pos, quotes, comments)
        if reopen is None:
            break
        # An unclosed quote or comment from `reopen` to the end: read it again as plain text.
        if text[reopen] == '"':
            scan.flush(reopen, reopen + 1, " ")
            quotes = False
        else:
            comments = False
        pos = reopen + 1
    scan.flush(len(text), len(text))
    scan.close_piece()
    reader.flush_bare()
    return reader.out


def _scan_from(scan: _Scan, pos: int, quotes: bool, comments: bool) -> int | None:
    """Scan on from `pos`; the position of an unclosed quote or comment, or None at the end."""
    text, search, plain = scan.text, _SPECIALS.search, quotes and comments
    opened, depth, escaped_until = -1, 0, -1     # an open quote (depth -1) or comment (depth > 0)
    while True:
        if plain and not depth and scan.start == pos and not scan.run:    # at rest: whole pieces may follow
            pos = _plain_pieces(scan, pos)
        if (match := search(text, pos)) is None:
            break
        i = match.start()
        char, pos = text[i], i + 1
        if i < escaped_until:
            continue
        if depth:                                # inside a quote or a comment
            if char == "\\":
                escaped_until = i + 2
            elif depth < 0 and char == '"':
                _close_quote(scan, opened, i)
                depth = 0
            elif depth > 0 and char in "()":
                depth += 1 if char == "(" else -1
                if not depth:
                    scan.start = i + 1           # the comment leaves one space
                    scan.run.append(" ")
        elif char == '"':
            if quotes:
                opened, depth = i, -1
            else:                                # after an unclosed quote: a stray mark, dropped
                scan.flush(i, i + 1, " ")
        elif char == "(" and comments:
            scan.flush(i, i)
            opened, depth = i, 1
        elif char == ",":
            scan.flush(i, i + 1)
            scan.close_piece()
        elif char == "<":
            scan.flush(i, i + 1)
            scan.angle = len(scan.run)
        elif char == ">" and scan.angle is not None:
            scan.flush(i, i + 1)
            scan.close_angle()
    return opened if depth else None


def _plain_pieces(scan: _Scan, pos: int) -> int:
    """Read the plain pieces from `pos` on in one match each: what the character scan would hand
    the reader for them, without a Python step per special character; where the next piece is not
    plain, the scan reads on.

    A plain piece: `name "quoted" name <address> text,` with the quoted string optional, no
    escapes, and comments not nested (replaced by a space, as the scan does). Each match stops
    at the first special character that does not fit, so no text is matched more than twice.
    """
    reader, text = scan.reader, scan.text
    while (piece := _PLAIN_PIECE.match(text, pos)) is not None:
        before, quoted, between, angle, after = piece.groups()
        reader.plain_piece(_uncomment(before), quoted, _uncomment(between), _uncomment(angle), _uncomment(after))
        pos = scan.start = piece.end()
    return pos


def _uncomment(text: str | None) -> str | None:
    return text if text is None or "(" not in text else _COMMENT.sub(" ", text)


def _close_quote(scan: _Scan, opening: int, closing: int) -> None:
    """A quoted string: display-name text, or kept as written inside an angle address."""
    if scan.angle is not None:
        return
    scan.flush(opening, closing + 1)
    scan.close_run()
    scan.reader.add(QUOTED, unquote(scan.text[opening + 1:closing]))


def _tidy(text: str) -> str:
    """Unquoted text with the white space inside its address tokens removed (`a @ b . c`)."""
    if "@" not in text or _SPACE_BY_ADDRESS.search(text) is None:
        return text
    data = encodable(text).encode("utf-8")
    out, last = [], 0
    for match in _BARE_ADDRESS.finditer(data):
        out.append(data[last:match.start()])
        token = match.group(0)
        local, at, domain = token.rpartition(b"@")
        if b'"' not in local:
            local = b"".join(local.split())
        out.append(local.strip() + at + b"".join(domain.split()))
        last = match.end()
    out.append(data[last:])
    return b"".join(out).decode("utf-8", "replace")


def _angle_address(content: str) -> tuple[str, str] | None:
    """(local, domain) of an angle token's content (comments already removed), or None."""
    local, at, domain = content.rpartition("@")
    if _SPACE_OR_QUOTE.search(content) is None:
        return (local, domain) if local and domain else None
    domain = ".".join(label.strip() for label in domain.split("."))
    local = local.strip()
    if not at or not local or not domain or any(c.isspace() for c in domain):
        return None
    if len(local) > 1 and local[0] == local[-1] == '"':
        return unquote(local[1:-1]), domain
    return ".".join(word.strip() for word in local.split(".")), domain


def _display_name(parts: list[str]) -> str:
    return decode_encoded_words(" ".join(" ".join(parts).split()))


def fallback(raw: str) -> list[Address]:
    """Every address in ``raw``, in linear time and memory; never raises."""
    return _read(encodable(raw).replace("\r", " ").replace("\n", " "))
