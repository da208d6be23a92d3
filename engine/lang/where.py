"""`where`: tests of several parts of one address, each part's TEST read like a field's.

`{from: {where: {display_name: {contains: CEO}, domain: {not_in_domain: corp.example}}}}`
holds when one address satisfies every part test together (engine.conditions.WhereTest).
`exists`, `count` and `match` are about the field's whole set of addresses: they stand
beside `where`, never inside it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.conditions import PartTest
from engine.lang.yamlsource import Node, Scalar
from engine.mail.fields import PARTS, WHERE_PARTS, Source
from engine.mail.values import ValueForm
from engine.suggest import hint_for

if TYPE_CHECKING:
    from engine.lang.compiler import ConditionCompiler

WHERE = "where"
_BESIDE_WHERE = ("exists", "count", "match", WHERE)


def read_where(compiler: ConditionCompiler, node: Node, cs: bool) -> list[PartTest] | None:
    """`where: {PART: TEST, ...}`: each part's test, checked on one address (None after reporting)."""
    mapping = compiler.reader.mapping(node, "where")
    if mapping is None:
        return None
    if not mapping.items:
        compiler.error(mapping, "empty-condition", "where is empty", "write e.g. where: {domain: {not_in_domain: x}}")
        return None
    parts = [_part_test(compiler, key, value, cs) for key, value in mapping.items]
    return None if any(p is None for p in parts) else parts  # type: ignore[return-value]


def _part_test(compiler: ConditionCompiler, key: Scalar, value: Node, cs: bool) -> PartTest | None:
    part = PARTS.get(key.text) if key.text in WHERE_PARTS else None
    if part is None:
        compiler.error(key, "unknown-field", f"{key.text!r} is not a part of one address",
                       hint_for(key.text, WHERE_PARTS) or f"parts: {', '.join(WHERE_PARTS)}")
        return None
    ops = compiler.as_operators(value, key)
    part_cs = compiler.case_sensitive(value)
    if ops is None or part_cs is None:
        return None
    part_cs = part_cs or cs
    misplaced = [k for k, _ in ops.items if k.text in _BESIDE_WHERE]
    for k in misplaced:
        compiler.error(k, "misplaced-in-where", f"{k.text} cannot stand inside where",
                       "write it beside where: it is about the field's whole set of addresses")
    checks = compiler.checks(PartSource(part, part_cs, key.text), [(k, v) for k, v in ops.items if k not in misplaced],
                             False)
    if checks is None or misplaced:
        return None
    value_checks, set_checks, _ = checks
    if not value_checks and not set_checks:
        compiler.error(key, "missing-operator", f"where test of {key.text} has no operator")
        return None
    return PartTest(part, part_cs, value_checks, set_checks)


class PartSource(Source):
    """The values of one part of one address (inside `where`): only its form matters at load time."""

    def __init__(self, part: Any, cs: bool, label: str):
        self.label = label
        self.form = ValueForm(part.form, cs, label)
