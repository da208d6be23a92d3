"""Where a bad literal came from, for its message, without printing what a variable or a list holds.

A literal may come from a list file, an environment list or a `${VAR}`: the message names
that entry by its number and source, or shows the scalar as written: no diagnostic prints a
variable's value or a list's other entries.
"""
from __future__ import annotations

from typing import Any

from engine.lang.reader import Reader
from engine.lang.yamlsource import Mapping, Node, Scalar, Sequence
from engine.mail.operators import LiteralError


def literal_message(exc: LiteralError, arg: Node, lists: dict[str, list | None], reader: Reader) -> str:
    """The operator's complaint with the literal at fault shown by its provenance when it has one."""
    message, literal = str(exc), exc.literal
    shown = None if literal is None else provenance(arg, literal, lists, reader)
    raw = str(getattr(literal, "text", literal))
    for form in (repr(raw), f"'{raw}'"):      # operators quote with repr, regex errors as written
        if shown and form in message:
            return message.replace(form, shown)
    return message


def provenance(arg: Node, literal: Any, lists: dict[str, list | None], reader: Reader) -> str | None:
    """A literal for a message with its list and entry number, or as written when from `${VAR}`."""
    entries = lists.get(arg.get("list").text) if isinstance(arg, Mapping) and arg.get("list") else None  # type: ignore[union-attr]
    described = entries.describe(literal) if hasattr(entries, "describe") else None
    return described or _as_written(arg, str(getattr(literal, "text", literal)), reader)


def _as_written(arg: Node, raw: str, reader: Reader) -> str | None:
    """The scalar of `arg` that gave the literal `raw` through `${VAR}`, quoted as written; else None."""
    for item in arg.items if isinstance(arg, Sequence) else [arg]:
        if isinstance(item, Scalar) and "$" in item.text and reader.value_of(item) == raw:
            return repr(item.text)
    return None
