"""The naive design: the same compiled policy, but every JSONPath evaluated with `find()` per event.

Seam: `engine.mail.jsonpath._plain_segments` decides whether a path gets a generated
direct getter; made to answer None, every `compile_path` falls back to
`jsonpath_ng.ext` `find()` (parsed once, `find()` on every call), exactly the
getter the engine keeps for filter paths. Everything else (field registry,
operators, address parsing, per-record caches) is the engine's own.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import engine.mail.jsonpath as jsonpath
from engine import Policy, load_policy
from engine.mail.fields import FIELDS
from engine.mail.jsonpath import Getter, compile_path


@contextlib.contextmanager
def find_everywhere() -> Iterator[None]:
    """Within the block, compile_path returns find()-based getters only."""
    original = jsonpath._plain_segments
    jsonpath._compile.cache_clear()
    jsonpath._plain_segments = lambda expr: None
    try:
        if jsonpath.compile_path("$.mail.source").direct:
            raise RuntimeError("the naive-design seam no longer works: engine.mail.jsonpath changed")
        yield
    finally:
        jsonpath._plain_segments = original
        jsonpath._compile.cache_clear()


def load_naive(path: Path) -> Policy:
    with find_everywhere():
        return load_policy(path)


def field_getters(fields: tuple[str, ...]) -> tuple[list[Getter], list[Getter]]:
    """(direct, find()) getters for every path of the named fields: the lookups alone."""
    paths = [path for name in fields for path in FIELDS[name].paths]
    direct = [compile_path(path) for path in paths]
    with find_everywhere():
        found = [compile_path(path) for path in paths]
    return direct, found
