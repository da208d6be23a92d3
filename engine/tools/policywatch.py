"""The policy a long-running command decides with, reloaded when its file changes (`serve --watch`).

A change is seen by polling the file's status (size, modification time, inode: an editor that
saves by renaming a new file over the old one is seen too). A new version that does not load
leaves the last good policy in place, and the message says why, once per change.
"""
from __future__ import annotations

import os
from pathlib import Path

from engine.lang.diagnostics import PolicyError
from engine.lang.loader import load_policy
from engine.policy import Policy
from engine.tools.output import diagnostic_line

Signature = tuple[int, int, int] | None


def _signature(path: Path) -> Signature:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns, status.st_ino


class PolicyFile:
    """The last good policy loaded from ``path``; ``reload()`` when ``changed()``."""

    def __init__(self, path: Path, policy: Policy) -> None:
        self.path, self.policy = path, policy
        self.seen = _signature(path)

    def current(self) -> Policy:
        return self.policy

    def changed(self) -> bool:
        return _signature(self.path) != self.seen

    def reload(self) -> str:
        """Load the file again; what happened, as a message for the user."""
        self.seen = _signature(self.path)
        old = self.policy
        try:
            new = load_policy(self.path)
        except PolicyError as exc:
            reasons = "".join(f"\n  {diagnostic_line(d)}" for d in exc.errors)
            return (f"{self.path} changed but does not load; still deciding with {old.name} "
                    f"revision {old.revision}:{reasons}")
        self.policy = new
        if new.revision == old.revision:
            return f"{self.path} saved, unchanged (revision {new.revision})"
        return f"{self.path} reloaded: {new.name} revision {new.revision} (was {old.revision})"
