"""Reading the files a policy consists of (the policy itself, its list files, test files): bounded,
regular files only (opened without blocking, `engine.files`), UTF-8; every failure a diagnostic
at a position, never an exception from the OS or the codec."""
from __future__ import annotations

import os

from engine.files import NotRegularFile, read_regular


class FileProblem(Exception):
    """Why a file could not be read; `line`/`col` locate a bad byte, when that is the problem."""

    def __init__(self, code: str, message: str, hint: str | None = None, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.code = code          # unreadable | not-regular | too-large | not-utf8
        self.message = message
        self.hint = hint
        self.line = line
        self.col = col


def read_text(path: str | os.PathLike, limit: int, what: str, shown: str | None = None) -> str:
    """The file's text (a UTF-8 byte-order mark dropped), at most `limit` bytes, or FileProblem.

    `shown` is how messages name the file (as the policy wrote it), by default its path.
    """
    name = repr(str(path) if shown is None else shown)
    try:
        data = read_regular(path, limit)     # a FIFO or device is refused, not waited on
    except NotRegularFile as exc:
        raise FileProblem("not-regular", f"cannot read {what} {name}: it is {exc}") from None
    except OSError as exc:
        raise FileProblem("unreadable", f"cannot read {what} {name}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise FileProblem("too-large", f"{what} {name} is larger than {limit} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FileProblem("not-utf8", f"{what} {name} line {line} is not UTF-8 (byte 0x{data[exc.start]:02x})",
                          "save the file as UTF-8", line, col) from None
