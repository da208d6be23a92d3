"""The JSON Schema of the policy language, generated from the loader's own registries.

Editors (yaml-language-server) use it for completion and early errors; it is
generated rather than written so that a new field, part or operator cannot be
missing from it. The loader stays the authority: the schema checks shape and
names, the loader also checks meaning (addresses, regexes, list references).
"""
from __future__ import annotations

from typing import Any

from engine.actions.registry import ACTION_TYPES
from engine.decision import DISPOSITIONS
from engine.lang.arguments import ARGUMENTS, INTERPOLATED, NUMBER_SCHEMA
from engine.lang.compiler import COMBINATORS, MATCH_MODES, TEST_OPTIONS
from engine.lang.loader import MODES, POLICY_KEYS, RULE_KEYS, VERSIONS
from engine.lang.named import NAME_RE
from engine.lang.where import WHERE
from engine.mail.fields import FIELDS, HEADER_DOC, HEADER_PREFIX, PARTS, WHERE_PARTS, field_names
from engine.mail.operators import COUNT_OPERATORS, NEGATIONS, OPERATORS
from engine.tools.lint import CODES

_REF = "#/$defs/"
_SCALAR = {"type": ["string", "number", "boolean"]}
_HEADER_KEY = "^" + HEADER_PREFIX.replace(".", r"\.") + ".+$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def case_insensitive(words: tuple[str, ...] | list[str]) -> dict[str, str]:
    """A string pattern matching any of `words` in any case (JSON Schema regexes have no flags)."""
    def letters(word: str) -> str:
        return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else _escape(c) for c in word)
    return {"type": "string", "pattern": "^(" + "|".join(letters(w) for w in words) + ")$"}


def _escape(char: str) -> str:
    return "\\" + char if char in r".^$*+?()[]{}|\/" else char


def _name_pattern() -> str:
    pattern = NAME_RE.pattern
    return "^" + (pattern[:-2] if pattern.endswith(r"\Z") else pattern) + "$"


def _field_doc(name: str) -> str:
    base, _, part = name.partition(".")
    doc = f"{FIELDS[base].doc} ({FIELDS[base].kind})"
    return f"{doc}; part: {PARTS[part].doc}" if part else doc


def _operators() -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name, op in OPERATORS.items():
        props[name] = {"description": op.doc, **ARGUMENTS[op.arg].schema}
    for name, positive in NEGATIONS.items():
        props[name] = {"description": f"no value {OPERATORS[positive].doc}",
                       **ARGUMENTS[OPERATORS[positive].arg].schema}
    props["match"] = {"description": "any (default): one value satisfies every operator; all: every value does",
                      **case_insensitive(list(MATCH_MODES))}
    props["case_sensitive"] = {"description": "compare text (and local parts) case-sensitively", **_ref("boolean")}
    assert set(TEST_OPTIONS) <= set(props)
    return props


def _operator_refs(*skip: str) -> dict[str, Any]:
    """Each operator and option by reference to its one definition (under `operators`)."""
    return {k: {"$ref": f"{_REF}operators/properties/{k}"} for k in _operators() if k not in skip}


def _where() -> dict[str, Any]:
    """`where`: a test per part of one address; exists, count and match stand beside it."""
    return {"description": "one address satisfies every part test together", "type": "object", "minProperties": 1,
            "additionalProperties": False,
            "properties": {part: {"description": PARTS[part].doc, **_ref("partTest")} for part in WHERE_PARTS}}


def _shorthand_or(operators: dict[str, Any]) -> list[dict[str, Any]]:
    """A TEST: a scalar (equals), a list (in), or a mapping of these operators."""
    return [_ref("scalar"), {"type": "array", "items": _ref("scalar"), "minItems": 1},
            {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": operators}]


def _count() -> dict[str, Any]:
    number = NUMBER_SCHEMA
    props = {op: ({"type": "array", "items": number, "minItems": 1} if op in ("in", "not_in") else number)
             for op in COUNT_OPERATORS}
    return {"anyOf": [number, {"type": "object", "properties": props, "additionalProperties": False,
                               "minProperties": 1}]}


def _enum_test(values: tuple[str, ...]) -> dict[str, Any]:
    """The shorthand forms of a test on a verdict or enum field, limited to its values."""
    one = case_insensitive(values)
    return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}, _ref("operators")]}


def _combinator(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: value}, "additionalProperties": False}


def _condition() -> dict[str, Any]:
    fields = {}
    for name in field_names():
        spec = FIELDS[name.partition(".")[0]]
        test = _enum_test(spec.values) if spec.values and "." not in name else \
            _ref("addressTest") if spec.is_address and "." not in name else _ref("test")
        fields[name] = {"description": _field_doc(name), **test}
    path_test = {"type": "object", "required": ["path"], "minProperties": 2, "additionalProperties": False,
                 "properties": {"path": {"description": "a jsonpath_ng.ext JSONPath into the record's ses object",
                                         "type": "string", "pattern": r"^\$"},
                                **_operator_refs()}}
    field_map = {"type": "object", "minProperties": 1, "properties": fields,
                 "patternProperties": {_HEADER_KEY: {"description": HEADER_DOC, **_ref("addressTest")}},
                 "additionalProperties": False}
    assert set(COMBINATORS) == {"all", "any", "not", "condition"}
    many = {"type": "array", "items": _ref("condition"), "minItems": 1}
    return {"description": "all / any / not / condition: NAME / a path test / tests on named fields",
            "anyOf": [_combinator("all", many), _combinator("any", many),
                      _combinator("not", _ref("condition")),
                      _combinator("condition", {"type": "string", "description": "a name under `conditions`"}),
                      path_test, field_map]}


def _rule() -> dict[str, Any]:
    props = {
        "name": {"description": "unique in the policy", "type": ["string", "number"], "pattern": _name_pattern()},
        "description": _ref("scalar"),
        "when": {"description": "absent: the rule always matches", **_ref("condition")},
        "disposition": {"description": "absent (with actions): a routing rule, evaluation goes on",
                        **_ref("disposition")},
        "actions": {"description": "one-key mappings: " + ", ".join(ACTION_TYPES), "type": "array",
                    "minItems": 1, "items": _ref("action")},
        "enabled": {"description": "false skips the rule entirely", **_ref("boolean")},
        "mode": {"description": "enforce (default) or shadow: evaluated and reported, never decides",
                 **case_insensitive(list(MODES))},
        "lint": {"type": "object", "additionalProperties": False, "properties": {
            "ignore": {"type": "array", "items": {"enum": list(CODES)},
                       "description": "lint codes to silence for this rule"}}},
    }
    assert set(props) == set(RULE_KEYS)
    return {"type": "object", "required": ["name"], "anyOf": [{"required": ["disposition"]}, {"required": ["actions"]}],
            "properties": props, "additionalProperties": False}


def _action() -> dict[str, Any]:
    """One entry of `actions`, from the action registry: `{TYPE: {ARGUMENT: ...}}`."""
    types = []
    for kind in ACTION_TYPES.values():
        arguments = {a.name: {"description": a.doc, **(_ref("test") if a.kind.shape == "test" else a.kind.schema)}
                     for a in kind.arguments}
        body = {"type": "object", "description": kind.doc, "properties": arguments, "additionalProperties": False,
                "required": [a.name for a in kind.arguments if a.required]}
        types.append(_combinator(kind.name, body))
    return {"oneOf": types}


def _list_definition() -> dict[str, Any]:
    entries = {"type": "array", "items": _ref("scalar")}
    return {"anyOf": [
        entries,
        {"type": "object", "required": ["file"], "additionalProperties": False,
         "properties": {"file": {"type": "string", "description": "one entry a line, relative to the policy"}}},
        {"type": "object", "required": ["env"], "additionalProperties": False,
         "properties": {"env": {"type": "string"}, "separator": {"type": "string"},
                        "default": {**entries, "description": "when the variable is unset or empty"}}},
    ]}


def policy_schema() -> dict[str, Any]:
    """The schema document (`ses-rules schema`, committed as docs/policy.schema.json)."""
    versions: list[Any] = [int(v) if v.isdigit() else v for v in VERSIONS] + list(VERSIONS)
    props = {
        "version": {"description": "the policy language version", "enum": versions},
        "name": {"description": "default: the file name without extension", **_ref("scalar")},
        "description": _ref("scalar"),
        "default": {"description": "when no rule decides (default CONTINUE)", **_ref("disposition")},
        "on_error": {"description": "when a record cannot be evaluated (default CONTINUE)", **_ref("disposition")},
        "lists": {"type": "object", "propertyNames": {"pattern": _name_pattern()},
                  "additionalProperties": _ref("listDefinition")},
        "conditions": {"type": "object", "propertyNames": {"pattern": _name_pattern()},
                       "additionalProperties": _ref("condition")},
        "rules": {"description": "tried in order; the first enforcing rule that matches decides",
                  "type": "array", "items": _ref("rule")},
    }
    assert set(props) == set(POLICY_KEYS)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ses-rules policy (version 1)",
        "description": "Generated by `ses-rules schema` from the loader's registries; do not edit by hand.",
        "type": "object",
        "required": ["version", "rules"],
        "properties": props,
        "additionalProperties": False,
        "$defs": _definitions(),
    }


def _definitions() -> dict[str, Any]:
    """The shared definitions (`$defs`) the policy's properties refer to."""
    return {
        "scalar": _SCALAR,
        "boolean": {"anyOf": [{"type": "boolean"}, INTERPOLATED]},
        "disposition": case_insensitive(list(DISPOSITIONS)),
        "listReference": {"type": "object", "required": ["list"], "additionalProperties": False,
                          "properties": {"list": {"type": "string", "description": "a name under `lists`"}}},
        "literals": {"anyOf": [_ref("scalar"), {"type": "array", "items": _ref("scalar"), "minItems": 1},
                               _ref("listReference")]},
        "listDefinition": _list_definition(),
        "fieldName": {"anyOf": [{"enum": field_names()}, {"type": "string", "pattern": _HEADER_KEY}]},
        "count": _count(),
        "operators": {"type": "object", "minProperties": 1, "properties": _operators(),
                      "additionalProperties": False},
        "test": {"description": "a scalar (equals), a list (in), or operators with options",
                 "anyOf": [_ref("scalar"), {"type": "array", "items": _ref("scalar"), "minItems": 1},
                           _ref("operators")]},
        "addressTest": {"description": "a test on an address field; `where` tests parts of one address",
                        "anyOf": _shorthand_or({**_operator_refs(), WHERE: _where()})},
        "partTest": {"description": "a test on one part of one address (inside where)",
                     "anyOf": _shorthand_or(_operator_refs("exists", "count", "match"))},
        "condition": _condition(),
        "rule": _rule(),
        "action": _action(),
    }
