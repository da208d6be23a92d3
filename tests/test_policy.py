"""Evaluation over whole Lambda events (SPEC 3.7) and the Decision shape (SPEC 4)."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from engine import load_policy_text

POLICY = load_policy_text("""
version: 1
name: eval
default: STOP_RULE
on_error: CONTINUE
rules:
  - name: disabled-drop-all
    enabled: false
    disposition: STOP_RULE_SET
  - name: watch-gray
    mode: shadow
    when: {spam: GRAY}
    disposition: STOP_RULE_SET
  - name: watch-subject
    mode: shadow
    when: {subject: {contains: invoice}}
    disposition: STOP_RULE
  - name: drop-virus
    when: {virus: FAIL}
    disposition: STOP_RULE_SET
  - name: keep-partners
    when: {from: {in_domain: partner.example}}
    disposition: CONTINUE
  - name: after-partners-shadow
    mode: shadow
    when: {from: {in_domain: partner.example}}
    disposition: STOP_RULE
""")


def record(**kw) -> dict:
    mail = {"source": "a@x.example", "commonHeaders": {"from": [kw.get("sender", "a@x.example")],
                                                       "subject": kw.get("subject", "hi")}}
    receipt = {"virusVerdict": {"status": kw.get("virus", "PASS")}, "spamVerdict": {"status": kw.get("spam", "PASS")}}
    return {"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {"mail": mail, "receipt": receipt}}


def event(*records) -> dict:
    return {"Records": list(records)}


def test_first_enforcing_rule_decides_and_disabled_rules_are_skipped():
    decision = POLICY.evaluate(event(record(virus="FAIL")))
    assert (decision.disposition, decision.rule) == ("STOP_RULE_SET", "drop-virus")


def test_no_match_gives_the_default():
    decision = POLICY.evaluate(event(record()))
    assert (decision.disposition, decision.rule, decision.errors) == ("STOP_RULE", None, [])


def test_shadow_rules_before_the_decider_are_collected_never_decide():
    decision = POLICY.evaluate(event(record(spam="GRAY", subject="Invoice 7", sender="p@partner.example")))
    assert (decision.disposition, decision.rule) == ("CONTINUE", "keep-partners")
    assert decision.shadow == ["watch-gray", "watch-subject"]


def test_rules_after_the_decider_are_not_evaluated():
    decision = POLICY.evaluate(event(record(sender="p@partner.example")), explain=True)
    tried = [t.rule for t in decision.records[0].trace]
    assert tried == ["watch-gray", "watch-subject", "drop-virus", "keep-partners"]
    assert "after-partners-shadow" not in decision.shadow


def test_most_restrictive_record_wins_and_its_first_rule_is_reported():
    decision = POLICY.evaluate(event(record(sender="p@partner.example"), record(),
                                     record(virus="FAIL", spam="GRAY"), record(virus="FAIL")))
    assert (decision.disposition, decision.rule) == ("STOP_RULE_SET", "drop-virus")
    assert [r.disposition for r in decision.records] == ["CONTINUE", "STOP_RULE", "STOP_RULE_SET", "STOP_RULE_SET"]
    assert decision.shadow == ["watch-gray"]


def test_shadow_is_the_union_in_order_without_repeats():
    decision = POLICY.evaluate(event(record(subject="invoice"), record(spam="GRAY", subject="invoice")))
    assert decision.shadow == ["watch-subject", "watch-gray"]


def test_event_without_records_gets_on_error_with_a_reason():
    for bad, reason in [({}, "no Records"), ({"Records": []}, "empty"), ({"Records": {}}, "not a list"),
                        ([], "no Records"), (None, "no Records"), ("x", "no Records")]:
        decision = POLICY.evaluate(bad)
        assert decision.disposition == "CONTINUE" and decision.rule is None
        assert reason in decision.errors[0]


def test_a_record_that_is_not_ses_gets_on_error():
    for bad, reason in [(1, "not an object"), ({"eventSource": "aws:sns"}, "not 'aws:ses'"),
                        ({"eventSource": "aws:ses"}, "no ses object"),
                        ({"eventSource": "aws:ses", "ses": {"mail": {}}}, "ses.receipt"),
                        ({"eventSource": "aws:ses", "ses": {"mail": [], "receipt": {}}}, "ses.mail")]:
        decision = POLICY.evaluate(event(bad))
        assert decision.disposition == "CONTINUE" and reason in decision.errors[0], decision.errors


def test_a_bad_record_beside_a_good_one():
    decision = POLICY.evaluate(event(record(virus="FAIL"), {"eventSource": "aws:sns"}))
    assert decision.disposition == "STOP_RULE_SET" and decision.rule == "drop-virus"
    assert decision.records[1].errors and decision.errors == decision.records[1].errors


def test_to_dict_shape():
    data = POLICY.evaluate(event(record(spam="GRAY")), explain=True).to_dict()
    assert set(data) == {"disposition", "rule", "shadow", "errors", "actions", "shadow_actions", "policy", "records"}
    assert data["policy"] == {"name": "eval", "revision": POLICY.revision}
    (rec,) = data["records"]
    assert set(rec) == {"disposition", "rule", "shadow", "errors", "actions", "shadow_actions", "trace"}
    assert "trace" not in POLICY.evaluate(event(record())).to_dict()["records"][0]
    json.dumps(data)


def test_trace_shows_values_and_checks():
    data = POLICY.evaluate(event(record(virus="FAIL")), explain=True).to_dict()
    step = data["records"][0]["trace"][2]
    assert step["rule"] == "drop-virus" and step["held"] is True and step["mode"] == "enforce"
    assert step["condition"]["test"] == "virus" and step["condition"]["values"] == ["FAIL"]
    assert step["condition"]["checks"][0] == {"op": "equals", "arg": "FAIL", "held": True, "matched": ["FAIL"]}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["Records", "eventSource", "ses", "mail", "receipt", "commonHeaders", "from", "source",
                         "virusVerdict", "status", "subject", "headers", "name", "value", "x"]), inner, max_size=5),
    max_leaves=30)


@given(json_values)
def test_evaluate_never_raises_on_arbitrary_json(value):
    for candidate in (value, {"Records": [value]},
                      {"Records": [{"eventSource": "aws:ses", "ses": {"mail": value, "receipt": value}}]}):
        decision = POLICY.evaluate(candidate, explain=True)
        assert decision.disposition in ("CONTINUE", "STOP_RULE", "STOP_RULE_SET")
        json.dumps(decision.to_dict())


# --- the decide and explain walks agree -------------------------------------------------------

_LEAVES = [
    "{spf: PASS}", "{virus: FAIL}", "{from.domain: {in_domain: x.example}}", "{to: {count: {gt: 1}}}",
    "{subject: {contains: urgent}}", "{reply_to: {exists: true}}", "{from.name_address: {not_same_as: from.address}}",
    "{from: {where: {display_name: {contains: CEO}, domain: {not_in_domain: x.example}}}}",
    "{to.domain: {in_domain: x.example, match: all}}", "{condition: named}", "{header.X-Flag: [YES, yes]}",
    "{path: $.mail.source, ends_with: .example}",
]
_conditions = st.recursive(
    st.sampled_from(_LEAVES),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: "{all: [" + ", ".join(cs) + "]}"),
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: "{any: [" + ", ".join(cs) + "]}"),
        inner.map(lambda c: "{not: " + c + "}")),
    max_leaves=6)
_rules = st.lists(st.tuples(st.none() | _conditions, st.sampled_from(["CONTINUE", "STOP_RULE", "STOP_RULE_SET"]),
                            st.sampled_from(["enforce", "shadow"]), st.booleans()), min_size=1, max_size=5)
_addresses = st.lists(st.sampled_from(['"CEO" <ceo@evil.example>', "a@x.example", "b@sub.x.example",
                                       '"a@x.example" <eve@evil.example>', "undisclosed-recipients:;"]), max_size=3)


@st.composite
def _records(draw) -> dict:
    common = {"from": draw(_addresses), "to": draw(_addresses), "subject": draw(st.sampled_from(["", "urgent!", "hi"]))}
    if draw(st.booleans()):
        common["replyTo"] = draw(_addresses)
    mail = {"source": draw(st.sampled_from(["a@x.example", "b@y.test"])), "commonHeaders": common,
            "headers": [{"name": "x-flag", "value": draw(st.sampled_from(["YES", "no"]))}]}
    receipt = {"spfVerdict": {"status": draw(st.sampled_from(["PASS", "FAIL"]))},
               "virusVerdict": {"status": draw(st.sampled_from(["PASS", "FAIL"]))}}
    return {"eventSource": "aws:ses", "ses": {"mail": mail, "receipt": receipt}}


def _policy(rules: list) -> str:
    lines = ["version: 1", "conditions:", "  named: {any: [{spf: FAIL}, {to: {count: 0}}]}", "rules:"]
    for n, (when, disposition, mode, enabled) in enumerate(rules):
        lines.append(f"  - {{name: r{n}, disposition: {disposition}, mode: {mode}, enabled: {str(enabled).lower()}"
                     + (f", when: {when}" if when else "") + "}")
    return "\n".join(lines) + "\n"


@given(_rules, st.lists(_records(), min_size=1, max_size=3))
def test_decide_and_explain_walk_the_rules_alike(rules, records):
    """Two loops walk the rules (`_decide`, fast; `_explain`, recording): they must agree on every
    record, and each traced rule's `held` must be what its condition's test() says."""
    from engine.mail.context import RecordContext

    policy = load_policy_text(_policy(rules))
    event = {"Records": records}
    decided, explained = policy.evaluate(event), policy.evaluate(event, explain=True)
    assert decided.to_dict() == {**explained.to_dict(), "records": [
        {k: v for k, v in r.items() if k != "trace"} for r in explained.to_dict()["records"]]}
    by_name = {r.name: r for r in policy.rules}
    for record, result in zip(records, explained.records):
        ctx = RecordContext(record["ses"], policy.header_names)
        tried = [step.rule for step in result.trace]
        active = [r.name for r in policy.rules if r.enabled]
        assert tried == active[:len(tried)]
        for step in result.trace:
            condition = by_name[step.rule].condition
            assert step.held is (condition is None or condition.test(ctx))
