"""YAML syntax errors told as what happened and what to write, at the parser's line:col.

PyYAML's messages describe its parser (`expected <block end>, but found '<block
mapping start>'`), and libyaml's differ from them; both are matched here, once,
and turned into the mistake an operator made: a key indented differently, a tab,
an unquoted `*.example`, a regular expression in double quotes.
"""
from __future__ import annotations

import re

import yaml

from engine.lang.diagnostics import Diagnostic

_TOKEN_END = re.compile(r"[\s,\[\]{}]")
_INDENT = ("a line is indented differently from the lines before it",
           "indent a key exactly like the keys beside it, with spaces; a key of a rule lines up with `name:`")
# (words in the parser's message, what happened, what to write); first match wins.
_TRANSLATIONS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("expected <block end>", "did not find expected key", "did not find expected '-' indicator"), *_INDENT),
    (("unknown escape character",),
     "a backslash in double quotes starts a YAML escape, and this one is not a YAML escape",
     "write a regular expression in single quotes, where a backslash is an ordinary character: "
     "matches: '\\[CASE-\\d+\\]'"),
    (("mapping values are not allowed",),
     "': ' here would start a mapping inside a value",
     "quote a value that holds ': ', as in subject: 'Re: hello', or indent this key like the keys above it"),
    (("could not find expected ':'",),
     "a line holds a key without ': ' after it",
     "write key: value, or quote a value that spans several lines"),
    (("expected ',' or ']'",),
     "a [ list is not closed, or its items are not separated by commas",
     "close the list with ], and separate its items with a comma"),
    (("expected ',' or '}'",),
     "a { mapping is not closed where expected: its entries are separated by commas, and a value holding ': ' "
     "needs quotes",
     "quote a value that holds ': ', as in {subject: 'Re: hello'}, and close the mapping with }"),
    (("node content",),
     "a value is missing: a [ list or { mapping is not closed, or a key has no value",
     "close every [ with ] and every { with }"),
    (("end of stream", "end of the stream"),
     "a quoted value is never closed",
     "end the value with the same quote it starts with"),
)


def syntax_error(file: str, text: str, exc: Exception) -> Diagnostic:
    """The one diagnostic for a text the YAML parser cannot read."""
    if isinstance(exc, UnicodeEncodeError):
        line, col = _position(text, exc.start)
        return _diag(file, line, col, f"the text holds {text[exc.start]!r}, half of a surrogate pair, "
                     "which is not Unicode", "save the policy as UTF-8")
    if isinstance(exc, yaml.reader.ReaderError):
        line, col = _position(text, exc.position)
        return _diag(file, line, col, f"the text holds the control character #x{exc.character:04x}, "
                     "which YAML does not allow", "remove it; write \\x escapes in double quotes instead")
    if not isinstance(exc, yaml.MarkedYAMLError):
        return _diag(file, 1, 1, f"invalid YAML: {exc}", None)
    return _marked(file, text, exc)


def _marked(file: str, text: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem, context = exc.problem or "", exc.context or ""
    found = _char_at(text, mark)
    if "tab character" in problem or ("cannot start any token" in problem and found == "\t"):
        return _diag(file, line, col, "invalid YAML: a tab character; YAML indents with spaces only",
                     "replace the tab with spaces")
    if context in ("while scanning an alias", "while scanning an anchor") and exc.context_mark:
        at = exc.context_mark
        token = _TOKEN_END.split(_line(text, at.line)[at.column:], maxsplit=1)[0]
        what = "an alias, a reference to an anchor" if "alias" in context else "an anchor, a name for a node"
        return _diag(file, at.line + 1, at.column + 1,
                     f"invalid YAML: a value starting with {token[:1]} is read as {what}",
                     f"quote the value: '{token}'")
    if "cannot start any token" in problem and found:
        return _diag(file, line, col, f"invalid YAML: a plain value cannot start with {found!r}",
                     f"quote the value: '{found}...'")
    for words, happened, fix in _TRANSLATIONS:
        if any(w in problem for w in words):
            return _diag(file, line, col, f"invalid YAML: {happened}", fix)
    message = " ".join(p for p in (context, problem) if p) or "invalid YAML"
    return _diag(file, line, col, f"invalid YAML: {message}", None)


def _line(text: str, number: int) -> str:
    lines = text.split("\n")
    return lines[number] if number < len(lines) else ""


def _char_at(text: str, mark) -> str:
    line = _line(text, mark.line) if mark is not None else ""
    return line[mark.column] if mark is not None and mark.column < len(line) else ""


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _diag(file: str, line: int, col: int, message: str, hint: str | None) -> Diagnostic:
    return Diagnostic(file, line, col, "error", "yaml-syntax", message, hint)
