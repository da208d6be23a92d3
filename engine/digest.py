"""SHA-256 without importing `hashlib` on a cold start.

`hashlib` loads OpenSSL's libcrypto and builds its table of constructors (3-7 ms of a
Lambda cold start that hashes only a few kilobytes: the policy revision and the
precompiled bundle's checks). CPython's own SHA-256 (`_sha2` from 3.12, `_sha256`
before) gives the same digests; `hashlib` stays the fallback for an interpreter built
without it.
"""
from __future__ import annotations

from typing import Any


def _constructor() -> Any:
    try:
        from _sha2 import sha256 as builtin        # type: ignore[import-not-found]  # CPython 3.12+
    except ImportError:
        try:
            from _sha256 import sha256 as builtin  # type: ignore[import-not-found,no-redef]  # CPython 3.11
        except ImportError:
            from hashlib import sha256 as builtin  # type: ignore[assignment]
    return builtin


sha256 = _constructor()


def hexdigest(data: bytes) -> str:
    """The SHA-256 of `data` in hex."""
    return sha256(data).hexdigest()
