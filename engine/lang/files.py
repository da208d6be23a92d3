"""Reading the files a policy consists of (the policy itself, its list files): bounded, UTF-8, and
every failure a diagnostic at a position, never an exception from the OS or the codec."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class FileProblem(Exception):
    """Why a file could not be read; `line`/`col` locate a bad byte, when that is the problem."""
    code: str
    message: str
    hint: str | None = None
    line: int = 1
    col: int = 1


def read_text(path: str | os.PathLike, limit: int, what: str) -> str:
    """The file's text (a UTF-8 byte-order mark dropped), at most `limit` bytes, or FileProblem."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise FileProblem("unreadable", f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise FileProblem("too-large", f"{what} {str(path)!r} is larger than {limit} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FileProblem("not-utf8", f"{what} {str(path)!r} line {line} is not UTF-8 "
                          f"(byte 0x{data[exc.start]:02x})", "save the file as UTF-8", line, col) from None
