"""Reading files a stranger may have named: never block, never leave the folder, regular files only.

`open()` on a FIFO waits for a writer, and `/proc/self/fd/1` is whatever standard
output is (a pipe under Lambda): a read there hangs until the function times out.
So a file is opened non-blocking, its type checked on the open descriptor (no race
between the check and the read), and anything but a regular file is refused.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class NotRegularFile(OSError):
    """The path is a FIFO, device, socket or directory: reading it could block or never end."""


class OutsideFolder(OSError):
    """The path resolves (symlinks followed) outside the folder it must stay in."""


def kind_of(mode: int) -> str:
    """What a file is, for a message: "a FIFO (named pipe)", "a directory", ..."""
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def read_regular(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The bytes of a regular file, at most `limit` + 1 of them (so a caller can tell "too large").

    Raises NotRegularFile (without blocking) for anything else, OSError when it cannot be opened.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{kind_of(mode)}, not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read() if limit is None else handle.read(limit + 1)
    finally:
        os.close(fd)


def inside(folder: str | os.PathLike, name: str | os.PathLike) -> Path:
    """`folder / name` with symlinks resolved; OutsideFolder when that leaves `folder` (resolved too)."""
    root = Path(os.path.realpath(folder))
    target = Path(os.path.realpath(root / name))
    if target != root and root not in target.parents:
        raise OutsideFolder(f"resolves to {target}, outside the folder {root}")
    return target
