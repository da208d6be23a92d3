"""YAML policy tests (`ses-rules test`): cases of mail with the disposition a policy must give.

The runner returns data, not text: the CLI renders it, so the same results feed
the text report, the JSON report and coverage.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.actions.registry import ACTION_TYPES, preview
from engine.decision import DISPOSITIONS
from engine.files import read_regular
from engine.lang.diagnostics import Collector, Diagnostic, PolicyError
from engine.lang.files import FileProblem, read_text
from engine.lang.loader import load_policy
from engine.lang.yamlsource import MAX_POLICY_BYTES, Mapping, Node, Scalar, Sequence, compose
from engine.mail.sesevent import EventFieldError, build_event, event_from_eml
from engine.suggest import hint_for
from engine.tools.inputs import read_inputs
from engine.trace import NamedTrace, RuleTrace, TraceVisitor

_FILE_KEYS = {"policy", "env", "cases", "description"}
_CASE_KEYS = {"name", "description", "event", "eml", "file", "expect"}
_EXPECT_KEYS = {"disposition", "rule", "shadow", "actions"}
_NULLS = {"", "~", "null", "Null", "NULL"}


class TestFileError(Exception):
    """Stops reading a test file (or one case); its diagnostic is already in the file's collector."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic


@dataclass
class Expectation:
    disposition: str | None       # None: only `actions` is expected
    rule: str | None = None
    check_rule: bool = False      # `rule:` given (null = the default or on_error decided)
    shadow: list[str] | None = None
    actions: list[dict[str, Any]] | None = None   # [{TYPE: {ARG: VALUE}}]: planned in this order

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.disposition is None else {"disposition": self.disposition}
        if self.check_rule:
            out["rule"] = self.rule
        if self.shadow is not None:
            out["shadow"] = self.shadow
        if self.actions is not None:
            out["actions"] = self.actions
        return out

    def mismatches(self, decision: Any) -> list[str]:
        problems = []
        if self.disposition is not None and decision.disposition != self.disposition:
            problems.append(f"disposition {decision.disposition}, expected {self.disposition}")
        if self.actions is not None:
            problems += actions_mismatches(self.actions, decision.actions)
        if self.check_rule and decision.rule != self.rule:
            problems.append(f"rule {_rule_text(decision.rule)}, expected {_rule_text(self.rule)}")
        if self.shadow is not None and set(decision.shadow) != set(self.shadow):
            problems.append(f"shadow {sorted(decision.shadow)}, expected {sorted(self.shadow)}")
        return problems


def actions_mismatches(expected: list[dict[str, Any]], planned: list[dict[str, Any]]) -> list[str]:
    """Each expected action must be planned, with the arguments given, in this order; [] means none."""
    if not expected:
        return [] if not planned else [f"actions {_planned_text(planned)}, expected none"]
    position = 0
    for wanted in expected:
        (kind, arguments), = wanted.items()
        while position < len(planned) and not _matches(kind, arguments or {}, planned[position]):
            position += 1
        if position == len(planned):
            return [f"no planned action {kind} {arguments or {}} (in this order); planned: {_planned_text(planned)}"]
        position += 1
    return []


def _matches(kind: str, arguments: dict[str, Any], action: dict[str, Any]) -> bool:
    if action.get("type") != kind:
        return False
    for name, value in arguments.items():
        have = action.get(name)
        if isinstance(have, list) and not isinstance(value, list):
            value = [value]
        if have != value:
            return False
    return True


def _planned_text(planned: list[dict[str, Any]]) -> str:
    return "[" + "; ".join(preview(a) + f" ({a['rule']})" for a in planned) + "]" if planned else "none"


def _rule_text(rule: str | None) -> str:
    return "none (the default decided)" if rule is None else repr(rule)


@dataclass
class CaseResult:
    name: str
    line: int
    expected: dict[str, Any]
    passed: bool = False
    problems: list[str] = field(default_factory=list)        # how the decision differs from `expect`
    errors: list[Diagnostic] = field(default_factory=list)   # why the case could not run
    decision: Any = None          # the engine's Decision (explained), when the case ran

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "line": self.line, "passed": self.passed, "expected": self.expected,
                "problems": [str(d) for d in self.errors] + self.problems,
                "actual": self.decision.to_dict() if self.decision is not None else None}


@dataclass
class FileResult:
    file: str
    policy_file: str | None = None
    policy: Any = None
    errors: list[Diagnostic] = field(default_factory=list)   # why the file could not run: together one failure
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.cases)

    @property
    def failed(self) -> int:
        return sum(not c.passed for c in self.cases) + bool(self.errors)


class _Reader:
    """Turns the composed test file into values; every complaint is a diagnostic at its node."""

    def __init__(self, file: str):
        self.file = file
        self.collector = Collector(file)

    def fail(self, node: Node | None, message: str, hint: str | None = None, code: str = "bad-test") -> TestFileError:
        self.collector.error(node, code, message, hint)
        return TestFileError(self.collector.errors[-1])

    def mapping(self, node: Node | None, what: str, keys: set[str] | None, at: Node) -> Mapping:
        """A mapping node; with `keys`, unknown keys are refused with a hint."""
        if not isinstance(node, Mapping):
            raise self.fail(node or at, f"{what} must be a mapping")
        for key, _ in node.items:
            if keys is not None and key.text not in keys:
                raise self.fail(key, f"unknown key {key.text!r} in {what}",
                                hint_for(key.text, keys) or f"expected {', '.join(sorted(keys))}", "unknown-key")
        return node

    def text(self, node: Node | None, what: str, at: Node) -> str:
        if not isinstance(node, Scalar) or (node.plain and node.text in _NULLS):
            raise self.fail(node or at, f"{what} must be a string")
        return node.text

    def value(self, node: Node) -> Any:
        """Plain data; scalars stay text (`off` is `off`, as in policies)."""
        if isinstance(node, Mapping):
            return {k.text: self.value(v) for k, v in node.items}
        if isinstance(node, Sequence):
            return [self.value(v) for v in node.items]
        return node.text

    def expectation(self, node: Node | None, at: Node) -> Expectation:
        if isinstance(node, Scalar):
            return Expectation(self._disposition(node))
        expect = self.mapping(node, "expect", _EXPECT_KEYS, at)
        disposition = expect.get("disposition")
        if disposition is None and expect.get("actions") is None:
            raise self.fail(expect, "expect needs a disposition or actions")
        result = Expectation(None if disposition is None else self._disposition(disposition))
        if expect.get("actions") is not None:
            result.actions = self._actions(expect.get("actions"))
        rule = expect.get("rule")
        if expect.key_node("rule") is not None:
            result.check_rule = True
            is_null = rule is None or (isinstance(rule, Scalar) and rule.plain and rule.text in _NULLS)
            result.rule = None if is_null else self.text(rule, "expect.rule", expect)
        shadow = expect.get("shadow")
        if shadow is not None:
            names = shadow.items if isinstance(shadow, Sequence) else [shadow]
            result.shadow = [self.text(n, "expect.shadow entries", shadow) for n in names]
        return result

    def _actions(self, node: Node) -> list[dict[str, Any]]:
        if not isinstance(node, Sequence):
            raise self.fail(node, "expect.actions must be a list of {TYPE: {ARGUMENT: VALUE}}")
        actions = []
        for item in node.items:
            action = self.mapping(item, "an expected action", None, node)
            if len(action.items) != 1 or action.items[0][0].text not in ACTION_TYPES:
                hint = hint_for(action.items[0][0].text, ACTION_TYPES) if action.items else None
                raise self.fail(item, "an expected action is one of " + ", ".join(ACTION_TYPES) + " with its arguments",
                                hint, "unknown-action")
            key, args = action.items[0]
            actions.append({key.text: self.value(args) if args is not None else {}})
        return actions

    def _disposition(self, node: Node) -> str:
        text = self.text(node, "a disposition", node).upper()
        if text not in DISPOSITIONS:
            raise self.fail(node, f"unknown disposition {text!r}", hint_for(text, DISPOSITIONS), "bad-value")
        return text

    def read(self, path: Path) -> str:
        try:
            return read_text(path, MAX_POLICY_BYTES, "test file")
        except FileProblem as problem:
            self.collector.add(Diagnostic(self.file, problem.line, problem.col, "error", problem.code,
                                          problem.message, problem.hint))
            raise TestFileError(self.collector.errors[-1]) from None


def _case_event(reader: _Reader, case: Mapping, folder: Path) -> dict:
    """The Lambda event a case describes: inline fields, an .eml (fields override), or an event file."""
    fields_node = case.get("event")
    fields: dict[str, Any] = {}
    if fields_node is not None:
        fields = reader.value(reader.mapping(fields_node, "event", None, case))
        if "eml" in fields:
            raise reader.fail(fields_node, "write `eml:` beside `event:`, not inside it")
    eml, file = case.get("eml"), case.get("file")
    if eml is not None and file is not None:
        raise reader.fail(case, "a case takes `eml` or `file`, not both")
    if eml is not None:
        path = folder / reader.text(eml, "eml", case)
        try:
            return event_from_eml(read_regular(path), fields)
        except OSError as exc:
            raise reader.fail(eml, f"cannot read {path}: {exc.strerror or exc}", code="unreadable") from None
        except EventFieldError as exc:   # a bad field
            raise reader.fail(_field_node(fields_node, exc.field) or eml, str(exc), code="bad-event") from None
        except ValueError as exc:   # bytes that are not a mail
            raise reader.fail(eml, str(exc), code="bad-event") from None
    if file is not None:
        if fields:
            raise reader.fail(fields_node, "`event` fields cannot change a `file` event; use `eml` or inline fields")
        path = folder / reader.text(file, "file", case)
        inputs = list(read_inputs([str(path)]))
        if len(inputs) != 1 or inputs[0].event is None:
            reason = inputs[0].error if len(inputs) == 1 else "a case's file must be one event file"
            raise reader.fail(file, f"{path}: {reason}")
        return inputs[0].event
    if fields_node is None:
        raise reader.fail(case, "a case needs `event`, `eml` or `file`")
    try:
        return build_event(fields)
    except EventFieldError as exc:
        raise reader.fail(_field_node(fields_node, exc.field), str(exc), code="bad-event") from None
    except ValueError as exc:
        raise reader.fail(fields_node, str(exc), code="bad-event") from None


def _field_node(fields: Node | None, name: str | None) -> Node | None:
    """Where an event field is written in a case (its key), else the `event:` mapping."""
    key = fields.key_node(name) if isinstance(fields, Mapping) and name else None
    return key or fields


def run_test_file(path: str | Path) -> FileResult:
    """Load the test file and its policy, run every case; problems become results, never exceptions."""
    path = Path(path)
    result = FileResult(str(path))
    reader = _Reader(str(path))
    try:
        root = compose(reader.read(path), str(path), reader.collector)
        if root is None and reader.collector.errors:
            raise TestFileError(reader.collector.errors[-1])
        top = reader.mapping(root, "a policy test file", _FILE_KEYS, Mapping([], 1, 1))
        policy_node = top.get("policy")
        if policy_node is None:
            raise reader.fail(top, "missing `policy:` (the policy file, relative to this file)")
        policy_path = path.parent / reader.text(policy_node, "policy", top)
        result.policy_file = os.path.normpath(policy_path)
        env_node = top.get("env")
        env = {k.text: reader.text(v, f"env.{k.text}", k) for k, v in
               reader.mapping(env_node, "env", None, top).items} if env_node is not None else {}
        if not policy_path.exists():
            raise reader.fail(policy_node, f"policy file {policy_path} does not exist")
        result.policy = load_policy(policy_path, environ={**os.environ, **env})
        cases = top.get("cases")
        if not isinstance(cases, Sequence):
            raise reader.fail(cases or top, "`cases:` must be a list of cases")
    except PolicyError as exc:
        result.errors.extend(exc.errors)
        return result
    except TestFileError:
        result.errors.extend(reader.collector.errors)
        return result
    for node in cases.items:
        result.cases.append(_run_case(reader, node, result.policy, path.parent))
    return result


def _run_case(reader: _Reader, node: Node, policy: Any, folder: Path) -> CaseResult:
    name = "?"
    case_result = CaseResult(name, node.line, {})
    try:
        case = reader.mapping(node, "a case", _CASE_KEYS, node)
        case_result.name = reader.text(case.get("name"), "a case's name", case)
        if case.get("expect") is None:
            raise reader.fail(case, "a case needs `expect`")
        expectation = reader.expectation(case.get("expect"), case)
        case_result.expected = expectation.to_dict()
        event = _case_event(reader, case, folder)
    except TestFileError as exc:
        case_result.errors.append(exc.diagnostic)
        return case_result
    case_result.decision = policy.evaluate(event, explain=True)
    case_result.problems = expectation.mismatches(case_result.decision)
    case_result.passed = not case_result.problems
    return case_result


@dataclass
class Coverage:
    """Which enabled rules and named conditions of one policy some case made hold."""
    policy_file: str
    items: list[tuple[str, str]]          # ("rule" | "condition", name), in policy order
    covered: set[tuple[str, str]]

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def missing(self) -> list[tuple[str, str]]:
        return [item for item in self.items if item not in self.covered]

    @property
    def percent(self) -> float:
        return 100.0 * len(self.covered) / self.total if self.total else 100.0

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy_file, "total": self.total, "exercised": len(self.covered),
                "percent": round(self.percent, 1),
                "not_exercised": [{"kind": kind, "name": name} for kind, name in self.missing]}


class _Exercised(TraceVisitor[None]):
    """Rules and named conditions that held in a trace, nested ones included."""

    def __init__(self) -> None:
        self.found: set[tuple[str, str]] = set()

    def visit_rule(self, node: RuleTrace) -> None:
        if node.held:
            self.found.add(("rule", node.rule))
        super().visit_rule(node)

    def visit_named(self, node: NamedTrace) -> None:
        if node.held:
            self.found.add(("condition", node.name))
        super().visit_named(node)


def coverage(results: list[FileResult]) -> list[Coverage]:
    """Per policy (several test files may share one): what no case exercised."""
    reports: dict[str, Coverage] = {}
    for result in results:
        if result.policy is None or result.policy_file is None:
            continue
        report = reports.get(result.policy_file)
        if report is None:
            items = [("rule", r.name) for r in result.policy.rules if r.enabled]
            items += [("condition", name) for name in result.policy.conditions]
            report = reports[result.policy_file] = Coverage(result.policy_file, items, set())
        exercised = _Exercised()
        for case in result.cases:
            for record in case.decision.records if case.decision is not None else []:
                for step in record.trace or []:
                    exercised.visit(step)
        report.covered.update(i for i in exercised.found if i in report.items)
    return list(reports.values())
