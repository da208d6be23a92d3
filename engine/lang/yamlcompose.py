"""YAML text -> the node tree of `engine.lang.yamlsource`, straight from the parser's events.

Depth and event count are bounded as events arrive, and the size *after* alias
expansion is counted as each node closes (an alias adds the size of the node it
names), so a bomb is refused before anything walks the tree. The events come from
libyaml when PyYAML has it (ten times faster than its pure-Python parser, which
stays the fallback): a policy at the node bound composes in a tenth of a second.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from engine.lang.diagnostics import Diagnostic, PolicyError
from engine.lang.yamlerrors import syntax_error
from engine.lang.yamlsource import MAX_DEPTH, MAX_NODES, MAX_POLICY_BYTES, Collector, Mapping, Node, \
    Scalar, Sequence, diag

_STANDARD_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(eq=False)
class _Open:
    """A mapping or sequence whose end event has not come yet."""
    node: Mapping | Sequence
    anchor: str | None
    size: int = 1
    key: Scalar | None = None        # a mapping's key waiting for its value
    skip_value: bool = False         # the key was refused: drop its value
    keys: dict[str, Scalar] = field(default_factory=dict)


class _Composer:
    """Events -> nodes without recursion; bounds checked as events arrive, soft errors collected."""

    def __init__(self, text: str, file: str):
        self.text = text
        self.file = file
        self.errors: list[Diagnostic] = []
        self.anchors: dict[str, tuple[Node, int]] = {}    # anchor -> (node, expanded size)
        self.open_anchors: set[str] = set()
        self.stack: list[_Open] = []
        self.events = self.documents = 0
        self.root: Node | None = None

    def compose(self) -> Node | None:
        loader = _LOADER(self.text)
        handlers = {yaml.ScalarEvent: self._on_scalar, yaml.AliasEvent: self._alias,
                    yaml.MappingStartEvent: self._start, yaml.SequenceStartEvent: self._start,
                    yaml.MappingEndEvent: self._end, yaml.SequenceEndEvent: self._end,
                    yaml.DocumentStartEvent: self._document}
        try:
            while True:
                event = loader.get_event()
                if type(event) is yaml.StreamEndEvent:
                    return self.root
                handler = handlers.get(type(event))
                if handler is not None:
                    handler(event)
        finally:
            loader.dispose()

    def _count(self, event: yaml.Event) -> None:
        self.events += 1
        if self.events > MAX_NODES:
            raise self._fatal(event, "too-large", f"policy has more than {MAX_NODES} YAML nodes",
                              "move long lists into a list file: {file: lists/NAME.txt}")

    def _document(self, event: yaml.Event) -> None:
        self.documents += 1
        if self.documents > 1:
            raise self._fatal(event, "yaml-syntax", "invalid YAML: the text holds more than one document",
                              "a policy is one YAML document: remove the --- line")

    def _on_scalar(self, event: yaml.ScalarEvent) -> None:
        self._count(event)
        self._add(self._scalar(event), 1, event, event.anchor)

    def _start(self, event: yaml.CollectionStartEvent) -> None:
        self._count(event)
        if len(self.stack) >= MAX_DEPTH:
            raise self._fatal(event, "too-deep", f"nesting deeper than {MAX_DEPTH} levels",
                              "use named conditions to flatten the policy")
        self._check_tag(event, collection=True)
        line, col = self._pos(event)
        node = Mapping([], line, col) if type(event) is yaml.MappingStartEvent else Sequence([], line, col)
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        self.stack.append(_Open(node, event.anchor))

    def _end(self, event: yaml.CollectionEndEvent) -> None:
        done = self.stack.pop()
        if done.anchor is not None:
            self.open_anchors.discard(done.anchor)
        self._add(done.node, done.size, event, done.anchor)

    def _scalar(self, event: yaml.ScalarEvent) -> Scalar:
        explicit = event.tag not in (None, "!")
        if explicit:
            self._check_tag(event, collection=False)
        line, col = self._pos(event)
        return Scalar(event.value, not event.style and not explicit, line, col)

    def _alias(self, event: yaml.AliasEvent) -> None:
        self._count(event)
        if event.anchor in self.open_anchors:
            raise self._fatal(event, "recursive-alias", "an alias refers to a node that contains it",
                              "remove the alias")
        if event.anchor not in self.anchors:
            raise self._fatal(event, "yaml-syntax", f"invalid YAML: *{event.anchor} is read as an alias, a "
                              f"reference to an anchor, and no &{event.anchor} is defined",
                              f"quote the value: '*{event.anchor}'")
        node, size = self.anchors[event.anchor]
        self._add(node, size, event, None)

    def _add(self, node: Node, size: int, event: yaml.Event, anchor: str | None) -> None:
        """Attach a finished node (its expanded `size`) to the open collection, or make it the root."""
        if anchor in self.anchors:
            self._error(node, "duplicate-anchor", f"anchor &{anchor} is defined twice",
                        "give each anchor its own name")
        elif anchor is not None:
            self.anchors[anchor] = (node, size)
        if not self.stack:
            self.root = node
            return
        parent = self.stack[-1]
        parent.size += size
        if parent.size > MAX_NODES:
            raise self._fatal(event, "too-large", f"policy expands to more than {MAX_NODES} nodes after alias "
                              "expansion", "remove the anchors and aliases (&name / *name)")
        if isinstance(parent.node, Sequence):
            parent.node.items.append(node)
        elif parent.key is None and not parent.skip_value:
            self._key(parent, node, event)
        else:
            if not parent.skip_value:
                parent.node._index[parent.key.text] = len(parent.node.items)  # type: ignore[union-attr]
                parent.node.items.append((parent.key, node))  # type: ignore[arg-type]
            parent.key, parent.skip_value = None, False

    def _key(self, parent: _Open, node: Node, event: yaml.Event) -> None:
        if not isinstance(node, Scalar):
            self._error(node, "bad-key", "mapping keys must be plain strings", "write the key as text")
            parent.skip_value = True
        elif (node.plain and node.text == "<<") or getattr(event, "tag", None) == _MERGE_TAG:
            self._error(node, "merge-key", "merge keys (<<) are not allowed",
                        "write the keys out, or use a named condition")
            parent.skip_value = True
        elif node.text in parent.keys:
            first = parent.keys[node.text]
            self._error(node, "duplicate-key", f"duplicate key {node.text!r} (first at line {first.line})",
                        "remove one of them")
            parent.skip_value = True
        else:
            parent.keys[node.text] = parent.key = node

    def _check_tag(self, event: yaml.Event, collection: bool) -> None:
        tag = event.tag
        if tag in (None, "!") or tag in _STANDARD_TAGS or (tag == _MERGE_TAG and not collection):
            return
        line, col = self._pos(event)
        self.errors.append(diag(self.file, line, col, "bad-tag", f"YAML tag {tag!r} is not allowed",
                                 "remove the tag; policies use plain YAML only"))

    def _error(self, node: Node, code: str, message: str, hint: str) -> None:
        self.errors.append(diag(self.file, node.line, node.col, code, message, hint))

    @staticmethod
    def _pos(event: yaml.Event) -> tuple[int, int]:
        return event.start_mark.line + 1, event.start_mark.column + 1

    def _fatal(self, event: yaml.Event, code: str, message: str, hint: str) -> PolicyError:
        return PolicyError([diag(self.file, *self._pos(event), code, message, hint)])


def compose_document(text: str, file: str, sink: Collector) -> Node | None:
    """The root node of one bounded document; soft problems into `sink`, fatal ones raised (PolicyError)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_POLICY_BYTES:
        raise PolicyError([diag(file, 1, 1, "too-large",
                                 f"policy is {size} bytes, more than the {MAX_POLICY_BYTES} allowed",
                                 "move long lists into a list file: {file: lists/NAME.txt}")])
    composer = _Composer(text, file)
    try:
        root = composer.compose()
    except (yaml.YAMLError, UnicodeEncodeError) as exc:
        if "maximum nesting depth" in str(exc):        # libyaml's own bound (1,000) met while scanning ahead
            mark = exc.problem_mark or exc.context_mark  # type: ignore[union-attr]
            raise PolicyError([diag(file, mark.line + 1, mark.column + 1, "too-deep", f"nesting deeper than "
                                     f"{MAX_DEPTH} levels", "use named conditions to flatten the policy")]) from None
        raise PolicyError([syntax_error(file, text, exc)]) from None
    for error in composer.errors:
        sink.add(error)
    return root
