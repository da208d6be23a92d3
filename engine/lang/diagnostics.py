"""Load-time diagnostics: every problem knows where in the YAML it came from."""
from __future__ import annotations

from typing import NamedTuple


class Diagnostic(NamedTuple):   # immutable, compared by value; cheaper at a cold start than a frozen dataclass
    file: str
    line: int
    col: int
    severity: str
    code: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def to_dict(self) -> dict:
        return self._asdict()


class PolicyError(Exception):
    """A policy that did not load; `errors` holds every diagnostic found, not just the first."""

    def __init__(self, errors: list[Diagnostic]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


MAX_ERRORS = 1000   # a load stops here: every error costs a message and a hint, and nobody reads more


class Collector:
    """Gathers every error of one load, each at the position of the node it is about."""

    def __init__(self, file: str):
        self.file = file
        self.errors: list[Diagnostic] = []

    def error(self, node, code: str, message: str, hint: str | None = None) -> None:
        line, col = (node.line, node.col) if node is not None else (1, 1)
        self.errors.append(Diagnostic(self.file, line, col, "error", code, message, hint))
        if len(self.errors) >= MAX_ERRORS:
            self.errors.append(Diagnostic(self.file, line, col, "error", "too-many-errors",
                                          f"more than {MAX_ERRORS} errors: loading stopped here",
                                          "fix these first, then validate again"))
            self.raise_if_any()

    def add(self, diagnostic: Diagnostic) -> None:
        """A diagnostic made elsewhere (a file that cannot be read, a YAML syntax error)."""
        self.errors.append(diagnostic)

    def raise_if_any(self) -> None:
        if self.errors:
            raise PolicyError(sorted(self.errors, key=lambda d: (d.line, d.col)))
