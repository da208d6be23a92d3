"""The scalar rule of SPEC 3.1 and `${VAR}` interpolation.

YAML 1.1 would turn `off` into False and `1:30` into 90; the policy language
reads the *source text* of every scalar and decides its type from where it
stands: a number only where a number is wanted, a boolean only where a key
takes one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

# ASCII decimal: optional sign, digits with optional point, optional exponent. No 0x, _, 1:30.
NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)
_INTERPOLATION_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


@dataclass(frozen=True)
class NumberLiteral:
    """A number written in the policy: equal to JSON numbers numerically, to strings only as text."""
    value: int | float
    text: str


def parse_number(text: str) -> int | float | None:
    """The number an ASCII decimal string denotes, or None."""
    if not NUMBER_RE.match(text):
        return None
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def is_number(value: object) -> bool:
    """JSON numbers only: bool is an int subclass in Python but never a number here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class InterpolationError(Exception):
    """An unset variable without default (`name` set), or a malformed `${`."""

    def __init__(self, message: str, name: str | None = None):
        super().__init__(message)
        self.name = name


class Interpolator:
    """Substitutes `${VAR}` / `${VAR:-default}` per scalar; records what it used for the revision."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.used: dict[str, str] = {}

    def lookup(self, name: str, default: str | None) -> str:
        value = self.environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise InterpolationError(f"environment variable {name} is not set", name)
            value = default
        self.used[name] = value
        return value

    def substitute(self, text: str) -> str:
        """`$${` is a literal `${`; raises InterpolationError for an unset variable or a stray `${`."""
        if "$" not in text:
            return text

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            if match.group(1) is None:
                raise InterpolationError("malformed ${...}: expected ${NAME} or ${NAME:-default}")
            return self.lookup(match.group(1), match.group(2))

        return _INTERPOLATION_RE.sub(replace, text)
