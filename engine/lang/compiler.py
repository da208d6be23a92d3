"""Conditions -> predicate objects with a fast `test(ctx)` and a readable `explain(ctx)`.

Everything that can be decided at load time is: keys resolved against the
field registry, operators looked up in theirs, literals normalised. A
condition that does not compile leaves a diagnostic at its YAML position and
compiles to nothing; the loader refuses the policy if any diagnostic exists.
"""
from __future__ import annotations

from typing import Any, Callable

from engine.conditions import (
    AllOf,
    AnyOf,
    Check,
    Condition,
    Named,
    Not,
    Test,
    json_safe,
)
from engine.lang.reader import BOOLEAN_HINT, Reader
from engine.lang.yamlsource import Mapping, Node, Scalar, Sequence
from engine.mail.fields import (
    FieldError,
    FieldSpec,
    HeaderSource,
    PathSource,
    Source,
    resolve,
)
from engine.mail.jsonpath import PathError
from engine.mail.operators import (
    COUNT_OPERATORS,
    NEGATIONS,
    OPERATORS,
    LiteralError,
    all_operator_names,
)
from engine.mail.values import NumberLiteral
from engine.suggest import Names, hint_for

COMBINATORS = ("all", "any", "not", "condition")
TEST_OPTIONS = ("match", "case_sensitive")
MATCH_MODES = ("any", "all")
# Keys of a rule that are no field: written under `when:`, they were meant beside it.
RULE_KEYS_NOT_FIELDS = ("name", "description", "disposition", "enabled", "mode", "lint", "actions")


class ConditionCompiler:
    """Compiles condition nodes; named conditions and lists come from the loader."""

    def __init__(self, reader: Reader, lists: dict[str, list], named: dict[str, Node]):
        self.reader = reader
        self.lists = lists
        self.named_nodes = named
        self.refs: list[tuple[Named, Scalar]] = []
        self.header_names: set[str] = set()     # lower-cased; the only headers a record indexes
        self.list_names, self.condition_names = Names(lists), Names(named)
        self.list_checks: dict[tuple, tuple[Callable, Any]] = {}   # one build per list, operator and field

    def resolve(self, key: str, cs: bool) -> tuple[Source, FieldSpec | None]:
        source, field = resolve(key, cs)
        if isinstance(source, HeaderSource):
            self.header_names.add(source.key)
        return source, field

    def error(self, node, code: str, message: str, hint: str | None = None) -> None:
        self.reader.error(node, code, message, hint)

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
            mapping = self._without_rule_keys(mapping)
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
            build = {"all": self._all, "any": self._any, "not": self._not, "condition": self._condition}[combinator]
            return build(mapping.items[0][1], mapping.items[0][0])
        if "path" in keys:
            return self._path_test(mapping)
        tests = [self._field_test(key, value) for key, value in mapping.items]
        if any(t is None for t in tests):
            return None
        return tests[0] if len(tests) == 1 else AllOf(tests)  # type: ignore[arg-type]

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
        kept = Mapping(rest, mapping.line, mapping.col)
        kept._index = {k.text: i for i, (k, _) in enumerate(rest)}
        return kept

    def _children(self, node: Node, key: Scalar) -> list[Condition] | None:
        items = self.reader.sequence(node, f"{key.text!r}")
        if items is None:
            return None
        if not items.items:
            self.error(items, "empty-list", f"{key.text!r} needs at least one condition")
            return None
        children = [self.condition(c) for c in items.items]
        return None if any(c is None for c in children) else children  # type: ignore[return-value]

    def _all(self, node: Node, key: Scalar) -> Condition | None:
        children = self._children(node, key)
        return None if children is None else children[0] if len(children) == 1 else AllOf(children)

    def _any(self, node: Node, key: Scalar) -> Condition | None:
        children = self._children(node, key)
        return None if children is None else children[0] if len(children) == 1 else AnyOf(children)

    def _not(self, node: Node, key: Scalar) -> Condition | None:
        child = self.condition(node)
        return None if child is None else Not(child)

    def _condition(self, node: Node, key: Scalar) -> Condition | None:
        name = self.reader.text(node, "condition name")
        if name is None:
            return None
        if name not in self.named_nodes:
            self.error(node, "unknown-condition", f"unknown named condition {name!r}",
                       hint_for(name, self.condition_names) or "define it under `conditions:`")
            return None
        ref = Named(name)
        self.refs.append((ref, node))  # type: ignore[arg-type]
        return ref

    # -- tests ---------------------------------------------------------------------------------

    def field_test(self, key: Scalar, node: Node) -> Condition | None:
        """A TEST on the field `key` names, written outside a condition (an action's `recipients:`)."""
        return self._field_test(key, node)

    def _path_test(self, mapping: Mapping) -> Condition | None:
        path_node = mapping.get("path")
        path = self.reader.text(path_node, "path")
        cs = self._case_sensitive(mapping)
        if path is None or cs is None:
            return None
        try:
            source: Source = PathSource(path, (path,))
        except PathError as exc:
            at = path_node
            if exc.offset is not None and isinstance(path_node, Scalar) and "\n" not in path_node.text:
                at = Scalar(path_node.text, path_node.plain, path_node.line,
                            path_node.col + exc.offset + (0 if path_node.plain else 1))
            self.error(at, "bad-path", str(exc))
            return None
        ops = Mapping([(k, v) for k, v in mapping.items if k.text != "path"], mapping.line, mapping.col)
        ops._index = {k.text: i for i, (k, _) in enumerate(ops.items)}
        if not ops.items:
            self.error(mapping, "missing-operator", f"path test on {path} has no operator", "add e.g. exists: true")
            return None
        return self._test(source, None, ops, path_node, cs)

    def _field_test(self, key: Scalar, value: Node) -> Condition | None:
        cs = self._case_sensitive(value)
        if cs is None:
            return None
        try:
            source, field = self.resolve(key.text, cs)
        except FieldError as exc:
            self.error(key, "unknown-field", str(exc), exc.hint)
            return None
        if isinstance(value, Scalar):
            value = Mapping([(Scalar("equals", True, value.line, value.col), value)], value.line, value.col)
        elif isinstance(value, Sequence):
            value = Mapping([(Scalar("in", True, value.line, value.col), value)], value.line, value.col)
        elif not isinstance(value, Mapping):
            self.error(value, "bad-test", f"test of {key.text} must be a scalar, list or mapping")
            return None
        return self._test(source, field, value, key, cs)

    def _case_sensitive(self, node: Node) -> bool | None:
        """The test's `case_sensitive` option, read once (None after reporting a bad value)."""
        if isinstance(node, Mapping) and node.get("case_sensitive") is not None:
            return self.reader.boolean(node.get("case_sensitive"), "case_sensitive")
        return False

    def _test(self, source: Source, field: FieldSpec | None, ops: Mapping, at: Node,
              cs: bool) -> Condition | None:
        match_all = False
        value_checks: list[Check] = []
        set_checks: list[Check] = []
        ok = True
        has_negation = any(k.text in NEGATIONS for k, _ in ops.items)
        for key, arg in ops.items:
            name = key.text
            if name in TEST_OPTIONS:
                if name == "match":
                    mode = self.reader.choice(arg, "match", MATCH_MODES)
                    match_all = mode == "all"
                    if has_negation:
                        self.error(key, "match-with-negation", "a test with a negation cannot also hold `match`",
                                   "a negation already covers every value; drop `match`")
                        ok = False
                continue
            check = self._check(name, key, arg, source, field, cs)
            if check is None:
                ok = False
            elif check.whole or check.negated:
                set_checks.append(check)
            else:
                value_checks.append(check)
        if not value_checks and not set_checks and ok:
            self.error(at, "missing-operator", f"test of {source.label} has no operator")
            return None
        return Test(source, value_checks, set_checks, match_all) if ok else None

    def _check(self, name: str, key: Scalar, arg: Node, source: Source, field: FieldSpec | None,
               cs: bool) -> Check | None:
        positive = NEGATIONS.get(name, name)
        op = OPERATORS.get(positive)
        if op is None:
            self.error(key, "unknown-operator", f"unknown operator {name!r}",
                       hint_for(name, all_operator_names() + list(TEST_OPTIONS)))
            return None
        list_key = _list_key(positive, arg, source, cs)
        if list_key in self.list_checks:      # a list used many times is built once per operator and field
            built = self.list_checks[list_key]
        else:
            value = self._argument(op.arg, arg, positive, source, cs)
            if value is None:
                return None
            built = self._build(op, value, arg, source, field, cs)
            if list_key is not None:
                self.list_checks[list_key] = built   # a list that failed has reported it once
        if built is None:
            return None
        return Check(name, built[1], built[0], negated=name in NEGATIONS, whole=op.scope == "whole")

    def _build(self, op: Any, value: Any, arg: Node, source: Source, field: FieldSpec | None,
               cs: bool) -> tuple[Callable, Any] | None:
        """The check's predicate and its argument as traces show it; None after reporting an error."""
        if field is not None and op.name in ("equals", "in") and not self._check_enum(field, arg, value):
            return None
        try:
            pred = op.build(value[0] if op.arg == "literal" else value, source, cs)
        except LiteralError as exc:
            self.error(arg, "bad-literal", self._literal_message(exc, arg), exc.hint)
            return None
        arg_value = value[0] if op.arg == "literal" else value
        if op.arg == "field":
            shown = arg.text      # as written: `from.address`, not the source's short label
        else:
            shown = json_safe([_shown(v) for v in arg_value] if isinstance(arg_value, list) else _shown(arg_value))
        return pred, shown

    def _literal_message(self, exc: LiteralError, arg: Node) -> str:
        """The operator's complaint, naming where a bad literal came from and never a variable's value:
        a list's entry by its number and source, a `${VAR}` scalar as written."""
        message, literal = str(exc), exc.literal
        shown = None if literal is None else self._provenance(arg, literal)
        raw = str(getattr(literal, "text", literal))
        for form in (repr(raw), f"'{raw}'"):      # operators quote with repr, regex errors as written
            if shown and form in message:
                return message.replace(form, shown)
        return message

    def _provenance(self, arg: Node, literal: Any) -> str | None:
        """A literal for a message with its list and entry number, or as written when from `${VAR}`."""
        entries = self.lists.get(arg.get("list").text) if isinstance(arg, Mapping) and arg.get("list") else None
        described = entries.describe(literal) if hasattr(entries, "describe") else None
        return described or self._as_written(arg, str(getattr(literal, "text", literal)))

    def _as_written(self, arg: Node, raw: str) -> str | None:
        """The scalar of `arg` that gave the literal `raw` through `${VAR}`, quoted as written; else None."""
        for item in arg.items if isinstance(arg, Sequence) else [arg]:
            if isinstance(item, Scalar) and "$" in item.text and self.reader.value_of(item) == raw:
                return repr(item.text)
        return None

    def _check_enum(self, field: FieldSpec, node: Node, literals: list) -> bool:
        """Verdict, enum and boolean fields take only their own values (`spf: PAS` is a typo)."""
        if field.kind == "boolean":
            bad = [lit for lit in literals if lit not in ("true", "false")]
            for lit in bad:
                self.error(node, "expected-boolean", f"{field.name} must be true or false, not {_shown(lit)!r}",
                           BOOLEAN_HINT)
            return not bad
        if not field.values:
            return True
        allowed = {v.lower(): v for v in field.values}
        ok = True
        for lit in literals:
            text = lit.text if isinstance(lit, NumberLiteral) else lit
            if text.lower() not in allowed:
                self.error(node, "bad-value", f"{self._provenance(node, lit) or repr(text)} is not a {field.name} value ({', '.join(field.values)})",
                           hint_for(text, field.values))
                ok = False
        return ok

    # -- arguments -----------------------------------------------------------------------------

    def _argument(self, kind: str, node: Node, op: str, source: Source, cs: bool) -> Any:
        """The operator's argument read from its node; None after reporting an error."""
        if kind == "literal":
            lit = self.reader.literal(node, op)
            return None if lit is None else [lit]
        if kind == "literals":
            return self._literals(node, op)
        if kind == "number":
            return self.reader.number(node, op)
        if kind == "boolean":
            return self.reader.boolean(node, op)
        if kind == "field":
            name = self.reader.text(node, op)
            if name is None:
                return None
            try:
                return self.resolve(name, cs)[0]
            except FieldError as exc:
                self.error(node, "unknown-field", str(exc), exc.hint)
                return None
        return self._count(node)

    def _literals(self, node: Node, op: str) -> list | None:
        if isinstance(node, Mapping):
            self.reader.check_keys(node, ("list",), f"{op} argument")
            name = self.reader.text(node.get("list"), "list name")
            if name is None:
                return None
            if name not in self.lists:
                self.error(node.get("list"), "unknown-list", f"unknown list {name!r}",
                           hint_for(name, self.list_names) or "define it under `lists:`")
                return None
            return self.lists[name]   # None: a list that failed has its own error
        items = node.items if isinstance(node, Sequence) else [node]
        if not items:
            self.error(node, "empty-list", f"{op} needs at least one value")
            return None
        values = [self.reader.literal(item, f"{op} value") for item in items]
        return None if any(v is None for v in values) else values

    def _count(self, node: Node) -> Callable | None:
        """`count: N` or `count: {gt: N, ...}`: a test on the number of values."""
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
            positive = NEGATIONS.get(key.text, key.text)
            op = OPERATORS[positive]
            value = self._argument(op.arg, arg, positive, _NUMBERS, False)
            if value is None:
                return None
            pred = op.build(value[0] if op.arg == "literal" else value, _NUMBERS, False)
            checks.append((key.text in NEGATIONS, pred))
        return lambda n, ctx: all(pred(n, ctx) is not negated for negated, pred in checks)

    def resolve_refs(self, compiled: dict[str, Condition]) -> None:
        for ref, _ in self.refs:
            ref.target = compiled.get(ref.name)


class _Numbers(Source):
    label = "count"


_NUMBERS = _Numbers()


def _list_key(op: str, arg: Node, source: Source, cs: bool) -> tuple | None:
    """What a check on a `{list: NAME}` argument depends on: operator, list, field and case."""
    if not (isinstance(arg, Mapping) and len(arg.items) == 1 and isinstance(arg.get("list"), Scalar)):
        return None
    return op, arg.get("list").text, type(source).__name__, source.label, cs  # type: ignore[union-attr]


def _shown(value: Any) -> Any:
    return value.value if isinstance(value, NumberLiteral) else value
