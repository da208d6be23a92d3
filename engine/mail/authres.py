"""A small, tolerant reader of `Authentication-Results` (RFC 8601) as SES writes it.

Why not a library: `authres` 1.2.0 raises on both real SES headers in the corpus (SES's
`client-ip=`, `envelope-from=`, `helo=` items after the SPF result and the trailing `;`)
and drops the comment that carries the DMARC policy (`dmarc=fail (p=REJECT ...)`).

The reader makes one pass over the value: `;` outside comments and quoted strings ends an
item; the first item is the authserv-id; an item that starts `method=result` with a known
result word starts a result, any other item (`envelope-from=x`) adds properties to the
result before it. Comments stay attached to their result. It never raises.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# RFC 8601 2.7 result words (RFC 7208 `softfail`, RFC 7489 `policy` included).
RESULT_WORDS = frozenset({"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror",
                          "policy", "hardfail"})
MAX_VALUE = 64 * 1024   # a longer value is cut: SES's own are a few hundred characters


@dataclass
class AuthResult:
    method: str                          # lower-cased, version dropped: "spf", "dkim", "dmarc"
    result: str                          # lower-cased result word
    comments: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)   # "header.from" -> "x.example"


@dataclass
class AuthResults:
    authserv_id: str                     # lower-cased
    results: list[AuthResult]

    def first(self, method: str) -> AuthResult | None:
        """The first result for a method: a later one for the same method does not override it."""
        return next((r for r in self.results if r.method == method), None)


def parse_authentication_results(value: str) -> AuthResults | None:
    """The header's authserv-id and results, or None when it has no authserv-id at all."""
    items = _items(value[:MAX_VALUE])
    if not items or not items[0][0]:
        return None
    head_words, _ = items[0]
    results: list[AuthResult] = []
    for words, comments in items[1:]:
        _add_item(results, words, comments)
    return AuthResults(head_words[0].lower(), results)


def _add_item(results: list[AuthResult], words: list[str], comments: list[str]) -> None:
    """One `;`-separated item: a new result, or properties of the result before it."""
    if not words:
        if results:
            results[-1].comments.extend(comments)
        return
    key, sep, val = words[0].partition("=")
    method = key.split("/")[0].lower()
    if sep and val.lower() in RESULT_WORDS and "." not in method:
        results.append(AuthResult(method, val.lower(), comments, _properties(words[1:])))
    elif results:
        results[-1].comments.extend(comments)
        results[-1].properties.update(_properties(words))


def _properties(words: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for word in words:
        key, sep, val = word.partition("=")
        if sep and key:
            found.setdefault(key.lower(), val)
    return found


def _items(value: str) -> list[tuple[list[str], list[str]]]:
    """Split at `;` outside comments and quotes; each item as (words, top-level comments)."""
    scanner = _Scanner()
    for char in value:
        scanner.feed(char)
    return scanner.finish()


class _Scanner:
    """One character at a time: the state of a comment (nesting depth), a quoted string, a word."""

    def __init__(self) -> None:
        self.items: list[tuple[list[str], list[str]]] = []
        self.words: list[str] = []
        self.comments: list[str] = []
        self.word: list[str] = []
        self.comment: list[str] = []
        self.depth, self.quoted, self.escaped = 0, False, False

    def feed(self, char: str) -> None:
        if self.escaped:
            (self.comment if self.depth else self.word).append(char)
            self.escaped = False
        elif char == "\\" and (self.quoted or self.depth):
            self.escaped = True
        elif self.quoted:
            self.quoted = char != '"'
            if self.quoted:
                self.word.append(char)
        elif char in "()" and (char == "(" or self.depth):
            self._paren(char)
        elif self.depth:
            self.comment.append(char)
        elif char == '"':
            self.quoted = True
        elif char == ";" or char.isspace():
            self._end_word(item=char == ";")
        else:
            self.word.append(char)

    def _paren(self, char: str) -> None:
        self.depth += 1 if char == "(" else -1
        if self.depth > 1 or (char == ")" and self.depth):
            self.comment.append(char)
        elif char == ")":
            self.comments.append(" ".join("".join(self.comment).split()))
            self.comment = []

    def _end_word(self, item: bool) -> None:
        if self.word:
            self.words.append("".join(self.word))
            self.word = []
        if item:
            self.items.append((self.words, self.comments))
            self.words, self.comments = [], []

    def finish(self) -> list[tuple[list[str], list[str]]]:
        if self.depth and self.comment:
            self.comments.append(" ".join("".join(self.comment).split()))
        self._end_word(item=bool(self.words or self.comments or self.word))
        return self.items
