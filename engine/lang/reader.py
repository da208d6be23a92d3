"""Typed values out of YAML nodes: interpolation first, then the scalar rule (docs/policy-language.md, "Scalars").

Every reader method reports a problem at the node's own position and returns
None, so one load collects every error instead of stopping at the first.
"""
from __future__ import annotations

from engine.lang.diagnostics import Collector
from engine.lang.interpolation import RESERVED_HINT, InterpolationError, Interpolator
from engine.lang.yamlsource import Mapping, Node, Scalar, Sequence
from engine.mail.values import NumberLiteral, parse_number
from engine.suggest import hint_for

_KIND = {Scalar: "a scalar", Sequence: "a list", Mapping: "a mapping"}
BOOLEAN_HINT = "only true and false are booleans in a policy, not yes/no/on/off"

Literal = str | NumberLiteral


def kind_of(node: Node | None) -> str:
    return "nothing" if node is None else _KIND[type(node)]


class Reader:
    def __init__(self, collector: Collector, interpolator: Interpolator):
        self.collector = collector
        self.interpolator = interpolator

    def error(self, node, code: str, message: str, hint: str | None = None) -> None:
        """Report at the node; a value read from the environment never reaches the message."""
        redact = self.interpolator.redact
        self.collector.error(node, code, redact(message), hint and redact(hint))

    def _source(self, node: Scalar) -> str | None:
        try:
            return self.interpolator.substitute(node.text)
        except InterpolationError as exc:
            self.interpolation_error(node, exc)
            return None

    def value_of(self, node: Scalar) -> str | None:
        """The scalar's text after interpolation, without reporting anything (None if it fails)."""
        try:
            return self.interpolator.substitute(node.text)
        except InterpolationError:
            return None

    def interpolation_error(self, node: Node | None, exc: InterpolationError) -> None:
        if exc.reserved:
            self.error(node, "reserved-variable", str(exc), RESERVED_HINT)
        elif exc.name:
            self.error(node, "interpolation", str(exc), f"set {exc.name}, or write ${{{exc.name}:-default}}")
        else:
            self.error(node, "interpolation", str(exc), "write $${ for a literal ${")

    @staticmethod
    def shown(node: Node | None, value: str) -> str:
        """`value` quoted for a message; a value that came from `${VAR}` is shown as written, never its value."""
        if isinstance(node, Scalar) and "$" in node.text and node.text != value:
            return repr(node.text)
        return repr(value)

    def text(self, node: Node | None, what: str) -> str | None:
        """A string: the source text of a plain scalar, so `off` stays `off`."""
        if not isinstance(node, Scalar):
            self.error(node, "expected-scalar", f"{what} must be a scalar, not {kind_of(node)}")
            return None
        value = self._source(node)
        if value is not None and value == "" and node.plain:
            self.error(node, "missing-value", f"{what} has no value")
            return None
        return value

    def literal(self, node: Node | None, what: str) -> Literal | None:
        """A comparison literal: a plain decimal scalar is a number literal, anything else text."""
        value = self.text(node, what)
        if value is None:
            return None
        number = parse_number(value) if node.plain else None
        return NumberLiteral(number, value) if number is not None else value

    def number(self, node: Node | None, what: str) -> int | float | None:
        value = self.text(node, what)
        if value is None:
            return None
        number = parse_number(value.strip())
        if number is None:
            self.error(node, "expected-number", f"{what} must be a number, not {self.shown(node, value)}",
                       "write an ASCII decimal number such as 10, -2.5 or 1e3")
        return number

    def boolean(self, node: Node | None, what: str) -> bool | None:
        value = self.text(node, what)
        if value is None:
            return None
        if value in ("true", "false"):
            return value == "true"
        self.error(node, "expected-boolean", f"{what} must be true or false, not {self.shown(node, value)}",
                   BOOLEAN_HINT)
        return None

    def choice(self, node: Node | None, what: str, choices: tuple[str, ...]) -> str | None:
        """One of `choices`, case-insensitively, in its canonical spelling."""
        value = self.text(node, what)
        if value is None:
            return None
        for choice in choices:
            if value.lower() == choice.lower():
                return choice
        self.error(node, "bad-value", f"{what} must be one of {', '.join(choices)}, not {self.shown(node, value)}",
                   hint_for(value, choices))
        return None

    def mapping(self, node: Node | None, what: str) -> Mapping | None:
        if not isinstance(node, Mapping):
            self.error(node, "expected-mapping", f"{what} must be a mapping, not {kind_of(node)}")
            return None
        return node

    def sequence(self, node: Node | None, what: str) -> Sequence | None:
        if not isinstance(node, Sequence):
            self.error(node, "expected-list", f"{what} must be a list, not {kind_of(node)}")
            return None
        return node

    def check_keys(self, node: Mapping, allowed: tuple[str, ...], what: str) -> None:
        """Unknown keys are errors, with the closest allowed key as a hint."""
        for key, _ in node.items:
            if key.text not in allowed:
                self.error(key, "unknown-key", f"unknown key {key.text!r} in {what}",
                           hint_for(key.text, allowed) or f"allowed: {', '.join(allowed)}")
