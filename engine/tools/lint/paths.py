"""Paths that cannot exist: a policy's JSONPath followed through the SES record's shape.

The path is the one the loader already parsed (`Getter.expr`): lint walks that
tree over `engine.mail.record.RECORD_SHAPE` and reports the first step that can
find nothing, with a did-you-mean for the member it expected.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from engine.mail.jsonpath import PathError, compile_path
from engine.mail.record import RECORD_SHAPE
from engine.suggest import did_you_mean

_OUTSIDE_SES = {"eventSource", "eventVersion", "ses", "Records"}


@dataclass(frozen=True)
class PathProblem:
    message: str
    hint: str | None


class _Unknown(Exception):
    """A JSONPath construct lint does not model (`..`, functions): the path is not judged."""


class _Missing(Exception):
    def __init__(self, problem: PathProblem):
        self.problem = problem


def _describe(shape: Any) -> str:
    if isinstance(shape, dict):
        return "an object"
    return "a list" if isinstance(shape, list) else "a single value"


def _children(shape: Any) -> list[Any]:
    if isinstance(shape, dict):
        return list(shape.values())
    return [shape[0]] if isinstance(shape, list) else []


def _is_leaf(shape: Any) -> bool:
    return not isinstance(shape, (dict, list))


class _PathWalker:
    """Follows a parsed JSONPath through the record shape; raises _Missing at the first step that finds nothing."""

    def __init__(self, text: str):
        self.text = text
        self.steps: dict[str, Callable[[Any, list[Any], str], tuple[list[Any], str]]] = {
            "Root": lambda expr, shapes, here: ([RECORD_SHAPE], "$"),
            "This": lambda expr, shapes, here: (shapes, here),
            "Child": self._child,
            "Fields": lambda expr, shapes, here: self._fields(expr.fields, shapes, here),
            "Wildcard": self._wildcard,
            "Index": self._index,
            "Slice": self._index,
            "Filter": self._filter,
        }

    def walk(self, expr: Any, shapes: list[Any], here: str) -> tuple[list[Any], str]:
        step = self.steps.get(type(expr).__name__)
        if step is None:
            raise _Unknown(type(expr).__name__)
        return step(expr, shapes, here)

    def _child(self, expr: Any, shapes: list[Any], here: str) -> tuple[list[Any], str]:
        left, where = self.walk(expr.left, shapes, here)
        return self.walk(expr.right, left, where)

    def _wildcard(self, expr: Any, shapes: list[Any], here: str) -> tuple[list[Any], str]:
        found = [c for s in shapes for c in _children(s)]
        return self._nonempty(found, shapes, here, "[*]"), f"{here}[*]"

    def _index(self, expr: Any, shapes: list[Any], here: str) -> tuple[list[Any], str]:
        found = [s[0] for s in shapes if isinstance(s, list)]
        return self._nonempty(found, shapes, here, "[n]"), f"{here}[*]"

    def _filter(self, expr: Any, shapes: list[Any], here: str) -> tuple[list[Any], str]:
        found = [c for s in shapes if not _is_leaf(s) for c in _children(s)]
        found = self._nonempty(found, shapes, here, "[?(...)]")
        for expression in expr.expressions:
            self._filter_expression(expression, found, f"{here}[*]")
        return found, f"{here}[*]"

    def _filter_expression(self, expr: Any, shapes: list[Any], here: str) -> None:
        if type(expr).__name__ == "Expression":
            self.walk(expr.target, shapes, here)
        elif hasattr(expr, "operands"):
            for operand in expr.operands:
                self._filter_expression(operand, shapes, here)
        else:
            raise _Unknown(type(expr).__name__)

    def _nonempty(self, found: list[Any], shapes: list[Any], here: str, step: str) -> list[Any]:
        if not found:
            raise _Missing(PathProblem(f"{here} is {_describe(shapes[0])}, so {step} finds nothing", None))
        return found

    def _fields(self, names: tuple[str, ...], shapes: list[Any], here: str) -> tuple[list[Any], str]:
        objects = [s for s in shapes if isinstance(s, dict)]
        if "*" in names:
            return self._nonempty([c for s in objects for c in s.values()], shapes, here, ".*"), f"{here}.*"
        found = [s[n] for s in objects for n in names if n in s]
        if found:
            return found, f"{here}.{names[0]}" if len(names) == 1 else f"{here}.({','.join(names)})"
        missing = names[0]
        if not objects:
            raise _Missing(PathProblem(f"{here} is {_describe(shapes[0])}, so .{missing} finds nothing",
                                       _list_hint(here, shapes[0], missing)))
        known = sorted({k for s in objects for k in s})
        guess = did_you_mean(missing, known)
        if here == "$" and missing in _OUTSIDE_SES:
            hint = "paths start at the record's `ses` object: $.mail... or $.receipt..."
        elif guess:
            hint = f"did you mean {_replace_name(self.text, missing, guess)}?"
        else:
            hint = f"{here} has: {', '.join(known)}"
        raise _Missing(PathProblem(f"{here} has no member {missing!r}", hint))


def _list_hint(here: str, shape: Any, name: str) -> str | None:
    if isinstance(shape, list) and isinstance(shape[0], dict) and name in shape[0]:
        return f"{here} is a list: write {here}[*].{name}"
    return None


def _replace_name(text: str, old: str, new: str) -> str:
    """The path text with the misspelt member name replaced (dotted or bracketed form)."""
    pattern = re.compile(rf"(?<=\.){re.escape(old)}(?![\w-])|(?<=\[')({re.escape(old)})(?='\])"
                         rf"|(?<=\[\"){re.escape(old)}(?=\"\])")
    return pattern.sub(new, text, count=1)


def check_path(text: str, expr: Any = None) -> PathProblem | None:
    """Why a JSONPath cannot yield anything on an SES record, or None when it can (or lint cannot tell).

    `expr` is the loader's parse of `text` (a path test's `Getter.expr`); without it the text
    is compiled (cached) once.
    """
    if expr is None:
        try:
            expr = compile_path(text).expr
        except PathError:        # the loader reports it; lint has nothing to add
            return None
    try:
        _PathWalker(text).walk(expr, [RECORD_SHAPE], "$")
    except _Unknown:
        return None
    except _Missing as missing:
        return PathProblem(f"path {text} cannot match an SES record: {missing.problem.message}",
                           missing.problem.hint)
    return None
