"""JSONPath -> getter: the meaning of ``jsonpath_ng.ext`` ``find()``, without its per-event cost.

``find()`` builds a ``DatumInContext`` (with its path and parent) for every node it
visits: 4-27 µs per path per event, against a decision budget of a few µs. A
*plain* path (field names, integer indexes, ``[*]``, slices) is compiled instead
into one small generated function that walks the event with the exact semantics
of the jsonpath_ng nodes it replaces; anything else (filters, ``..``, named
operators, arithmetic, ...) keeps ``find()``. Either way a getter returns exactly
``[m.value for m in parse(path).find(obj)]``, and never raises.

jsonpath_ng (with PLY) is imported on the first parse. A precompiled policy bundle
carries the steps of its plain paths (``plain_steps``); loading it inside
``preparsed(steps)`` builds those getters without parsing, so a cold start that
loads a bundle never imports jsonpath_ng.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import threading
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    import jsonpath_ng.jsonpath as jp

__all__ = ["Getter", "MISSING", "PathError", "compile_path", "plain_steps", "preparsed", "recording"]


class _Missing:
    """What a path selecting at most one value answers when it selects none."""
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()

# Deeper plain paths are legal but unheard of; past this they keep find() so the
# generated code stays far below CPython's nesting limits.
MAX_DIRECT_SEGMENTS = 24


class PathError(ValueError):
    """A path that cannot be used; ``offset`` is the 0-based position in the path when known."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


class Getter(Protocol):
    """What ``compile_path`` returns: ``getter(ses_object) -> list of values``."""

    path: str                     # the path as written
    direct: bool                  # True: generated walker; False: find() per call
    expr: jp.JSONPath | None      # the parsed path, for lint (None when built from pre-parsed steps)
    warnings: tuple[str, ...]     # jsonpath_ng deprecation notices raised while parsing
    one: Callable[[Any], Any] | None   # paths selecting at most one value: that value, or MISSING
    keys: tuple[str, ...] | None  # a path of member names only: the names (`one` is their chain of gets)

    def __call__(self, obj: Any) -> list[Any]: ...


_PARSER_LOCK = threading.Lock()
# Plain paths' steps given by a precompiled bundle while it loads; every path asked for while recording.
_PREPARSED: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("preparsed", default=None)
_ASKED: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("asked", default=None)

_RECORDS_PREFIX = re.compile(r"\$\s*(?:\.\s*Records|\[\s*['\"]Records['\"]\s*\])\s*\[[^\]]*\]"
                             r"\s*(?:\.\s*ses|\[\s*['\"]ses['\"]\s*\])(?![\w-])")
_PARSER_POS = re.compile(r"at (\d+):(\d+) near token (.*) \(\w+\)$")
_LEXER_POS = re.compile(r"line (\d+), col (\d+)(?::| while)")


def compile_path(path: str) -> Getter:
    """Compile ``path`` once; the same text always yields the same getter (cached)."""
    if not isinstance(path, str):
        raise PathError(f"a JSONPath must be a string, not {type(path).__name__}")
    asked, given = _ASKED.get(), _PREPARSED.get()
    if asked is not None:
        asked.add(path)
    if given is not None and path in given:
        if not callable(given[path]):        # built once per load, like the cache below
            given[path] = _from_steps(path, given[path])
        return given[path]
    return _compile(path)


@contextlib.contextmanager
def recording() -> Iterator[set[str]]:
    """Every path `compile_path` is asked for inside the block (what a bundle pre-parses)."""
    asked: set[str] = set()
    token = _ASKED.set(asked)
    try:
        yield asked
    finally:
        _ASKED.reset(token)


@contextlib.contextmanager
def preparsed(steps: Mapping[str, Any]) -> Iterator[None]:
    """Inside the block, the paths in `steps` (path -> `plain_steps(path)`) are built without parsing.

    Their getters are not cached with the parsed ones and have no `expr` (lint parses the
    text again). Steps that are not what `plain_steps` writes raise ValueError.
    """
    token = _PREPARSED.set(dict(steps))
    try:
        yield
    finally:
        _PREPARSED.reset(token)


def plain_steps(path: str) -> list[list[Any]] | None:
    """The steps of a plain path as JSON data (`[kind, argument]` each), None for any other path."""
    getter = compile_path(path)
    if not getter.direct or getter.warnings:
        return None
    steps = _plain_segments(getter.expr)
    return [[kind, [arg.start, arg.stop, arg.step] if isinstance(arg, slice) else
             list(arg) if isinstance(arg, tuple) else arg] for kind, arg in steps or ()]


_STEP_ARGUMENT: dict[str, Callable[[Any], bool]] = {
    "key": lambda a: isinstance(a, str),
    "keys": lambda a: isinstance(a, list) and len(a) > 1 and all(isinstance(k, str) for k in a),
    "index": lambda a: type(a) is int,
    "indices": lambda a: isinstance(a, list) and len(a) > 1 and all(type(i) is int for i in a),
    "all": lambda a: a is None,
    "slice": lambda a: a is None or (isinstance(a, list) and len(a) == 3
                                     and all(v is None or type(v) is int for v in a) and a[2] != 0),
}


def _from_steps(path: str, steps: Any) -> Any:
    """A getter from `plain_steps` data, checked (the bundle is a file someone may have edited)."""
    if not isinstance(steps, list) or not 0 < len(steps) <= MAX_DIRECT_SEGMENTS or not all(
            isinstance(s, list) and len(s) == 2 and s[0] in _STEP_ARGUMENT and _STEP_ARGUMENT[s[0]](s[1])
            for s in steps):
        raise ValueError(f"pre-parsed steps of {path!r} are not plain path steps")
    segments = [(kind, tuple(arg) if kind in ("keys", "indices") else slice(*arg) if kind == "slice" and arg
                 else arg) for kind, arg in steps]
    getter = _generate(segments)
    getter.path, getter.direct, getter.expr, getter.warnings = path, True, None, ()
    return getter


@functools.lru_cache(maxsize=4096)
def _compile(path: str) -> Getter:
    expr, notices = _parse(path)
    _check(path, expr)
    segments = _plain_segments(expr)
    getter = _fallback(expr) if segments is None else _generate(segments)
    getter.path = path
    getter.direct = segments is not None
    getter.expr = expr
    getter.warnings = notices
    return getter


def _parse(path: str) -> tuple[jp.JSONPath, tuple[str, ...]]:
    """Parse with the shared ext parser; every failure becomes a PathError with a position."""
    text = path.strip()
    if not text:
        raise PathError("empty JSONPath; paths start with `$` (e.g. `$.mail.source`)")
    if not text.startswith("$"):
        raise PathError(f"JSONPath {path!r} must start with `$`, the record's `ses` object "
                        "(e.g. `$.mail.source`)", offset=0)
    from jsonpath_ng.exceptions import JSONPathError
    try:
        with _PARSER_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            expr = _parser().parse(path)
    except JSONPathError as exc:
        raise _syntax_error(path, str(exc)) from None
    except re.error as exc:     # a `sub(/regex/, ...)` whose regex does not compile
        raise PathError(f"invalid JSONPath {path!r}: bad regular expression: {exc}") from None
    except Exception as exc:    # e.g. a malformed `split(...)`: never a traceback for bad input
        raise PathError(f"invalid JSONPath {path!r}: {exc}") from None
    return expr, tuple(dict.fromkeys(str(w.message) for w in caught))


@functools.cache
def _parser() -> Any:
    """PLY parsers are reusable (the parse stack is reset per call) and building one costs more
    than a parse; one shared instance, serialised because PLY keeps state."""
    from jsonpath_ng.ext.parser import ExtendedJsonPathParser
    return ExtendedJsonPathParser()


def _syntax_error(path: str, detail: str) -> PathError:
    """Rephrase PLY's messages ("Parse error at 1:4 near token b (ID)") for policy authors."""
    if m := _PARSER_POS.search(detail):
        offset = _offset(path, int(m[1]), int(m[2]))
        return PathError(f"invalid JSONPath {path!r}: unexpected `{m[3]}` at column {offset + 1}",
                         offset=offset)
    if m := _LEXER_POS.search(detail):
        offset = _offset(path, int(m[1]), int(m[2]))
        return PathError(f"invalid JSONPath {path!r}: unexpected character at column {offset + 1}",
                         offset=offset)
    if "near the end" in detail or "Unexpected EOF" in detail:
        return PathError(f"invalid JSONPath {path!r}: it ends too early "
                         "(unfinished segment, bracket or quote)", offset=len(path))
    return PathError(f"invalid JSONPath {path!r}: {detail}")


def _offset(path: str, line: int, col: int) -> int:
    """PLY reports (line, position minus that of the line's preceding newline); make it an offset."""
    newlines = [i for i, char in enumerate(path) if char == "\n"]
    newline = newlines[line - 2] if 1 < line <= len(newlines) + 1 else 0
    return min(newline + col, len(path))


def _check(path: str, expr: jp.JSONPath) -> None:
    """Refuse paths that parse but cannot mean what the author wants, or are unsafe."""
    import jsonpath_ng.jsonpath as jp
    from jsonpath_ng.ext import filter as jp_filter
    from jsonpath_ng.ext import string as jp_string
    first = _first_segment(expr)
    if isinstance(first, jp.Fields) and "Records" in first.fields:
        m = _RECORDS_PREFIX.match(path.strip())
        better = f" (write {'$' + path.strip()[m.end():]!r})" if m else ""
        raise PathError(f"JSONPath {path!r} starts at the Lambda event: paths are evaluated "
                        f"against one record's `ses` object, so drop the `Records[n].ses` prefix"
                        f"{better}", offset=0)
    for node in _walk(expr):
        if isinstance(node, jp_string.Sub) or (
                isinstance(node, jp_filter.Expression) and node.op == "=~"):
            raise PathError(f"JSONPath {path!r} uses a regular expression (`=~` or `sub()`), which "
                            "jsonpath_ng runs with Python's backtracking `re` on attacker-chosen "
                            "mail; select the values with the path and test them with the "
                            "`matches` operator (RE2) instead")


def _first_segment(expr: jp.JSONPath) -> jp.JSONPath | None:
    """The node applied right after the leading ``$`` (None for ``$`` alone)."""
    import jsonpath_ng.jsonpath as jp
    node, first = expr, None
    while type(node) is jp.Child:
        node, first = node.left, node.right
    return first if type(node) is jp.Root else None


def _walk(expr: jp.JSONPath):
    """Every node of the parsed path, filters and sort keys included."""
    import jsonpath_ng.jsonpath as jp
    stack: list[Any] = [expr]
    while stack:
        node = stack.pop()
        yield node
        for name in ("left", "right", "target", "value"):
            child = getattr(node, name, None)
            if isinstance(child, jp.JSONPath):
                stack.append(child)
        stack.extend(getattr(node, "operands", None) or ())
        for item in getattr(node, "expressions", None) or ():
            stack.append(item[0] if isinstance(item, tuple) else item)


# --- plain paths -------------------------------------------------------------------------
#
# A segment is (kind, argument). Each kind mirrors one jsonpath_ng node exactly:
#   key     Fields('a')        dict member when present (a None value counts); else nothing
#   keys    Fields('a','b')    each present member, in the order written
#   index   Index(i)           list/tuple element when -len <= i < len; else nothing
#   indices Index(i, j)        each such element, in the order written (repeats kept)
#   all     Wildcard()         list/tuple elements, or dict values; nothing from scalars
#   slice   Slice(a, b, c)     list/tuple elements of value[a:b:c]; step 0 selects nothing

def _plain_segments(expr: jp.JSONPath) -> list[tuple[str, Any]] | None:
    """The segments of a plain path, or None when any node needs find()."""
    import jsonpath_ng.jsonpath as jp
    if jp.auto_id_field is not None:        # find() would synthesise `id` members
        return None
    nodes: list[jp.JSONPath] = []
    stack = [expr]
    while stack:                             # in-order flattening of Child trees
        node = stack.pop()
        if type(node) is jp.Child:
            stack += (node.right, node.left)
        else:
            nodes.append(node)
    if not nodes or type(nodes[0]) is not jp.Root or len(nodes) - 1 > MAX_DIRECT_SEGMENTS:
        return None
    segments = [_segment(node) for node in nodes[1:]]
    return None if None in segments else segments


def _segment(node: jp.JSONPath) -> tuple[str, Any] | None:
    import jsonpath_ng.jsonpath as jp
    kind = type(node)
    if kind is jp.Fields and not node._deprecated_wildcard_use:
        return ("key", node.fields[0]) if len(node.fields) == 1 else ("keys", node.fields)
    if kind is jp.Index:
        return ("index", node.indices[0]) if len(node.indices) == 1 else ("indices", node.indices)
    if kind is jp.Wildcard:
        return ("all", None)
    if kind is jp.Slice and not node._deprecated_wildcard_use:
        return ("slice", None if node.step == 0 else slice(node.start, node.end, node.step))
    return None


# Source templates: {i} the input variable, {o} the output one, {a} the argument's name.
_TEMPLATES = {
    "key": ["if isinstance(v{i}, dict):",
            " v{o} = v{i}.get({a}, MISSING)",
            " if v{o} is not MISSING:"],
    "keys": ["if isinstance(v{i}, dict):",
             " for k{o} in {a}:",
             "  v{o} = v{i}.get(k{o}, MISSING)",
             "  if v{o} is not MISSING:"],
    "index": ["if isinstance(v{i}, SEQUENCE) and -len(v{i}) <= {a} < len(v{i}):",
              " v{o} = v{i}[{a}]"],
    "indices": ["if isinstance(v{i}, SEQUENCE):",
                " for k{o} in {a}:",
                "  if -len(v{i}) <= k{o} < len(v{i}):",
                "   v{o} = v{i}[k{o}]"],
    "all": ["for v{o} in (v{i} if isinstance(v{i}, SEQUENCE) else "
            "v{i}.values() if isinstance(v{i}, dict) else ()):"],
    "slice": ["for v{o} in (v{i}[{a}] if {a} is not None and isinstance(v{i}, SEQUENCE) else ()):"],
}


def _generate(segments: list[tuple[str, Any]]) -> Any:
    """One straight-line function per plain path: no per-step calls, no allocation but the result.

    A path of member names and indexes only selects at most one value; it gets a second
    function, `one`, that returns that value or `MISSING` without building a list (the
    evaluation's fast path tests the value directly). The source only ever holds
    identifiers made here; field names, indexes and slices are passed in as constants
    (a0, a1, ...), never spliced into the text.
    """
    single = all(kind in ("key", "index") for kind, _ in segments)
    constants: dict[str, Any] = {"MISSING": MISSING, "SEQUENCE": (list, tuple), "NOTHING": _NOTHING}
    # A path ending in `[*]` (`from[*]`, `recipients[*]`) adds the last container's items at once.
    every = len(segments) > 1 and segments[-1][0] == "all"
    steps = segments[:-1] if every else segments
    walk, depth, start = _leading_keys(steps, constants)
    for i, (kind, arg) in enumerate(steps[start:], start):
        constants[f"a{i}"] = arg
        template = _TEMPLATES[kind]
        walk += [" " * depth + line.format(i=i, o=i + 1, a=f"a{i}") for line in template]
        inner = template[-1]      # the next segment goes inside its block, or beside its statement
        depth += len(inner) - len(inner.lstrip()) + inner.endswith(":")
    last, indent = len(segments), " " * depth
    names_only = single and 0 < start == last
    if names_only:                        # member names only: `one` is the chain of gets itself
        lines = ["def getter(v0):", *walk, f"{indent}return [v{last}]", " return []",
                 "def one(v0):", *[line.replace(f"v{last} = ", "return ") for line in walk[:4]]]
    elif single:
        lines = ["def getter(v0):", *walk, f"{indent}return [v{last}]", " return []",
                 "def one(v0):", *walk, f"{indent}return v{last}", " return MISSING"]
    elif every:
        v = f"v{last - 1}"
        lines = ["def getter(v0):", " out = []", *walk, f"{indent}out.extend({v} if isinstance({v}, SEQUENCE) else "
                 f"{v}.values() if isinstance({v}, dict) else ())", " return out"]
    else:
        lines = ["def getter(v0):", " out = []", *walk, f"{indent}out.append(v{last})", " return out"]
    exec(compile("\n".join(lines), "<jsonpath getter>", "exec"), constants)  # noqa: S102
    getter = constants["getter"]
    getter.one = constants.get("one")
    getter.keys = tuple(arg for _, arg in segments) if names_only else None
    return getter


_NOTHING: dict = {}     # what a missing member of a leading run of keys reads as (never written to)


def _leading_keys(segments: list[tuple[str, Any]], constants: dict[str, Any]) -> tuple[list[str], int, int]:
    """The leading run of `key` segments as one chain of `dict.get` (the walk's lines, its depth,
    and the segments it covers): a member missing along the run reads as an empty dict, so the
    last `get` answers MISSING; a member that is no dict has no `get` (JSON values other than
    objects have none), which is the nothing a `key` segment selects from a non-object."""
    count = 0
    while count < len(segments) and segments[count][0] == "key":
        constants[f"a{count}"] = segments[count][1]
        count += 1
    if count == 0:
        return [], 1, 0
    chain = "".join(f".get(a{i}, NOTHING)" for i in range(count - 1)) + f".get(a{count - 1}, MISSING)"
    return [" try:", f"  v{count} = v0{chain}", " except AttributeError:", f"  v{count} = MISSING",
            f" if v{count} is not MISSING:"], 2, count


def _fallback(expr: jp.JSONPath) -> Any:
    """find() per call. An exception (`sorted` on mixed types, `parent` of the root, ...) means
    no values: evaluation must always answer, and a value find() cannot produce does not exist."""
    find = expr.find

    def getter(obj: Any) -> list[Any]:
        try:
            return [match.value for match in find(obj)]
        except Exception:
            return []

    getter.one = getter.keys = None
    return getter
