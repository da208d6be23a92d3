"""Regular expressions through RE2: linear time on subjects and headers chosen by strangers.

Compiling is not free: RE2's compile time and memory grow with the program it builds
(`\\pL{300}` is 300 copies of a 1,200-instruction class: 150 ms each), and a policy
may come from an SSM parameter another team edits. So every pattern of one load draws
on one `Budget` of program instructions, each compile is capped by RE2's own
memory limit to what is left of it (an oversized pattern fails in microseconds instead
of compiling for seconds), and identical patterns compile once. The programs that run
get a memory limit that grows with their size, so a combined `glob` or `matches` list
keeps RE2's fast DFA instead of falling back to its NFA (about 50x slower).

google-re2 reports errors as bytes in its own exception type (not `re.error`), in the
form "CODE: fragment", and writes absl log lines to stderr for every rejected pattern
unless `log_errors` is off. `\\d \\w \\b` are ASCII-only in RE2.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Any, Callable, Iterable, Iterator

MAX_PROGRAM = 100_000              # RE2 instructions for all the patterns of one policy
COMPILE_BYTES_PER_INSTRUCTION = 24  # RE2 needs 16-18 bytes of max_mem per instruction it compiles
COMPILE_FLOOR = 4096               # max_mem for a compile when the budget is spent: parse errors still show
DFA_BYTES_PER_INSTRUCTION = 1024   # 1,000 glob patterns (25,000 instructions) stay on the DFA at 16 MiB
RUN_MEM_FLOOR = 8 << 20            # RE2's default

BUDGET_HINT = ("a repeated Unicode class such as `\\pL{300}` compiles to hundreds of thousands of instructions: "
               "use `+` or `*` instead of large counts, an ASCII class such as `[a-z]`, or in, in_domain "
               "and glob for lists of fixed strings")


def re2_module() -> Any:
    """google-re2, imported at its first use: importing it costs a cold start about 3 ms and
    2.6 MB of memory, and a policy without `matches`, `glob` or long lists never compiles a
    pattern (mail reaches RE2 only through the address fallback)."""
    import re2
    return re2


def __getattr__(name: str) -> Any:
    """`regex.re2`, the module, imported at first use (see `re2_module`)."""
    if name == "re2":
        return re2_module()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def method_anchors() -> dict[str, Any]:
    """The RE2 anchor each method of a compiled pattern (`search`, `match`, `fullmatch`) runs
    its program with, for asking the program directly; empty when this build hides it."""
    anchor = getattr(getattr(re2_module(), "_re2", None), "RE2", None)
    return {} if anchor is None else {"search": anchor.Anchor.UNANCHORED, "match": anchor.Anchor.ANCHOR_START,
                                      "fullmatch": anchor.Anchor.ANCHOR_BOTH}


class Lazy:
    """A pattern compiled at its first use (`compile(*args)`, RE2's by default; the address
    parser passes `re.compile` for its possessive patterns): module-level patterns of code a
    cold start imports but rarely runs, or whose compile costs more than ASCII mail needs.
    Each attribute is looked up once, then found in the instance's dictionary like any attribute."""

    def __init__(self, *args: Any, compile: Callable[..., Any] | None = None) -> None:
        self._args = args
        self._compile = compile

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        program = self.__dict__.get("_program")
        if program is None:
            program = self.__dict__["_program"] = (self._compile or re2_module().compile)(*self._args)
        value = self.__dict__[name] = getattr(program, name)
        return value


def quoted(pattern: str) -> str:
    """A pattern in a message: in single quotes, backslashes as written (not doubled as repr does)."""
    return f"'{pattern}'"


class RegexError(ValueError):
    """A pattern RE2 rejects. `template` holds `{}` where the quoted pattern goes, so a caller can show
    the pattern as the user wrote it; `hint` says what to write instead."""

    def __init__(self, template: str, hint: str | None, pattern: str):
        super().__init__(template.format(quoted(pattern)))
        self.template = template
        self.hint = hint
        self.pattern = pattern


class Budget:
    """The RE2 program size all patterns of one policy may compile to; identical patterns compile once.

    Once a pattern has overrun it, the budget is spent: the load fails on that error, and the
    patterns after it are only checked for syntax (a compile with a few KB of memory), so a
    policy of 618 oversized patterns costs one capped compile, not 618.
    """

    def __init__(self, limit: int = MAX_PROGRAM):
        self.limit = limit
        self.used = 0
        self.spent = False
        self.compile_memory = 0          # max_mem handed to RE2 for checks: a bound on the compile work
        self._checked: dict[tuple[str, bool], int] = {}
        self._programs: dict[tuple[tuple[str, ...], bool], object] = {}

    def check(self, pattern: str, case_sensitive: bool) -> int:
        """Compile one pattern within what is left of the budget; its program size, or RegexError."""
        key = (pattern, case_sensitive)
        if key not in self._checked:
            left = 0 if self.spent else self.limit - self.used
            mem = COMPILE_BYTES_PER_INSTRUCTION * left + COMPILE_FLOOR
            self.compile_memory += mem
            try:
                size = compile_one(pattern, case_sensitive, mem).programsize
            except RegexError as exc:
                if not exc.template.endswith(_TOO_LARGE):
                    raise
                size = left + 1
            if size > left and not self.spent:
                self.spent = True
                raise self._over(pattern)
            self.used += 0 if self.spent else size
            self._checked[key] = size
        return self._checked[key]

    def compile_any(self, patterns: Iterable[str], case_sensitive: bool):
        """One RE2 program matching where any pattern matches: one search per value, not one per pattern.

        Each pattern is checked alone first, so an error names the pattern the user wrote.
        """
        patterns = tuple(dict.fromkeys(patterns))
        key = (patterns, case_sensitive)
        if key not in self._programs:
            size = sum(self.check(p, case_sensitive) for p in patterns)
            self._programs[key] = _NEVER if self.spent else \
                compile_one(combine(patterns), case_sensitive, run_memory(size))
        return self._programs[key]

    def _over(self, pattern: str) -> RegexError:
        return RegexError(f"regular expression {{}} is too large: the patterns of a policy compile to at most "
                          f"{self.limit:,} RE2 instructions ({self.used:,} used before this one)", BUDGET_HINT,
                          pattern)


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("regex_budget", default=None)


@contextlib.contextmanager
def budget(limit: int = MAX_PROGRAM) -> Iterator[Budget]:
    """Every `compile_any` inside the block draws on one budget (the loader opens one per policy)."""
    current = Budget(limit)
    token = _budget.set(current)
    try:
        yield current
    finally:
        _budget.reset(token)


def compile_any(patterns: Iterable[str], *, case_sensitive: bool):
    """`Budget.compile_any` on the load's budget (outside a load: a budget of its own)."""
    return (_budget.get() or Budget()).compile_any(patterns, case_sensitive)


def combine(patterns: tuple[str, ...]) -> str:
    """One pattern for several: their alternation, with a leading `(?s).*` (every `*...` glob) written
    once for all the patterns that start with it and hold no `|` or `(` after it.

    `(?s).*(?:a|b)` is the same test as `(?:(?s).*a)|(?:(?s).*b)`, but RE2's DFA then follows one
    `.*` instead of one per pattern: 1,000 `*.domain` globs cost per value what 100 cost.
    """
    if len(patterns) == 1:
        return patterns[0]
    led = [p[len(_LEAD):] for p in patterns if _leads(p)]
    parts = [p for p in patterns if not _leads(p)]
    if led:
        parts.insert(0, _LEAD + (led[0] if len(led) == 1 else "(?:" + "|".join(led) + ")"))
    return parts[0] if len(parts) == 1 else "|".join(f"(?:{p})" for p in parts)


def _leads(pattern: str) -> bool:
    return pattern.startswith(_LEAD) and not _BRANCHING.intersection(pattern[len(_LEAD):])


_LEAD = "(?s).*"
_BRANCHING = frozenset("|(")


SCAN_AT_MOST = 4
"""Up to this many strings, `str.__contains__` per string beats one call into RE2 (0.1 µs each vs ~1 µs)."""


_ANCHORS = {"in": (b"", b""), "start": (b"\\A(?:", b")"), "end": (b"(?:", b")\\z")}
_SCANS: dict[str, Callable[[str, tuple[str, ...]], bool]] = {
    "in": lambda text, words: any(word in text for word in words),
    "start": str.startswith, "end": str.endswith}


def literal_search(words: Iterable[str], where: str = "in") -> Callable[[str], bool]:
    """`text -> bool`: whether `text` contains (`where="in"`), starts or ends with any of `words`
    (exact code points), in one pass however many words there are (`contains`, `starts_with`,
    `ends_with` over a list).

    The words become one RE2 alternation of escaped UTF-8 literals, run as Latin-1 bytes so
    that a byte-substring is a code-point substring (UTF-8 is self-synchronising; lone
    surrogates are encoded as they are, so no text needs a second route). The program is a
    trie of the words: its size and compile time grow with their total length, never faster,
    so it is not drawn from the pattern budget (that bounds what a short pattern may expand to).
    Anchored at an end, RE2 reads no further from it than the longest word.
    """
    words = tuple(dict.fromkeys(words))
    if len(words) <= SCAN_AT_MOST:
        scan = _SCANS[where]
        return lambda text: scan(text, words)
    re2 = re2_module()
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    options.case_sensitive = True     # the caller hands over words and text in one form already
    options.never_capture = True
    options.log_errors = False
    encoded = [re2.escape(_utf8(word)) for word in words]
    options.max_mem = run_memory(sum(map(len, encoded)))
    head, tail = _ANCHORS[where]
    search = re2.compile(head + b"|".join(encoded) + tail, options).search
    return lambda text: search(_utf8(text)) is not None


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def run_memory(size: int) -> int:
    """RE2's max_mem for a program of `size` instructions that will search mail: room for its DFA."""
    return max(RUN_MEM_FLOOR, size * DFA_BYTES_PER_INSTRUCTION)


def compile_one(pattern: str, case_sensitive: bool, max_mem: int = RUN_MEM_FLOOR):
    """One RE2 program; RegexError says what RE2 refused and what to write instead."""
    re2 = re2_module()
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    options.never_capture = True      # a match is a yes or no: no group offsets to track
    options.max_mem = max_mem
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args else "rejected"
        raise explain(pattern, reason) from None
    except UnicodeEncodeError:
        raise RegexError("regular expression {} is not valid Unicode", "remove the lone surrogate", pattern) from None


# ---- what RE2's error codes mean, and what to write instead ---------------------------------

_TOO_LARGE = "pattern too large"
_NEVER = Lazy("[^\\x00-\\x{10FFFF}]")   # stands in for patterns of a load already refused: never runs
_BACKREFERENCE = "back-references are not supported by RE2; repeat the group instead"
_CODE_HINTS = {
    "missing ]": "a `[` opens a character class that is never closed: end it with `]`, or write `\\[` for a literal `[`",
    "missing )": "a group is never closed: add `)`, or write `\\(` for a literal `(`",
    "unexpected )": "a `)` closes no group: remove it, or write `\\)` for a literal `)`",
    "bad repetition operator": "possessive and doubled quantifiers such as `a++` or `a**` are not supported; use `a+`",
    "invalid repetition size": "repetition counts are limited to 1000 in RE2, and `{m,n}` needs m <= n",
    "no argument for repetition operator": "`*` `+` `?` and `{n}` repeat what comes before them: write `\\*` for a literal `*`",
    "trailing \\": "the pattern ends in a lone backslash: write `\\\\` for a literal backslash",
    "invalid character class": "check the `[...]` class: write `\\[` and `\\]` for literal brackets",
    "invalid named capture group": "write a named group as `(?P<name>...)`",
    "bad named capture group": "write a named group as `(?P<name>...)`",
    "invalid UTF-8": "save the policy as UTF-8",
    _TOO_LARGE: "the compiled pattern exceeds RE2's memory limit; split it into several patterns",
}
_PERL_OPERATORS = {
    "(?=": "look-ahead is not supported by RE2; match the text itself, or use a second condition with not_matches",
    "(?!": "negative look-ahead is not supported by RE2; use not_matches in the same test",
    "(?<=": "look-behind is not supported by RE2; include the preceding text in the pattern",
    "(?<!": "negative look-behind is not supported by RE2; use not_matches",
    "(?P": "named back-references such as `(?P=name)` are not supported by RE2; repeat the group instead",
    "(?#": "comments inside a pattern are not supported by RE2; remove `(?#...)`",
}
_ESCAPES = {
    "Z": "RE2 has no `\\Z`; use `\\z` for the end of the text, or `$`",
    "u": "write a code point as `\\x{0041}`",
    "x": "a code point is at most `\\x{10FFFF}`",
    "k": _BACKREFERENCE, "g": _BACKREFERENCE, "G": "`\\G` is not supported by RE2; anchor with `^` or `\\A`",
    "c": "control escapes `\\cX` are not supported by RE2; write `\\x01` to `\\x1f`",
}
_CLASS_ESCAPES = set("dDwWsSpP")


def explain(pattern: str, error: str) -> RegexError:
    """A RegexError saying, per RE2 error code, what went wrong and what to write instead."""
    code, _, detail = error.partition(": ")
    if _unclosed_class(pattern) is not None and code in ("missing ]", "invalid escape sequence",
                                                         "invalid character class range"):
        code = "missing ]"
    if code.startswith(_TOO_LARGE):
        code = _TOO_LARGE
    if code == "invalid escape sequence":
        hint = _escape_hint(detail)
    elif code == "invalid perl operator":
        hint = next((h for marker, h in _PERL_OPERATORS.items() if detail.startswith(marker)),
                    "flags are written `(?i)` or `(?i:...)`; the other groups RE2 knows are `(?:...)` and `(?P<name>...)`")
    elif code == "invalid character class range":
        hint = _range_hint(detail)
    else:
        hint = _CODE_HINTS.get(code)
    return RegexError(f"invalid regular expression {{}}: {code}", hint, pattern)


def _escape_hint(escape: str) -> str:
    letter = escape[1:2]
    if letter.isdigit():
        return _BACKREFERENCE
    if letter in _CLASS_ESCAPES:
        return (f"`{escape}` is a class, so it cannot end a range such as `a-{escape}`: "
                f"list it apart as in `[a-z{escape}]`, or write `\\-` for a literal `-`")
    return _ESCAPES.get(letter, f"`{escape}` is not an escape RE2 knows: escape only punctuation such as `\\.` "
                                "`\\[` `\\\\`, or use a class such as `\\d` `\\w` `\\s` `\\pL`")


def _range_hint(detail: str) -> str:
    if detail.startswith(("\\p", "\\P")):
        return "unknown Unicode class: use `\\pL` for letters, `\\pN` for numbers, or a script such as `\\p{Greek}`"
    if detail.startswith("[:"):
        return "POSIX classes are `[:alpha:]` `[:digit:]` `[:alnum:]` `[:space:]` `[:upper:]` `[:lower:]` and the like"
    return "a range runs from the lower character to the higher one, as in `a-z`; write `\\-` for a literal `-`"


def _unclosed_class(pattern: str) -> int | None:
    """Index of a `[` whose character class is never closed (escapes and [:alpha:] understood)."""
    i, start = 0, None
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if start is None and char == "[":
            start = i
            i += 2 if pattern.startswith("^", i + 1) else 1
            i += 1 if pattern.startswith("]", i) else 0        # a ] first in a class is a literal
            continue
        if start is not None and pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            i = end + 2 if end >= 0 else i + 1
            continue
        if start is not None and char == "]":
            start = None
        i += 1
    return start
