"""Operator arguments: one table entry per kind, read by the compiler, described to the schema.

An operator row (`engine.mail.operators`) names its argument kind; the kind says
how the argument is read from its node and what the JSON Schema allows there.
`as_written` is how every argument appears in traces and logs: the policy's own
text (`"${MAIL_SOURCE}"`, `{"list": "blocked"}`), never a resolved value.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Protocol

from engine.lang.reader import Reader
from engine.lang.yamlsource import Mapping, Node, Scalar, Sequence
from engine.mail.values import ValueForm, parse_number
from engine.suggest import Names, hint_for

INTERPOLATED = {"type": "string", "pattern": r"\$\{"}
NUMBER_SCHEMA = {"anyOf": [{"type": "number"}, INTERPOLATED]}


class Context(Protocol):
    """What reading an argument needs from the compiler."""
    reader: Reader
    lists: dict[str, list | None]
    list_names: Names                # did-you-mean over the lists, asked once per distinct name

    def field(self, node: Node, name: str, form: ValueForm) -> Any: ...

    def count(self, node: Node) -> Any: ...


class Argument(NamedTuple):      # a row, immutable; a NamedTuple costs a cold start a fifth of a frozen dataclass
    read: Callable[[Context, Node, str, ValueForm], Any]   # the value, or None after reporting
    schema: dict[str, Any]                                  # the JSON Schema of the argument


def _literal(ctx: Context, node: Node, op: str, form: ValueForm) -> Any:
    return ctx.reader.literal(node, op)


def _literals(ctx: Context, node: Node, op: str, form: ValueForm) -> list | None:
    """Strings written inline (one or a list) or `{list: NAME}`."""
    if isinstance(node, Mapping):
        ctx.reader.check_keys(node, ("list",), f"{op} argument")
        name = ctx.reader.text(node.get("list"), "list name")
        if name is None:
            return None
        if name not in ctx.lists:
            ctx.reader.error(node.get("list"), "unknown-list", f"unknown list {name!r}",
                             hint_for(name, ctx.list_names) or "define it under `lists:`")
            return None
        return ctx.lists[name]     # None: a list that failed, with its own error
    items = node.items if isinstance(node, Sequence) else [node]
    if not items:
        ctx.reader.error(node, "empty-list", f"{op} needs at least one value")
        return None
    values = [ctx.reader.literal(item, f"{op} value") for item in items]
    return None if any(v is None for v in values) else values


def _number(ctx: Context, node: Node, op: str, form: ValueForm) -> Any:
    return ctx.reader.number(node, op)


def _boolean(ctx: Context, node: Node, op: str, form: ValueForm) -> Any:
    return ctx.reader.boolean(node, op)


def _field(ctx: Context, node: Node, op: str, form: ValueForm) -> Any:
    name = ctx.reader.text(node, op)
    return None if name is None else ctx.field(node, name, form)


def _count(ctx: Context, node: Node, op: str, form: ValueForm) -> Any:
    return ctx.count(node)


ARGUMENTS: dict[str, Argument] = {
    "literal": Argument(_literal, {"$ref": "#/$defs/scalar"}),
    "literals": Argument(_literals, {"$ref": "#/$defs/literals"}),
    "number": Argument(_number, NUMBER_SCHEMA),
    "boolean": Argument(_boolean, {"$ref": "#/$defs/boolean"}),
    "field": Argument(_field, {"$ref": "#/$defs/fieldName"}),
    "count": Argument(_count, {"$ref": "#/$defs/count"}),
}


def as_written(node: Node | None) -> Any:
    """An argument as the policy wrote it, as JSON: plain numbers and true/false as such, every
    other scalar as its source text (before `${...}` substitution), lists and mappings alike."""
    if isinstance(node, Scalar):
        if node.plain:
            number = parse_number(node.text)
            if number is not None:
                return number
            if node.text in ("true", "false"):
                return node.text == "true"
        return node.text
    if isinstance(node, Sequence):
        return [as_written(item) for item in node.items]
    if isinstance(node, Mapping):
        return {key.text: as_written(value) for key, value in node.items}
    return None
