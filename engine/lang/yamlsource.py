"""The policy's node tree (`Scalar`, `Sequence`, `Mapping` with 1-based positions) and `compose`.

PyYAML's `safe_load` would hand us Python objects with no positions, booleans
for `off`, and an alias bomb as shared references that the first walk expands
for minutes. So the node tree is composed from the parser's events
(`engine.lang.yamlcompose`, imported on the first `compose`): the source text and
position of every scalar are kept, depth and event count are bounded as events
arrive, and the size *after* alias expansion is counted as each node closes.
The nodes themselves need no YAML: a precompiled policy bundle
(`engine.lang.precompiled`) rebuilds them from JSON, so a cold start that loads
one never imports PyYAML.

Problems in a well-formed document (a duplicate key, a tag, a merge key) are
collected, not raised, so the loader can report every other error as well.
"""
from __future__ import annotations

from typing import Union

from engine.lang.diagnostics import Collector, Diagnostic, PolicyError

MAX_POLICY_BYTES = 1024 * 1024   # a policy is hand-written; lists belong in list files
MAX_DEPTH = 64                   # mapping/sequence nesting
MAX_NODES = 100_000              # nodes after alias expansion


class _Node:
    """Plain classes, not dataclasses: a cold start builds a handful and should not pay for
    generating their methods (nodes compare by identity)."""
    __slots__ = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name[0] != "_")
        return f"{type(self).__name__}({fields})"


class Scalar(_Node):
    __slots__ = ("text", "plain", "line", "col")

    def __init__(self, text: str, plain: bool, line: int, col: int) -> None:
        self.text = text      # source text (plain) or the unescaped string (quoted)
        self.plain = plain    # plain scalars follow the scalar rule; quoted ones are always strings
        self.line = line
        self.col = col


class Sequence(_Node):
    __slots__ = ("items", "line", "col")

    def __init__(self, items: list[Node], line: int, col: int) -> None:
        self.items = items
        self.line = line
        self.col = col


class Mapping(_Node):
    __slots__ = ("items", "line", "col", "_index")

    def __init__(self, items: list[tuple[Scalar, Node]], line: int, col: int) -> None:
        self.items = items
        self.line = line
        self.col = col
        # key text -> position in items; the composer, which appends items one by one, keeps it current
        self._index: dict[str, int] = {key.text: i for i, (key, _) in enumerate(items)}

    def get(self, key: str) -> Node | None:
        i = self._index.get(key)
        return None if i is None else self.items[i][1]

    def key_node(self, key: str) -> Scalar | None:
        i = self._index.get(key)
        return None if i is None else self.items[i][0]


Node = Union[Scalar, Sequence, Mapping]


def diag(file: str, line: int, col: int, code: str, message: str, hint: str | None = None) -> Diagnostic:
    """An error diagnostic at a position of the policy text."""
    return Diagnostic(file, line, col, "error", code, message, hint)


def compose(text: str, file: str, collector: Collector | None = None) -> Node | None:
    """Compose one YAML document into nodes.

    Every problem goes to `collector`: a text that cannot be read as one bounded YAML
    document gives None; a well-formed document comes back without the offending keys (the
    first of duplicate keys is kept), so its other errors are found too. Without a collector,
    PolicyError is raised with every problem found.
    """
    from engine.lang.yamlcompose import compose_document   # PyYAML: only when there is YAML to read

    sink = collector if collector is not None else Collector(file)
    try:
        root = compose_document(text, file, sink)
    except PolicyError as exc:
        for error in exc.errors:
            sink.add(error)
        root = None
    if collector is None:
        sink.raise_if_any()
    return root
