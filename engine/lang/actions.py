"""A rule's `actions:` read into ActionPlans, with every problem at its YAML position.

Which types exist and which arguments each takes come from the registry
(`engine.actions.registry`); how an argument is read depends on its kind's
shape: a scalar, addresses (with `{list: NAME}` expanded), X- headers, or a
TEST on one recipient (compiled like any field test). Checks run on the
value after `${VAR}` interpolation.
"""
from __future__ import annotations

from typing import Any

from engine.actionplan import ActionPlan
from engine.actions.arguments import header_name_problem
from engine.actions.registry import ACTION_TYPES, ActionType, Argument
from engine.lang.compiler import ConditionCompiler
from engine.lang.reader import Reader
from engine.lang.yamlsource import Mapping, Node, Scalar, Sequence
from engine.suggest import hint_for

_MISSING = object()


class ActionReader:
    def __init__(self, reader: Reader, compiler: ConditionCompiler, lists: dict[str, list | None]):
        self.reader = reader
        self.compiler = compiler
        self.lists = lists
        self.used_lists: list[str] = []      # the lists the action being read names

    def read(self, node: Node, rule: str) -> tuple[ActionPlan, ...] | None:
        """The rule's actions, or None after reporting an error."""
        seq = self.reader.sequence(node, "actions")
        if seq is None:
            return None
        if not seq.items:
            self.reader.error(seq, "empty-list", "actions is empty", "list at least one action, or remove `actions`")
            return None
        plans = [self._action(item, rule) for item in seq.items]
        return None if any(p is None for p in plans) else tuple(plans)  # type: ignore[arg-type]

    def _action(self, node: Node, rule: str) -> ActionPlan | None:
        mapping = self.reader.mapping(node, "an action")
        if mapping is None:
            return None
        if len(mapping.items) != 1:
            self.reader.error(mapping, "bad-action", f"an action is one type with its arguments, not {len(mapping.items)} keys",
                              "write one mapping per action, e.g. - forward: {to: [a@team.example]}")
            return None
        key, args = mapping.items[0]
        kind = ACTION_TYPES.get(key.text)
        if kind is None:
            self.reader.error(key, "unknown-action", f"unknown action type {key.text!r}",
                              hint_for(key.text, ACTION_TYPES) or f"types: {', '.join(ACTION_TYPES)}")
            return None
        self.used_lists = []
        arguments = self._arguments(kind, args)
        if arguments is None:
            return None
        recipients = arguments.pop("recipients", None)
        return ActionPlan(kind.name, arguments, rule, recipients, mapping.line, mapping.col,
                          tuple(dict.fromkeys(self.used_lists)))

    def _arguments(self, kind: ActionType, node: Node) -> dict[str, Any] | None:
        mapping = self.reader.mapping(node, f"{kind.name} arguments")
        if mapping is None:
            return None
        names = tuple(a.name for a in kind.arguments)
        self.reader.check_keys(mapping, names, f"a {kind.name} action")
        values: dict[str, Any] = {}
        ok = True
        for argument in kind.arguments:
            value_node = mapping.get(argument.name)
            if value_node is None:
                if argument.required:
                    self.reader.error(mapping, "missing-key", f"{kind.name} needs {argument.name}", argument.doc)
                    ok = False
                continue
            value = self._value(kind, argument, value_node)
            if value is _MISSING:
                ok = False
            else:
                values[argument.name] = value
        return values if ok and len(mapping.items) == len(values) else None

    def _value(self, kind: ActionType, argument: Argument, node: Node) -> Any:
        what = f"{kind.name} {argument.name}"
        shape = argument.kind.shape
        if shape == "scalar":
            text = self.reader.text(node, what)
            return _MISSING if text is None or not self._checked(argument, node, what, text) else text
        if shape == "addresses":
            return self._addresses(argument, node, what)
        if shape == "headers":
            return self._headers(argument, node, what)
        key = Scalar("recipients", True, node.line, node.col)
        condition = self.compiler.field_test(key, node)
        return _MISSING if condition is None else condition

    def _checked(self, argument: Argument, node: Node, what: str, text: str) -> bool:
        problem = argument.kind.check(text) if argument.kind.check else None
        if problem:
            self.reader.error(node, "bad-argument", f"{what}: {problem[0]}", problem[1])
        return problem is None

    def _addresses(self, argument: Argument, node: Node, what: str) -> Any:
        items = node.items if isinstance(node, Sequence) else [node]
        if not items:
            self.reader.error(node, "empty-list", f"{what} is empty", "name at least one address")
            return _MISSING
        found: list[str] = []
        ok = True
        for item in items:
            for address, at in self._address_entries(item, what):
                if address is None or not self._checked(argument, at, what, address):
                    ok = False
                elif address.lower() not in {f.lower() for f in found}:
                    found.append(address)
        return found if ok and found else _MISSING

    def _address_entries(self, item: Node, what: str) -> list[tuple[str | None, Node]]:
        if not isinstance(item, Mapping):
            text = self.reader.text(item, what)
            return [(None if text is None else text.strip(), item)]
        self.reader.check_keys(item, ("list",), what)
        name = self.reader.text(item.get("list"), "list name")
        if name is None:
            return [(None, item)]
        self.used_lists.append(name)
        if name not in self.lists:
            self.reader.error(item.get("list"), "unknown-list", f"unknown list {name!r}",
                              hint_for(name, self.lists) or "define it under `lists:`")
            return [(None, item)]
        entries = self.lists[name]
        if entries is None:   # the list has its own error
            return [(None, item)]
        return [(str(getattr(entry, "text", entry)).strip(), item) for entry in entries]

    def _headers(self, argument: Argument, node: Node, what: str) -> Any:
        mapping = self.reader.mapping(node, what)
        if mapping is None or not mapping.items:
            if mapping is not None:
                self.reader.error(mapping, "empty-list", f"{what} is empty", "name at least one X- header")
            return _MISSING
        headers: dict[str, str] = {}
        ok = True
        for key, value_node in mapping.items:
            problem = header_name_problem(key.text)
            if problem:
                self.reader.error(key, "bad-argument", f"{what}: {problem[0]}", problem[1])
                ok = False
                continue
            text = self.reader.text(value_node, f"header {key.text}")
            if text is None or not self._checked(argument, value_node, f"header {key.text}", text):
                ok = False
            else:
                headers[key.text] = text
        return headers if ok else _MISSING
