"""The shape of an SES receiving record's `ses` object, derived from the field registry.

Every named field's paths, plus the members SES sends that no named field exposes,
make one tree: a dict is an object with known keys, a one-item list a JSON array
of that shape, `LEAF` a scalar. Lint follows policy paths through it; a new field
in `engine.mail.fields.FIELDS` extends it without another list to keep in step.
"""
from __future__ import annotations

from typing import Any

import jsonpath_ng.jsonpath as jp

from engine.mail.fields import FIELDS
from engine.mail.jsonpath import compile_path

LEAF = "leaf"
# What AWS documents (and the corpus events hold) beyond the named fields.
OTHER_MEMBERS = (
    "$.mail.timestamp", "$.mail.headers[*].name", "$.mail.headers[*].value",
    "$.receipt.timestamp", "$.receipt.action.functionArn", "$.receipt.action.bucketName",
    "$.receipt.action.objectKey", "$.receipt.action.objectKeyPrefix", "$.receipt.action.topicArn",
    "$.receipt.action.encoding",
)


def _steps(path: str) -> list[Any]:
    """A registry path's steps: member names and `[*]` (None)."""
    steps: list[Any] = []
    node = compile_path(path).expr
    while isinstance(node, jp.Child):
        right = node.right
        steps.append(right.fields[0] if isinstance(right, jp.Fields) else None)
        node = node.left
    return steps[::-1]


def build_shape() -> dict[str, Any]:
    shape: dict[str, Any] = {}
    for path in [p for f in FIELDS.values() for p in f.paths] + list(OTHER_MEMBERS):
        _add_path(shape, _steps(path))
    return shape


def _add_path(shape: dict[str, Any], steps: list[Any]) -> None:
    """`mail.commonHeaders.from[*]` -> {"mail": {"commonHeaders": {"from": [LEAF]}}}."""
    holder: Any = shape
    for i, step in enumerate(steps):
        nxt = steps[i + 1] if i + 1 < len(steps) else LEAF
        if step is None:
            continue                           # handled by the member before it
        if nxt is None:                        # an array of what follows
            after = steps[i + 2] if i + 2 < len(steps) else LEAF
            array = holder.setdefault(step, [LEAF if after == LEAF else {}])
            if after != LEAF and array[0] == LEAF:
                array[0] = {}
            holder = array[0]
        elif nxt == LEAF:
            holder.setdefault(step, LEAF)
        else:
            holder = holder.setdefault(step, {})


RECORD_SHAPE: dict[str, Any] = build_shape()
