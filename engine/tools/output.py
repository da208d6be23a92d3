"""What every command shares: exit codes, usage errors, argument types, JSON and table output."""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any, Iterable, TextIO

from engine.lang.diagnostics import Diagnostic, PolicyError
from engine.lang.files import FileProblem, read_text
from engine.lang.loader import load_policy
from engine.lang.yamlsource import MAX_POLICY_BYTES

EXIT_OK, EXIT_FINDING, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A command line that cannot run: reported like argparse's own errors, exit 2."""


def existing_file(text: str) -> str:
    """An argparse type: a path that must exist and be a file (else a usage error, exit 2)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a directory, not a file")
    return text


def write_json(out: TextIO, data: Any) -> None:
    out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def table(headers: list[str], rows: Iterable[list[str]]) -> list[str]:
    """Left-aligned columns; the last column is not padded."""
    rows = [headers] + [list(r) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
    return ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] if len(r) > 1 else r[0]
            for r in rows]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe(text: str) -> str:
    """Text for a terminal: control characters (an ESC in a file name or an error) shown escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def rule_label(rule: str | None, errors: list[str]) -> str:
    if rule:
        return rule
    return "(on_error)" if errors else "(default)"


def load(path: str) -> tuple[Any, list[Diagnostic]]:
    """The policy, or the diagnostics that say why it did not load (unreadable files included)."""
    try:
        return load_policy(path), []
    except PolicyError as exc:
        return None, exc.errors


class SourceLines:
    """The lines of the files diagnostics point into, each file read once, to show where."""

    def __init__(self) -> None:
        self._files: dict[str, list[str] | None] = {}

    def line(self, file: str, number: int) -> str | None:
        if file not in self._files:
            try:
                self._files[file] = read_text(file, MAX_POLICY_BYTES, "file").splitlines()
            except FileProblem:
                self._files[file] = None
        lines = self._files[file]
        return lines[number - 1] if lines is not None and 0 < number <= len(lines) else None


def diagnostic_line(d: Diagnostic) -> str:
    """`file:line:col: severity: message (hint) [code]`: one line, for logs."""
    return f"{d} [{d.code}]"


def diagnostic_lines(d: Diagnostic, sources: SourceLines) -> list[str]:
    """The diagnostic's line, then the source line with a caret under the column (as jmespath
    shows a parse error)."""
    lines = [diagnostic_line(d)]
    text = sources.line(d.file, d.line)
    if text is not None:
        before = safe(text[:max(d.col - 1, 0)])      # control characters (a tab) are shown escaped
        lines += ["  " + safe(text), "  " + " " * len(before) + "^"]
    return lines
