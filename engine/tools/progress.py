"""Progress on standard error while inputs are read, and output that streams past it.

The bar is drawn only when standard error is a terminal and `tqdm` is installed (the CLI
extra; the Lambda package never has it); piped or redirected, nothing is drawn. Rows written
to a terminal while the bar is up go through ``write`` so the bar does not tear them.
"""
from __future__ import annotations

import os
import sys
from typing import Any, TextIO

DEFAULT_SIZE = (80, 24)   # a terminal that reports no size (0 x 0) gets this; tqdm would hide the bar


class Progress:
    """Counts inputs; draws a bar on a terminal's standard error."""

    def __init__(self, out: TextIO, total: int | None = None, err: TextIO | None = None) -> None:
        self.out = out
        self._bar: Any = None
        err = err or sys.stderr
        if _is_terminal(err):
            try:
                from tqdm import tqdm
            except ImportError:   # the CLI extra is not installed: no bar, same output
                return
            columns, lines = _size(err)
            self._bar = tqdm(total=total, file=err, unit=" inputs", leave=False, ncols=columns, nrows=lines)

    def write(self, text: str) -> None:
        """Output text now (flushed, so a pipe sees each row as it is decided)."""
        if self._bar is not None and _is_terminal(self.out):
            self._bar.clear()
            self.out.write(text)
            self.out.flush()
            self._bar.refresh()
        else:
            self.out.write(text)
            self.out.flush()

    def step(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _size(stream: TextIO) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return DEFAULT_SIZE
    return size.columns or DEFAULT_SIZE[0], size.lines or DEFAULT_SIZE[1]


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
