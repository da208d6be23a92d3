"""The typed explain trace: what it shows (fields and arguments as written, counts counted), its JSON
shape, and the visitors that read it."""
from __future__ import annotations

import json

from engine import load_policy_text
from engine import trace
from engine.trace import AllTrace, CheckTrace, NamedTrace, RuleTrace, TraceTransformer, TraceVisitor


def _event(**common) -> dict:
    return {"Records": [{"eventSource": "aws:ses", "ses": {"mail": {"source": "bounce@x.example",
                                                                     "commonHeaders": common},
                                                            "receipt": {"spfVerdict": {"status": "PASS"}}}}]}


def _trace(when: str, event: dict, extra: str = "", environ: dict | None = None) -> list[RuleTrace]:
    policy = load_policy_text(extra + "version: 1\nrules:\n  - {name: r, disposition: STOP_RULE, when: %s}\n" % when,
                              environ=environ or {})
    return policy.evaluate(event, explain=True).records[0].trace


def test_count_shows_the_test_as_written_and_the_number_counted():
    [step] = _trace("{to: {count: {gt: 1}}}", _event(to=["a@x.example", "b@x.example, c@x.example"]))
    [check] = step.condition.checks
    assert check.to_dict() == {"op": "count", "arg": {"gt": 1}, "held": True, "counted": 3}
    assert "function" not in json.dumps(step.to_dict())


def test_a_bare_count_is_shown_as_written():
    [step] = _trace("{to: {count: 2}}", _event(to=["a@x.example"]))
    assert step.condition.checks[0].to_dict() == {"op": "count", "arg": 2, "held": False, "counted": 1}


def test_arguments_are_shown_as_written_never_resolved():
    extra = "lists:\n  blocked: {env: BLOCKED}\n"
    environ = {"SECRET_SENDER": "hidden@secret.example", "BLOCKED": "listed@secret.example"}
    [step] = _trace("{all: [{sender: {not_equals: '${SECRET_SENDER}'}}, {sender: {in: {list: blocked}}}]}",
                    _event(), extra, environ)
    args = [c.arg for test in step.condition.children for c in test.checks]
    assert args == ["${SECRET_SENDER}", {"list": "blocked"}]
    assert "secret.example" not in json.dumps(step.to_dict())


def test_numbers_and_booleans_are_shown_as_numbers_and_booleans():
    [step] = _trace("{to: {exists: true}, processing_time_ms: {gt: 5.5}}", _event(to=["a@x.example"]))
    assert [c.arg for t in step.condition.children for c in t.checks] == [True, 5.5]


def test_fields_are_shown_as_written():
    [step] = _trace("{from.address: a@x.example}", _event(**{"from": ["A <a@x.example>"]}))
    assert step.condition.test == "from.address"
    [step] = _trace("{header.x-spam-FLAG: YES}", _event())
    assert step.condition.test == "header.x-spam-FLAG"


def test_the_json_shape():
    [step] = _trace("{all: [{spf: PASS}, {condition: c}]}", _event(), "conditions:\n  c: {not: {spf: FAIL}}\n")
    data = step.to_dict()
    assert set(data) == {"rule", "mode", "disposition", "held", "condition"}
    assert set(data["condition"]) == {"all", "held"}
    test, named = data["condition"]["all"]
    assert set(test) == {"test", "values", "checks", "held"}
    assert named["condition"] == "c" and set(named["then"]) == {"not", "held"}
    json.dumps(data)


def test_a_rule_without_when_has_no_condition():
    policy = load_policy_text("version: 1\nrules:\n  - {name: r, disposition: STOP_RULE}\n")
    [step] = policy.evaluate(_event(), explain=True).records[0].trace
    assert step.to_dict()["condition"] is None and step.held


def test_a_transformer_builds_a_new_tree_and_leaves_the_old_one():
    [step] = _trace("{all: [{spf: PASS}, {condition: c}]}", _event(), "conditions:\n  c: {spf: {not_equals: FAIL}}\n")

    class Upper(TraceTransformer):
        def visit_test(self, node: trace.TestTrace) -> trace.TestTrace:
            return trace.TestTrace(node.test.upper(), node.values, node.checks, node.held, node.match_all)

    changed = Upper().visit(step)
    assert isinstance(changed, RuleTrace) and isinstance(changed.condition, AllTrace)
    assert [c.test for c in _tests(changed)] == ["SPF", "SPF"]
    assert [c.test for c in _tests(step)] == ["spf", "spf"]


def _tests(step: RuleTrace) -> list[trace.TestTrace]:
    class Tests(TraceVisitor[None]):
        def __init__(self) -> None:
            self.found: list[trace.TestTrace] = []

        def visit_test(self, node: trace.TestTrace) -> None:
            self.found.append(node)

    visitor = Tests()
    visitor.visit(step)
    return visitor.found


def test_check_trace_leaves_out_what_does_not_apply():
    assert CheckTrace("exists", True, True).to_dict() == {"op": "exists", "arg": True, "held": True}
    assert NamedTrace("c", trace.TestTrace("spf", [], [], False), False).to_dict()["condition"] == "c"


def test_a_record_read_back_from_json_is_the_same_record():
    """Rows cross process boundaries as JSON (`dry-run --jobs`, the replay worker): from_dict undoes to_dict."""
    from pathlib import Path

    from engine import load_policy
    from engine.decision import RecordDecision
    from engine.tools.inputs import read_inputs

    root = Path(__file__).resolve().parent.parent
    policy = load_policy(root / "examples" / "policies" / "partner-support.yaml")
    for item in read_inputs([str(root / "examples" / "events")]):
        if item.event is None:
            continue
        for record in policy.evaluate(item.event, explain=True).records:
            data = json.loads(json.dumps(record.to_dict()))
            assert RecordDecision.from_dict(data).to_dict() == record.to_dict(), item.label
