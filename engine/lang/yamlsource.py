"""YAML text -> a small node tree with positions, refusing what a policy must never hold.

PyYAML's `safe_load` would hand us Python objects with no positions, booleans
for `off`, and an alias bomb as shared references that the first walk expands
for minutes. Composing to nodes keeps the source text and position of every
scalar, and lets the size be bounded *after* alias expansion before anything
walks the tree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import yaml

from engine.lang.diagnostics import Collector, Diagnostic, PolicyError

MAX_POLICY_BYTES = 1024 * 1024   # a policy is hand-written; lists belong in list files
MAX_DEPTH = 64                   # mapping/sequence nesting
MAX_NODES = 100_000              # nodes after alias expansion

_STANDARD_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(eq=False)
class Scalar:
    text: str            # source text (plain) or the unescaped string (quoted)
    plain: bool          # plain scalars follow SPEC 3.1; quoted ones are always strings
    line: int
    col: int


@dataclass(eq=False)
class Sequence:
    items: list["Node"]
    line: int
    col: int


@dataclass(eq=False)
class Mapping:
    items: list[tuple[Scalar, "Node"]]
    line: int
    col: int
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def get(self, key: str) -> "Node | None":
        i = self._index.get(key)
        return None if i is None else self.items[i][1]

    def key_node(self, key: str) -> Scalar | None:
        i = self._index.get(key)
        return None if i is None else self.items[i][0]


Node = Union[Scalar, Sequence, Mapping]


def _diag(file: str, line: int, col: int, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(file, line, col, "error", code, message, hint)


def _mark_diag(file: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
    return _diag(file, line, col, "yaml-syntax", f"invalid YAML: {message}")


def _refuse_at(file: str, event: yaml.Event, code: str, message: str, hint: str) -> PolicyError:
    mark = event.start_mark
    return PolicyError([_diag(file, mark.line + 1, mark.column + 1, code, message, hint)])


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that bounds depth and event count as it reads events (so the text is parsed
    once and the recursive composer never goes deep), and remembers which scalars carried an
    explicit tag."""

    def __init__(self, text: str, file: str):
        super().__init__(text)
        self.file = file
        self.events = self.depth = 0

    def get_event(self):  # type: ignore[override]
        event = super().get_event()
        self.events += 1
        if self.events > MAX_NODES:
            raise _refuse_at(self.file, event, "too-large", f"policy has more than {MAX_NODES} YAML nodes",
                             "move long lists into a list file: {file: lists/NAME.txt}")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _refuse_at(self.file, event, "too-deep", f"nesting deeper than {MAX_DEPTH} levels",
                                 "use named conditions to flatten the policy")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self.depth -= 1
        return event

    def compose_scalar_node(self, anchor):  # type: ignore[override]
        tag = self.peek_event().tag
        node = super().compose_scalar_node(anchor)
        node.explicit_tag = tag not in (None, "!")
        return node


def _bounded_compose(text: str, file: str) -> yaml.Node | None:
    loader = _BoundedLoader(text, file)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


class _RecursiveAlias(Exception):
    def __init__(self, node: yaml.Node):
        self.node = node


def _expanded_size(node: yaml.Node, memo: dict[int, int | None]) -> int:
    """Node count with every alias expanded, computed once per shared node (no exponential walk)."""
    key = id(node)
    if key in memo:
        size = memo[key]
        if size is None:             # reached again while being sized: an alias to its own ancestor
            raise _RecursiveAlias(node)
        return size
    memo[key] = None
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(v, memo) for v in node.value)
    else:
        size = 1
    memo[key] = min(size, MAX_NODES + 1)
    return memo[key]


class _Converter:
    """Turns composed PyYAML nodes into Scalar/Sequence/Mapping, reporting every error."""

    def __init__(self, file: str, collector: Collector):
        self.file = file
        self.collector = collector
        self.failed = False

    def _pos(self, node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def _error(self, node: yaml.Node, code: str, message: str, hint: str | None = None) -> None:
        self.failed = True
        self.collector.add(_diag(self.file, *self._pos(node), code, message, hint))

    def _check_tag(self, node: yaml.Node) -> None:
        explicit = getattr(node, "explicit_tag", False) or not isinstance(node, yaml.ScalarNode)
        if explicit and node.tag not in _STANDARD_TAGS:
            self._error(node, "bad-tag", f"YAML tag {node.tag!r} is not allowed",
                        "remove the tag; policies use plain YAML only")

    def convert(self, node: yaml.Node) -> Node:
        line, col = self._pos(node)
        self._check_tag(node)
        if isinstance(node, yaml.ScalarNode):
            plain = node.style is None and not getattr(node, "explicit_tag", False)
            return Scalar(node.value, plain, line, col)
        if isinstance(node, yaml.SequenceNode):
            return Sequence([self.convert(v) for v in node.value], line, col)
        return self._mapping(node, line, col)

    def _mapping(self, node: yaml.MappingNode, line: int, col: int) -> Mapping:
        result = Mapping([], line, col)
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self._error(key_node, "merge-key", "merge keys (<<) are not allowed",
                            "write the keys out, or use a named condition")
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._error(key_node, "bad-key", "mapping keys must be plain strings")
                continue
            key = self.convert(key_node)
            assert isinstance(key, Scalar)
            if key.text in result._index:
                first = result.items[result._index[key.text]][0]
                self._error(key_node, "duplicate-key",
                            f"duplicate key {key.text!r} (first at line {first.line})",
                            "remove one of them")
                continue
            result._index[key.text] = len(result.items)
            result.items.append((key, self.convert(value_node)))
        return result


def compose(text: str, file: str, collector: Collector | None = None) -> Node | None:
    """Compose one YAML document into nodes.

    Every problem goes to `collector` (then None comes back when no tree can be
    used); without a collector, PolicyError is raised with every problem found.
    """
    sink = collector if collector is not None else Collector(file)
    try:
        tree = _compose(text, file, sink)
    except PolicyError as exc:      # a bound refused while reading: nothing more can be said
        for error in exc.errors:
            sink.add(error)
        tree = None
    if collector is None:
        sink.raise_if_any()
    return tree


def _compose(text: str, file: str, collector: Collector) -> Node | None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_POLICY_BYTES:
        raise PolicyError([_diag(file, 1, 1, "too-large",
                                 f"policy is {size} bytes, more than the {MAX_POLICY_BYTES} allowed",
                                 "move long lists into a list file: {file: lists/NAME.txt}")])
    try:
        root = _bounded_compose(text, file)
    except yaml.MarkedYAMLError as exc:
        raise PolicyError([_mark_diag(file, exc)]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([_diag(file, 1, 1, "yaml-syntax", f"invalid YAML: {exc}")]) from None
    if root is None:
        return None
    try:
        size = _expanded_size(root, {})
    except _RecursiveAlias as exc:
        mark = exc.node.start_mark
        raise PolicyError([_diag(file, mark.line + 1, mark.column + 1, "recursive-alias",
                                 "an alias refers to a node that contains it", "remove the alias")]) from None
    if size > MAX_NODES:
        line, col = root.start_mark.line + 1, root.start_mark.column + 1
        raise PolicyError([_diag(file, line, col, "too-large",
                                 f"policy expands to more than {MAX_NODES} nodes after alias expansion",
                                 "remove the anchors and aliases (&name / *name)")])
    converter = _Converter(file, collector)
    tree = converter.convert(root)
    return None if converter.failed else tree
