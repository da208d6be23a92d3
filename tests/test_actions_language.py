"""Actions in the policy language (SPEC 3.9): loading, load errors, and what the decision plans."""
from __future__ import annotations

import pytest

from engine import PolicyError, load_policy_text
from engine.actions.registry import ACTION_TYPES
from engine.mail.sesevent import build_event

HEAD = "version: 1\nlists:\n  mailboxes: [support@corp.example, sales@corp.example]\n  oncall: [bob@team.example]\nrules:\n"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"


def load(rules: str, **environ: str):
    return load_policy_text(HEAD + rules, environ=environ)


def errors(rules: str, **environ: str) -> list:
    with pytest.raises(PolicyError) as info:
        load(rules, **environ)
    return info.value.errors


def decide(policy, *recipients: str, **fields):
    event = build_event({"from": "Alice <alice@sender.example>", "recipient": list(recipients), **fields})
    return policy.evaluate(event)


ROUTING = """\
  - name: quarantine
    when: {virus: FAIL}
    disposition: STOP_RULE_SET
    actions: [{store: {prefix: quarantine/}}]
  - name: route-support
    when: {recipients: support@corp.example}
    actions:
      - forward: {to: [alice@team.example, {list: oncall}], subject_prefix: "[support] "}
  - name: bounce-unknown
    when: {not: {recipients: {in: {list: mailboxes}, match: all}}}
    actions:
      - bounce: {status: "5.1.1", message: No such mailbox here, recipients: {not_in: {list: mailboxes}}}
  - name: watch
    mode: shadow
    actions: [{notify: {topic: "%s"}}]
  - name: everything-else
    disposition: CONTINUE
    actions:
      - forward: {to: [alice@team.example, bob@team.example], subject_prefix: "[support] "}
""" % TOPIC


def test_routing_rules_collect_and_evaluation_goes_on() -> None:
    decision = decide(load(ROUTING), "support@corp.example", "ghost@corp.example")
    assert (decision.disposition, decision.rule) == ("CONTINUE", "everything-else")
    assert decision.actions == [
        {"rule": "route-support", "type": "forward", "to": ["alice@team.example", "bob@team.example"],
         "subject_prefix": "[support] ", "recipients": ["support@corp.example", "ghost@corp.example"]},
        {"rule": "bounce-unknown", "type": "bounce", "status": "5.1.1", "message": "No such mailbox here",
         "recipients": ["ghost@corp.example"]},
    ]   # the last rule's forward is the same action: listed once, under the first rule
    assert decision.shadow == ["watch"]
    assert decision.shadow_actions == [{"rule": "watch", "type": "notify", "topic": TOPIC,
                                        "recipients": ["support@corp.example", "ghost@corp.example"]}]
    data = decision.to_dict()
    assert data["actions"] == decision.actions and data["records"][0]["shadow_actions"] == decision.shadow_actions


def test_the_deciding_rule_stops_collection() -> None:
    decision = decide(load(ROUTING), "support@corp.example", virus="FAIL")
    assert decision.rule == "quarantine"
    assert decision.actions == [{"rule": "quarantine", "type": "store", "prefix": "quarantine/",
                                 "recipients": ["support@corp.example"]}]
    assert decision.shadow_actions == []


def test_a_recipient_test_that_selects_nobody_plans_nothing() -> None:
    decision = decide(load(ROUTING), "sales@corp.example")
    assert [a["rule"] for a in decision.actions] == ["everything-else"]


def test_no_actions_is_an_empty_list_and_explain_shows_them() -> None:
    policy = load("  - {name: r, disposition: STOP_RULE}\n")
    assert decide(policy, "a@corp.example").to_dict()["actions"] == []
    traced = load(ROUTING).evaluate(build_event({"recipient": ["support@corp.example"]}), explain=True).to_dict()
    step = next(s for s in traced["records"][0]["trace"] if s["rule"] == "route-support")
    assert step["disposition"] is None and step["actions"][0]["type"] == "forward"


def test_arguments_resolve_environment_variables_and_change_the_revision() -> None:
    rules = "  - name: n\n    disposition: CONTINUE\n    actions: [{notify: {topic: \"${TOPIC}\"}}]\n"
    one, two = load(rules, TOPIC=TOPIC), load(rules, TOPIC=TOPIC + "2")
    assert decide(one, "a@corp.example").actions[0]["topic"] == TOPIC
    assert one.revision != two.revision


@pytest.mark.parametrize("rules, code, message, hint", [
    ("  - {name: r, when: {spf: PASS}}\n", "missing-key", "rule r has neither disposition nor actions", "routing"),
    ("  - {name: r, actions: [{forwrd: {to: a@b.example}}]}\n", "unknown-action", "unknown action type 'forwrd'",
     "did you mean forward?"),
    ("  - {name: r, actions: [{forward: {to: a@b.example, subject_prefx: x}}]}\n", "unknown-key",
     "unknown key 'subject_prefx' in a forward action", "did you mean subject_prefix?"),
    ("  - {name: r, actions: [{forward: {subject_prefix: x}}]}\n", "missing-key", "forward needs to", None),
    ("  - {name: r, actions: [{forward: {to: not-an-address}}]}\n", "bad-argument",
     "forward to: 'not-an-address' is not an address", None),
    ("  - {name: r, actions: [{forward: {to: {list: oncal}}}]}\n", "unknown-list", "unknown list 'oncal'",
     "did you mean oncall?"),
    ("  - {name: r, actions: [{bounce: {status: '5.1', message: m}}]}\n", "bad-argument",
     "bounce status: '5.1' is not an RFC 3463 status code", None),
    ("  - {name: r, actions: [{bounce: {status: '3.1.1', message: m}}]}\n", "bad-argument",
     "is not an RFC 3463 status code", None),
    ("  - {name: r, actions: [{forward: {to: a@b.example, headers: {Reply-To: x}}}]}\n", "bad-argument",
     "must start with X-", None),
    ("  - {name: r, actions: [{forward: {to: a@b.example, headers: {X-Original-To: x}}}]}\n", "bad-argument",
     "is written by the forward itself", None),
    ("  - {name: r, actions: [{store: {prefix: ../other/}}]}\n", "bad-argument", "is not a relative key prefix", None),
    ("  - {name: r, actions: [{store: {prefix: /abs/}}]}\n", "bad-argument", "is not a relative key prefix", None),
    ("  - {name: r, actions: [{notify: {topic: my-topic}}]}\n", "bad-argument", "is not an SNS topic ARN", None),
    ("  - {name: r, actions: [{forward: {to: a@b.example}, store: {prefix: p/}}]}\n", "bad-action",
     "not 2 keys", None),
    ("  - {name: r, actions: []}\n", "empty-list", "actions is empty", None),
    ("  - {name: r, actions: [{forward: {to: a@b.example, recipients: {nt_in: [a@b.example]}}}]}\n",
     "unknown-operator", "unknown operator 'nt_in'", "did you mean not_in?"),
])
def test_load_errors(rules, code, message, hint) -> None:
    found = [e for e in errors(rules) if e.code == code]
    assert found, [str(e) for e in errors(rules)]
    assert message in found[0].message
    if hint:
        assert hint in (found[0].hint or "")


@pytest.mark.parametrize("argument", ["subject_prefix: \"${V}\"", "headers: {X-Team: \"${V}\"}"])
def test_control_characters_after_interpolation_are_load_errors(argument) -> None:
    rules = "  - {name: r, actions: [{forward: {to: a@b.example, %s}}]}\n" % argument
    (error,) = [e for e in errors(rules, V="ops\r\nBcc: everyone@corp.example") if e.code == "bad-argument"]
    assert "U+000D" in error.message


def test_bounce_message_and_prefix_refuse_controls() -> None:
    found = errors("  - {name: r, actions: [{bounce: {status: '5.1.1', message: \"a\\u202eb\"}},"
                   " {store: {prefix: \"q\\tx/\"}}]}\n")
    assert sorted(e.message.split(":")[0] for e in found) == ["bounce message", "store prefix"]


def test_every_type_has_a_runner_preview_and_documented_arguments() -> None:
    doc = (__import__("pathlib").Path(__file__).resolve().parent.parent / "docs" / "policy-language.md").read_text()
    for kind in ACTION_TYPES.values():
        assert callable(kind.run) and callable(kind.preview)
        assert f"`{kind.name}`" in doc
        for argument in kind.arguments:
            assert f"`{argument.name}`" in doc, (kind.name, argument.name)


def _codes(rules: str, environ=None) -> list[tuple[str, str]]:
    from engine.tools.lint import lint
    return [(d.code, d.message) for d in lint(load(rules), environ=environ)]


def test_a_routing_rule_without_when_does_not_hide_the_rules_after_it() -> None:
    rules = "  - {name: r, actions: [{store: {prefix: all/}}]}\n  - {name: d, when: {spf: FAIL}, disposition: STOP_RULE}\n"
    assert [c for c, _ in _codes(rules) if c == "unreachable-rule"] == []


def test_lint_warns_on_a_bounce_that_also_delivers() -> None:
    rules = ("  - {name: r, disposition: CONTINUE, actions: [{bounce: {status: '5.1.1', message: m}}]}\n"
             "  - {name: s, disposition: STOP_RULE_SET, actions: [{bounce: {status: '5.1.1', message: m}}]}\n")
    assert [m for c, m in _codes(rules) if c == "bounce-without-recipients"] == [
        "rule 'r' bounces every recipient but lets the mail go on"]


def test_validate_warns_when_allow_lists_in_its_environment_refuse_an_action() -> None:
    rules = "  - {name: r, actions: [{forward: {to: [a@team.example, b@evil.example]}}]}\n"
    found = _codes(rules, {"ALLOWED_FORWARD_DOMAINS": "team.example"})
    assert [m for c, m in found if c == "action-not-allowed"] == [
        "forward in rule 'r': b@evil.example is not in ALLOWED_FORWARD_DOMAINS; "
        "the action function will skip it (skipped: not allowed)"]
    assert "action-not-allowed" not in [c for c, _ in _codes(rules, {})]
