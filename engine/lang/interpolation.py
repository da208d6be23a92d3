"""`${VAR}` and `${VAR:-default}` interpolation in scalar values (docs/policy-language.md, "Interpolation").

Substitution happens per scalar, in its source text, after YAML parsing, so a
value holding `: ` or `#` cannot change the policy's structure.

A policy may come from an SSM parameter another team can edit, so the variables
the Lambda runtime fills with credentials and its own settings are reserved:
`is_reserved` is the one rule, also applied to `{env: VAR}` lists and to whatever
adds variables to the loader's environment (the deployment's PolicyEnvironment).
"""
from __future__ import annotations

import re
from typing import Mapping

_INTERPOLATION_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")
MIN_REDACTED = 4     # shorter values (`1`, `yes`) would blot out ordinary words of a message
REGION_VARIABLES = frozenset({"AWS_REGION", "AWS_DEFAULT_REGION"})   # topic ARNs need the region
RESERVED_HINT = ("AWS_* other than AWS_REGION and AWS_DEFAULT_REGION, LAMBDA_*, names starting with _ and TZ "
                 "belong to the Lambda runtime; pass the value in a variable of your own")


def is_reserved(name: str) -> bool:
    """A variable no policy may read: the runtime's credentials and settings."""
    if name.startswith("AWS_"):
        return name not in REGION_VARIABLES
    return name.startswith(("LAMBDA_", "_")) or name == "TZ"


class InterpolationError(Exception):
    """An unset or reserved variable (`name` set), or a malformed `${`."""

    def __init__(self, message: str, name: str | None = None, reserved: bool = False):
        super().__init__(message)
        self.name = name
        self.reserved = reserved


def reserved_error(name: str) -> InterpolationError:
    return InterpolationError(f"environment variable {name} is reserved: a policy cannot read it", name, True)


class Interpolator:
    """Substitutes `${VAR}` / `${VAR:-default}` per scalar; records what it used for the revision."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.used: dict[str, str] = {}
        self._read: dict[str, str] = {}      # values `${VAR}` took from the environment: never in a message

    def get(self, name: str) -> str | None:
        """The variable's value; InterpolationError for a reserved name, whatever the environment holds."""
        if is_reserved(name):
            raise reserved_error(name)
        return self.environ.get(name)

    def lookup(self, name: str, default: str | None) -> str:
        value = self.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise InterpolationError(f"environment variable {name} is not set", name)
            value = default
        else:
            self._read[name] = value
        self.used[name] = value
        return value

    def redact(self, text: str) -> str:
        """`text` with every value `${VAR}` read from the environment written back as `${VAR}`."""
        for name, value in self._read.items():
            if len(value) >= MIN_REDACTED and value in text:
                text = text.replace(value, f"${{{name}}}")
        return text

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
