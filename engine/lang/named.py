"""Named conditions (`conditions:`), in one place: names, references, cycles, depth.

The compiler asks for a reference when it meets `{condition: NAME}`; the loader
compiles the definitions, then links every reference to its target. A chain of
named conditions can be any length, so ordering and depth are computed without
recursion, and the depth a rule reaches through them is bounded.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from engine.conditions import Condition, Named, Pos
from engine.lang.reader import Reader
from engine.lang.yamlsource import Node, Scalar
from engine.suggest import Names, hint_for

if TYPE_CHECKING:
    from engine.lang.compiler import ConditionCompiler

NAME_RE = re.compile(r"[A-Za-z0-9_.-]+\Z")
# Evaluation recurses once per level; named conditions add their own levels on top of the YAML nesting.
MAX_CONDITION_DEPTH = 100


class NamedConditions:
    def __init__(self, reader: Reader, node: Node | None):
        self.reader = reader
        self.nodes: dict[str, Node] = {}
        self.keys: dict[str, Pos] = {}                        # where each name is defined
        self.refs: list[tuple[Named, Scalar]] = []
        self.compiled: dict[str, Condition] = {}
        self.depths: dict[str, int] = {}
        mapping = None if node is None else reader.mapping(node, "conditions")
        for key, value in mapping.items if mapping is not None else ():
            if not NAME_RE.match(key.text):
                reader.error(key, "bad-name", f"condition name {key.text!r} may only hold A-Z a-z 0-9 _ . -")
            self.nodes[key.text] = value
            self.keys[key.text] = Pos(key.line, key.col)
        self.names = Names(self.nodes)       # did-you-mean, once per distinct misspelt name

    def reference(self, node: Node) -> Named | None:
        """`{condition: NAME}`: a reference, linked to its target by `link()`."""
        name = self.reader.text(node, "condition name")
        if name is None:
            return None
        if name not in self.nodes:
            self.reader.error(node, "unknown-condition", f"unknown named condition {name!r}",
                              hint_for(name, self.names) or "define it under `conditions:`")
            return None
        ref = Named(name, Pos(node.line, node.col))
        self.refs.append((ref, node))  # type: ignore[arg-type]
        return ref

    def compile(self, compiler: ConditionCompiler) -> dict[str, Condition]:
        """Every definition compiled; cycles and depths checked in dependency order."""
        edges: dict[str, list[tuple[str, Scalar]]] = {}
        for name, node in self.nodes.items():
            start = len(self.refs)
            condition = compiler.condition(node, f"condition {name!r}")
            edges[name] = [(ref.name, at) for ref, at in self.refs[start:]]
            if condition is not None:
                self.compiled[name] = condition
        for name in self._dependency_order(edges):   # each after the conditions it names
            if name in self.compiled:
                self.depths[name] = self.compiled[name].depth(self.depths)
                self.check_depth(self.compiled[name], self.nodes[name], f"condition {name!r}")
        return self.compiled

    def link(self) -> None:
        for ref, _ in self.refs:
            ref.target = self.compiled.get(ref.name)

    def check_depth(self, condition: Condition, at: object, what: str) -> None:
        depth = condition.depth(self.depths)
        if depth > MAX_CONDITION_DEPTH:
            self.reader.error(at, "too-deep", f"{what} nests {depth} levels deep counting the named conditions "
                              f"it uses (limit {MAX_CONDITION_DEPTH})", "flatten the chain of named conditions")

    def _dependency_order(self, edges: dict[str, list[tuple[str, Scalar]]]) -> list[str]:
        """Depth-first post-order without recursion; a reference back to a condition still being
        visited is a cycle."""
        order: list[str] = []
        state: dict[str, int] = {}   # 1: on the current path, 2: done
        for root in edges:
            if root in state:
                continue
            state[root] = 1
            path, stack = [root], [iter(edges[root])]
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    stack.pop()
                    state[path[-1]] = 2
                    order.append(path.pop())
                    continue
                target, at = step
                if state.get(target) == 1:
                    cycle = " -> ".join(path[path.index(target):] + [target])
                    self.reader.error(at, "condition-cycle", f"named conditions refer to each other in a cycle: "
                                      f"{cycle}", "break the cycle; a condition cannot include itself")
                elif target in edges and target not in state:
                    state[target] = 1
                    path.append(target)
                    stack.append(iter(edges[target]))
        return order
