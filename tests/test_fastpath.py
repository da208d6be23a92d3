"""The fast path decides exactly as the condition tree's own walk (issue 15's differential test).

`Policy(compiled=False)` evaluates every rule with its tree's `test` (the evaluation as it
was before `engine.fastpath`); the default compiles each rule into closures. On every
shipped and benchmark policy, over the corpus, the example events, distinct copies of
them and generated events, both give the same `to_dict()`, with and without explain, and
the explain run decides as the plain run does. The engine cases are compared too, each
condition on its own record.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import Policy, load_policy, load_policy_text
from engine.fastpath import compile_condition
from engine.tools.inputs import read_inputs

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
POLICY_FILES = sorted([*ROOT.glob("policies/*.yaml"), *ROOT.glob("examples/policies/*.yaml"),
                       ROOT / "benchmarks" / "policies" / "realistic.yaml",
                       ROOT / "tests" / "security" / "fuzz_policy.yaml"])


def _policies() -> dict[str, Policy]:
    from benchmarks.evaluation import operator_policy

    with mock.patch.dict(os.environ, clear=True):
        policies = {str(p.relative_to(ROOT)): load_policy(p) for p in POLICY_FILES}
    with operator_policy() as path:
        policies["benchmarks/policies/operator.yaml"] = load_policy(path)
    return policies


POLICIES = _policies()
REFERENCE = {name: policy.walking() for name, policy in POLICIES.items()}


def _events() -> list[tuple[str, Any]]:
    sources = [ROOT / "examples" / "events", CORPUS / "ses-events", CORPUS / "eml"]
    if os.environ.get("CI") == "true":
        assert all(s.is_dir() for s in sources), "shared corpus missing"
    return [(item.label, item.event) for source in sources if source.is_dir()
            for item in read_inputs([str(source)]) if item.event is not None]


EVENTS = _events()


def assert_same(name: str, event: Any) -> None:
    new, old = POLICIES[name], REFERENCE[name]
    plain = new.evaluate(event).to_dict()
    assert plain == old.evaluate(event).to_dict()
    explained = new.evaluate(event, explain=True).to_dict()
    assert explained == old.evaluate(event, explain=True).to_dict()
    assert {k: v for k, v in explained.items() if k != "records"} == \
        {k: v for k, v in plain.items() if k != "records"}
    assert [{k: v for k, v in r.items() if k != "trace"} for r in explained["records"]] == plain["records"]


def test_the_reference_walks_the_tree_and_the_default_compiles():
    policy = POLICIES["policies/default.yaml"]
    rule = policy.rules[0]
    assert [step[0] for step in REFERENCE["policies/default.yaml"]._plan][0] == rule.condition.test
    assert policy._plan[0][0] is not rule.condition.test
    assert policy._plan[0][0].__module__ == compile_condition.__module__


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_corpus_and_example_events(name):
    from benchmarks.distinct import copy_event

    assert len(EVENTS) > 20
    for label, event in EVENTS:
        for copy in (event, copy_event(json.dumps(event, ensure_ascii=False), 5)):
            try:
                assert_same(name, copy)
            except AssertionError:
                raise AssertionError(f"{name} decides {label} differently on the fast path") from None


# Generated events: the fields the policies read, filled with plain and hostile values.
_ADDRESSES = ["boss@company.example", '"Boss" <BOSS@Company.example>', '"ceo@corp.example" <x@evil.example>',
              "alice@example.com <bob@example.com>", "wile@acme.example", "a@b.example, c@d.example",
              "=?utf-8?q?ceo=40?= =?utf-8?q?corp.example?= <x@evil.example>", "helpdesk@support.cоrp.example",
              "Ticket-Spam@BulkMail.example", "undisclosed-recipients:;", "x@ｐａｙｐａｌ.com", "", "@", "a@", "<>"]
_text = st.one_of(st.sampled_from(_ADDRESSES), st.text(max_size=40),
                  st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(example|com|net)", fullmatch=True))
_json = st.one_of(_text, st.none(), st.integers(), st.booleans(), st.lists(_text, max_size=3))
_verdict = st.sampled_from(["PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED", "pass", "", None])
# Mostly SES's shape; sometimes a verdict that is no object, or a status that is no string (a list,
# an object: unhashable), which the declared-value shortcut must hand to the general test.
_verdict_object = st.one_of(
    st.fixed_dictionaries({"status": _verdict}), st.fixed_dictionaries({"status": st.one_of(
        _json, st.dictionaries(_text, _text, max_size=1))}), _json)
_SUBJECTS = ["[CASE-104233] Anvil", "ALARM: api", "Out of office", "invoice overdue", "viagra", "Re: x"]


@st.composite
def _event(draw) -> dict:
    common = {"from": draw(st.lists(_text, max_size=3)), "subject": draw(st.one_of(st.sampled_from(_SUBJECTS), _json))}
    if draw(st.booleans()):
        common["replyTo"] = draw(st.lists(_text, max_size=2))
    headers = [{"name": draw(st.sampled_from(["X-Spam-Flag", "Precedence", "X-Priority", "Reply-To", "From"])),
                "value": draw(_json)} for _ in range(draw(st.integers(0, 4)))]
    receipt = {f"{v}Verdict": draw(_verdict_object) for v in ("spf", "dkim", "dmarc", "spam", "virus")}
    receipt.update(recipients=draw(st.lists(_text, max_size=20)), dmarcPolicy=draw(st.one_of(st.sampled_from(
        ["reject", "quarantine", "none", "REJECT", None]), _json, st.dictionaries(_text, _text, max_size=1))))
    mail = {"source": draw(_json), "commonHeaders": common, "headers": headers, "destination": draw(st.lists(_text))}
    record = {"eventSource": "aws:ses", "ses": {"mail": mail, "receipt": receipt}}
    return {"Records": [record] * draw(st.integers(1, 2))}


@given(_event(), st.sampled_from(sorted(POLICIES)))
def test_generated_events(event, name):
    assert_same(name, event)


def _engine_cases():
    from test_engine_cases import _cases, _event as case_event, _policy_text

    for param in _cases():
        case, node = param.values
        yield pytest.param(_policy_text(node), case_event(case), id=param.id)


@pytest.mark.parametrize(("text", "event"), list(_engine_cases()))
def test_engine_cases(text, event):
    new = load_policy_text(text)
    old = new.walking()
    assert new.evaluate(event).to_dict() == old.evaluate(event).to_dict()
    assert new.evaluate(event, explain=True).to_dict() == old.evaluate(event, explain=True).to_dict()


# A count decided by its bound (the number of "@"), without parsing: the strings are charged to the
# address budget when the walk would charge them, and parsed later by the route the walk took then.
BUDGET_POLICY = """version: 1
rules:
  - name: many
    when: {recipients: {count: {gt: 3}}}
    disposition: STOP_RULE
  - name: long-from
    when: {from.domain: bad.example}
    disposition: STOP_RULE
  - name: names
    when: {recipients.display_name: {contains: "a  b"}}
    disposition: STOP_RULE_SET
"""


def _budget_event(recipients: list[str], from_length: int) -> dict:
    mail = {"source": "s@x.example", "messageId": "m", "headers": [],
            "commonHeaders": {"from": ["f" * from_length + "@big.example"], "subject": "s"}}
    receipt = {"recipients": recipients, "spfVerdict": {"status": "PASS"}}
    return {"Records": [{"eventSource": "aws:ses", "ses": {"mail": mail, "receipt": receipt}}]}


@pytest.mark.parametrize("recipients, from_length, rule", [
    (['"A  B" <r@x.example>'], 17_000, "names"),            # counted by its bound; parsed after the From
    (['"A  B" <r@x.example>'] * 3, 100, "names"),           # past the budget later, not when counted
    (["r@x.example", "q@x.example, p@x.example", "t@x.example"], 100, "many"),   # bound 4 > 3: counted
    (["a@x.example"] * 4, 17_000, "many"),                  # bare: counted whole
    (['"x@y" <r@x.example>'] * 2, 100, None),               # two "@" each: bound 4 > 3, count 2
    (["r" * 16_500 + "@x.example", '"A  B" <r@x.example>'], 100, None),   # past the budget: the fallback reads "A B"
    ([7, None, '"A  B" <r@x.example>'], 100, "names"),      # not all strings: parsed now
])
def test_a_count_decided_by_its_bound_leaves_parsing_as_the_walk_does(recipients, from_length, rule):
    event = _budget_event(recipients, from_length)
    compiled = load_policy_text(BUDGET_POLICY)
    assert compiled.evaluate(event).to_dict() == compiled.walking().evaluate(event).to_dict()
    assert compiled.evaluate(event).rule == rule


def test_every_comparison_a_count_takes_is_monotone_in_the_count():
    """`_count` decides by a bound when the answer at 0 and at the bound agree: that needs every
    operator whose predicate carries `compare` to be monotone in the number compared."""
    from engine.mail.operators import OPERATORS
    from engine.mail.values import ValueForm
    compared = 0
    for operator in OPERATORS.values():
        if not operator.counts:
            continue
        for limit in (0, 1, 3, 2.5):
            argument = limit if operator.arg == "number" else [str(limit)] if operator.arg == "literals" else str(limit)
            compare = getattr(operator.build(argument, ValueForm("number")), "compare", None)
            if compare is None:
                continue
            compared += 1
            test, bound = compare
            answers = [test(n, bound) for n in range(8)]
            assert answers in (sorted(answers), sorted(answers, reverse=True)), operator.name
    assert compared == 4 * 4        # gt, gte, lt, lte


def test_the_generated_rule_plan_decides_as_the_loop_and_never_runs_rule_text():
    """`compile_plan` writes only its own names: a rule name written as code stays a name."""
    from engine.decision import RecordDecision
    from engine.fastpath import compile_plan
    calls: list[str] = []

    def test(answer: bool, label: str):
        return lambda ctx: calls.append(label) or answer
    name = '"); import os; os._exit(3); ("'
    plan = ((test(True, "shadow"), ("watch", "STOP_RULE", True, ())),
            (test(True, "decides nothing"), ("route", None, False, ())),
            (test(False, "no"), ("never", "STOP_RULE_SET", False, ())),
            (test(True, "yes"), (name, "STOP_RULE", False, ())),
            (test(True, "after"), ("unreached", "CONTINUE", False, ())))
    decided = compile_plan(plan, "CONTINUE", RecordDecision)(object())
    assert (decided.disposition, decided.rule, decided.shadow) == ("STOP_RULE", name, ["watch"])
    assert calls == ["shadow", "decides nothing", "no", "yes"]
    assert compile_plan(plan[:1] + ((test(True, "x"), ("act", None, False, ("an action",))),),
                        "CONTINUE", RecordDecision) is None      # actions: the loop collects them
