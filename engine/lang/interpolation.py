"""`${VAR}` and `${VAR:-default}` interpolation in scalar values (SPEC 3.6).

Substitution happens per scalar, in its source text, after YAML parsing, so a
value holding `: ` or `#` cannot change the policy's structure.
"""
from __future__ import annotations

import re
from typing import Mapping

_INTERPOLATION_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


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
