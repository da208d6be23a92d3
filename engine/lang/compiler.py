"""Conditions -> the condition tree (`engine.conditions`), with a fast `test(ctx)` per node.

Everything that can be decided at load time is: keys resolved against the
field registry, operators looked up in theirs, arguments read by their kind
(`engine.lang.arguments`), literals normalised. A condition that does not
compile leaves a diagnostic at its YAML position and compiles to nothing; the
loader refuses the policy if any diagnostic exists.
"""
from __future__ import annotations

from typing import Any

from engine.conditions import (
    AllOf,
    AnyOf,
    Check,
    Condition,
    CountCheck,
    Not,
    Pos,
    SameAs,
    Test,
    WhereTest,
)
from engine.lang.arguments import ARGUMENTS, as_written
from engine.lang.named import NamedConditions
from engine.lang.provenance import literal_message, provenance
from engine.lang.reader import BOOLEAN_HINT, Reader
from engine.lang.where import WHERE, read_where
from engine.lang.yamlsource import Mapping, Node, Scalar, Sequence
from engine.mail.fields import (
    FieldError,
    FieldSpec,
    PathSource,
    Source,
    address_source,
    resolve,
)
from engine.mail.jsonpath import PathError
from engine.mail.operators import (
    COUNT_OPERATORS,
    NEGATIONS,
    OPERATORS,
    LiteralError,
    Operator,
    all_operator_names,
    form_hint,
    same_as_key,
)
from engine.mail.values import NumberLiteral, ValueForm
from engine.suggest import Names, hint_for

COMBINATORS = ("all", "any", "not", "condition")
# Keys of a rule that are no field: written under `when:`, they were meant beside it.
RULE_KEYS_NOT_FIELDS = ("name", "description", "disposition", "enabled", "mode", "lint", "actions")
TEST_OPTIONS = ("match", "case_sensitive")
MATCH_MODES = ("any", "all")
_NUMBER_FORM = ValueForm("number", field="count", base="count")
_FORM_NAMES = {"text": "text", "name": "a display name", "local": "a local part", "raw": "raw text",
               "value": "not an address"}


def pos(node: Node) -> Pos:
    return Pos(node.line, node.col)


class ConditionCompiler:
    """Compiles condition nodes; named conditions and lists come from the loader."""

    def __init__(self, reader: Reader, lists: dict[str, list | None], named: NamedConditions):
        self.reader = reader
        self.lists = lists
        self.named = named
        self.header_names: set[str] = set()     # lower-cased; the only headers a record indexes
        self.list_names = Names(lists)           # did-you-mean over the lists, once per distinct name
        self.list_checks: dict[tuple, tuple[Any, Any] | None] = {}   # one build per list, operator and form
        self._combinators = {"all": self._all, "any": self._any, "not": self._not, "condition": self._condition}

    def error(self, node: Any, code: str, message: str, hint: str | None = None) -> None:
        self.reader.error(node, code, message, hint)

    def source(self, key: Node, name: str, cs: bool, *, where: bool = False) -> Source | None:
        """A field key as a value source (None after reporting); registers the headers it reads."""
        try:
            source = address_source(name, cs) if where else resolve(name, cs)
        except FieldError as exc:
            self.error(key, "unknown-field", str(exc), exc.hint)
            return None
        if source.header:
            self.header_names.add(source.header)
        return source

    # -- conditions ----------------------------------------------------------------------------

    def condition(self, node: Node | None, what: str = "condition") -> Condition | None:
        mapping = self.reader.mapping(node, what)
        if mapping is None:
            return None
        if not mapping.items:
            self.error(mapping, "empty-condition", f"{what} is empty",
                       "write a test such as {spf: PASS}, or remove `when` to always match")
            return None
        if what == "when" and any(k.text in RULE_KEYS_NOT_FIELDS for k, _ in mapping.items):
            mapping = self._without_rule_keys(mapping)   # type: ignore[assignment]
            if mapping is None:
                return None
        keys = [k.text for k, _ in mapping.items]
        combinator = next((k for k in keys if k in COMBINATORS), None)
        if combinator is not None:
            if len(keys) > 1:
                self.error(mapping, "mixed-condition",
                           f"{combinator!r} cannot stand beside other keys ({', '.join(k for k in keys if k != combinator)})",
                           "wrap them: {all: [...]}")
                return None
            key, value = mapping.items[0]
            return self._combinators[combinator](value, key, mapping)
        if "path" in keys:
            return self._path_test(mapping)
        tests = [self.field_test(key, value) for key, value in mapping.items]
        if any(t is None for t in tests):
            return None
        return tests[0] if len(tests) == 1 else AllOf(tests, pos(mapping))  # type: ignore[arg-type]

    def _without_rule_keys(self, mapping: Mapping) -> Mapping | None:
        """`disposition:` indented under `when:` is a rule key in the wrong place, not a field: say so,
        and compile the rest of the condition so its own errors are reported too."""
        for key, _ in mapping.items:
            if key.text in RULE_KEYS_NOT_FIELDS:
                self.error(key, "rule-key-in-when", f"{key.text!r} is a key of the rule, indented under `when:`",
                           f"indent {key.text}: like `when:`, as a key of the rule")
        rest = [(k, v) for k, v in mapping.items if k.text not in RULE_KEYS_NOT_FIELDS]
        if not rest:
            return None
        return Mapping(rest, mapping.line, mapping.col)

    def _children(self, node: Node, key: Scalar) -> list[Condition] | None:
        items = self.reader.sequence(node, f"{key.text!r}")
        if items is None:
            return None
        if not items.items:
            self.error(items, "empty-list", f"{key.text!r} needs at least one condition")
            return None
        children = [self.condition(c) for c in items.items]
        return None if any(c is None for c in children) else children  # type: ignore[return-value]

    def _all(self, node: Node, key: Scalar, at: Mapping) -> Condition | None:
        children = self._children(node, key)
        return None if children is None else children[0] if len(children) == 1 else AllOf(children, pos(at))

    def _any(self, node: Node, key: Scalar, at: Mapping) -> Condition | None:
        children = self._children(node, key)
        return None if children is None else children[0] if len(children) == 1 else AnyOf(children, pos(at))

    def _not(self, node: Node, key: Scalar, at: Mapping) -> Condition | None:
        child = self.condition(node)
        return None if child is None else Not(child, pos(at))

    def _condition(self, node: Node, key: Scalar, at: Mapping) -> Condition | None:
        return self.named.reference(node)

    # -- tests ---------------------------------------------------------------------------------

    def _path_test(self, mapping: Mapping) -> Condition | None:
        path_node = mapping.get("path")
        path = self.reader.text(path_node, "path")
        cs = self.case_sensitive(mapping)
        if path is None or cs is None:
            return None
        try:
            source = PathSource(path, (path,), ValueForm("json", cs, path, path))
        except PathError as exc:
            self._path_error(path_node, exc)
            return None
        source.at = pos(path_node)   # where lint reports the path
        ops = Mapping([(k, v) for k, v in mapping.items if k.text != "path"], mapping.line, mapping.col)
        if not ops.items:
            self.error(mapping, "missing-operator", f"path test on {path} has no operator", "add e.g. exists: true")
            return None
        return self._test(source, ops, mapping.key_node("path"), cs)  # type: ignore[arg-type]

    def _path_error(self, node: Node, exc: PathError) -> None:
        at = node
        if exc.offset is not None and isinstance(node, Scalar) and "\n" not in node.text:
            at = Scalar(node.text, node.plain, node.line, node.col + exc.offset + (0 if node.plain else 1))
        self.error(at, "bad-path", str(exc))

    def field_test(self, key: Scalar, value: Node) -> Condition | None:
        """A TEST on the field `key` names (also outside a condition: an action's `recipients:`)."""
        cs = self.case_sensitive(value)
        if cs is None:
            return None
        value = self.as_operators(value, key)   # type: ignore[assignment]
        if value is None:
            return None
        source = self.source(key, key.text, cs, where=value.get(WHERE) is not None)
        return None if source is None else self._test(source, value, key, cs)

    def as_operators(self, value: Node, key: Scalar) -> Mapping | None:
        """A TEST as its operator mapping: a scalar is `equals`, a list is `in`."""
        if isinstance(value, Scalar):
            return Mapping([(Scalar("equals", True, value.line, value.col), value)], value.line, value.col)
        if isinstance(value, Sequence):
            return Mapping([(Scalar("in", True, value.line, value.col), value)], value.line, value.col)
        if not isinstance(value, Mapping):
            self.error(value, "bad-test", f"test of {key.text} must be a scalar, list or mapping")
            return None
        return value

    def case_sensitive(self, node: Node) -> bool | None:
        """The test's `case_sensitive` option, read once (None after reporting a bad value)."""
        if isinstance(node, Mapping) and node.get("case_sensitive") is not None:
            return self.reader.boolean(node.get("case_sensitive"), "case_sensitive")
        return False

    def _test(self, source: Source, ops: Mapping, at: Scalar, cs: bool) -> Condition | None:
        where = ops.key_node(WHERE)
        checks = self.checks(source, [(k, v) for k, v in ops.items if k is not where], where is not None)
        if checks is None:
            return None
        value_checks, set_checks, match_all = checks
        if where is not None:
            parts = read_where(self, ops.get(WHERE), source.form.case_sensitive)  # type: ignore[arg-type]
            if parts is None:
                return None
            return WhereTest(source, value_checks, set_checks, match_all, pos(at),  # type: ignore[arg-type]
                             parts, as_written(ops.get(WHERE)), pos(where))
        if not value_checks and not set_checks:
            self.error(at, "missing-operator", f"test of {source.label} has no operator")
            return None
        return Test(source, value_checks, set_checks, match_all, pos(at))

    def checks(self, source: Source, items: list[tuple[Scalar, Node]], beside_where: bool
                ) -> tuple[list[Check], list[Check], bool] | None:
        """The operators of one TEST, split into per-value and whole-set checks, and its match mode."""
        match_all, ok = False, True
        value_checks: list[Check] = []
        set_checks: list[Check] = []
        has_negation = any(k.text in NEGATIONS for k, _ in items)
        for key, arg in items:
            if key.text == "match":
                match_all = self.reader.choice(arg, "match", MATCH_MODES) == "all"
                if has_negation and not beside_where:
                    self.error(key, "match-with-negation", "a test with a negation cannot also hold `match`",
                               "a negation already covers every value; drop `match`")
                    ok = False
            elif key.text not in TEST_OPTIONS:
                check = self._check(key, arg, source)
                if check is None:
                    ok = False
                else:
                    (set_checks if check.whole or check.negated else value_checks).append(check)
        return (value_checks, set_checks, match_all) if ok else None

    def _check(self, key: Scalar, arg: Node, source: Source) -> Check | None:
        name = key.text
        positive = NEGATIONS.get(name, name)
        op = OPERATORS.get(positive)
        if op is None:
            self.error(key, "unknown-operator", f"unknown operator {name!r}",
                       hint_for(name, all_operator_names() + list(TEST_OPTIONS) + [WHERE]))
            return None
        form = source.form
        if op.forms is not None and form.kind not in op.forms:
            self.error(key, "not-an-address", f"{name} needs an address or a domain, not "
                       f"{_FORM_NAMES.get(form.kind, form.kind)} ({form.field})", form_hint(name, form))
            return None
        list_key = _list_key(positive, arg, form)
        if list_key in self.list_checks:      # a list used many times is built once per operator and field
            built = self.list_checks[list_key]
        else:
            value = ARGUMENTS[op.arg].read(self, arg, positive, form)
            if value is None:                 # not kept: each reference to an unknown list is reported
                return None
            built = self._build(op, value, arg, source)
            if list_key is not None:
                self.list_checks[list_key] = built   # a list that failed to build has reported it once
        if built is None:
            return None
        value, pred = built
        at, written = pos(key), as_written(arg)
        if positive == "same_as":
            return SameAs(name, written, value, same_as_key(form, value.form), at)
        if positive == "count":
            return CountCheck(value, written, at)
        return Check(name, written, value, pred, negated=name in NEGATIONS, whole=op.scope == "whole", at=at)

    def _build(self, op: Operator, value: Any, arg: Node, source: Source) -> tuple[Any, Any] | None:
        """The argument as read and the operator's predicate (None for same_as and count, which the
        check builds); None after reporting an error."""
        if op.name in ("equals", "in") and not self._check_enum(source.field, arg, value):
            return None
        if op.build is None:
            return value, None
        try:
            return value, op.build(value, source.form)
        except LiteralError as exc:
            self.error(arg, "bad-literal", literal_message(exc, arg, self.lists, self.reader), exc.hint)
            return None

    def _check_enum(self, field: FieldSpec | None, node: Node, value: Any) -> bool:
        """Verdict, enum and boolean fields take only their own values (`spf: PAS` is a typo)."""
        if field is None or (field.kind != "boolean" and not field.values):
            return True
        texts = [lit.text if isinstance(lit, NumberLiteral) else lit for lit in
                 (value if isinstance(value, list) else [value])]
        if field.kind == "boolean":
            bad = [t for t in texts if t not in ("true", "false")]
            for text in bad:
                self.error(node, "expected-boolean", f"{field.name} must be true or false, not {text!r}",
                           BOOLEAN_HINT)
            return not bad
        allowed = {v.lower() for v in field.values}
        literals = value if isinstance(value, list) else [value]
        bad = [(lit, text) for lit, text in zip(literals, texts) if text.lower() not in allowed]
        for lit, text in bad:
            shown = provenance(node, lit, self.lists, self.reader) or repr(text)
            self.error(node, "bad-value", f"{shown} is not a {field.name} value ({', '.join(field.values)})",
                       hint_for(text, field.values))
        return not bad

    # -- arguments (engine.lang.arguments.Context) ------------------------------------------------

    def field(self, node: Node, name: str, form: ValueForm) -> Source | None:
        """`same_as`'s argument: another field, in the same case sensitivity."""
        other = self.source(node, name, form.case_sensitive)
        if other is not None and other.form.kind == "text" and form.kind in ("address", "domain", "local"):
            self.error(node, "not-an-address", f"same_as compares {form.field} with the text of {name}",
                       form_hint("same_as", other.form))
            return None
        return other

    def count(self, node: Node) -> list[Check] | None:
        """`count: N` or `count: {gt: N, ...}`: number checks on the number of values."""
        if isinstance(node, Scalar):
            node = Mapping([(Scalar("equals", True, node.line, node.col), node)], node.line, node.col)
        mapping = self.reader.mapping(node, "count")
        if mapping is None:
            return None
        checks = []
        for key, arg in mapping.items:
            if key.text not in COUNT_OPERATORS:
                self.error(key, "unknown-operator", f"count cannot hold {key.text!r}",
                           hint_for(key.text, COUNT_OPERATORS) or f"allowed: {', '.join(COUNT_OPERATORS)}")
                return None
            check = self._check(key, arg, _COUNTED)
            if check is None:
                return None
            checks.append(check)
        return checks


class _Counted(Source):
    label = "count"
    form = _NUMBER_FORM


_COUNTED = _Counted()


def _list_key(op: str, arg: Node, form: ValueForm) -> tuple | None:
    """What a check on a `{list: NAME}` argument depends on: operator, list and the values' form."""
    if not (isinstance(arg, Mapping) and len(arg.items) == 1 and isinstance(arg.get("list"), Scalar)):
        return None
    return op, arg.get("list").text, form  # type: ignore[union-attr]
