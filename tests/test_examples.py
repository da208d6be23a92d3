"""The project's example policies against every example event, as `make demo` runs them.

examples/events/expected.yaml is the hand-written expectation; these tests keep
it true, complete, and sufficient: every rule and every disposition of every
example policy is exercised by some example event. The examples are every
`examples/policies/` file and the `policies/` files the table lists (the starter
policy); a policy an operator adds to `policies/` is held to
tests/test_deployable_policies.py instead (docs/deploy.md, "Adding a policy").
"""
from __future__ import annotations

import json
import os
import re
import textwrap
from functools import cache
from pathlib import Path
from unittest import mock

import pytest
import yaml

from engine import load_policy, load_policy_text
from engine.mail.sesevent import event_from_eml

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "examples" / "events"
EVENT_NAMES = sorted(p.name for p in EVENTS.iterdir() if p.suffix in {".json", ".eml"})
EXPECTED: dict = yaml.safe_load((EVENTS / "expected.yaml").read_text(encoding="utf-8"))
POLICIES = sorted({p.relative_to(ROOT).as_posix() for p in ROOT.glob("examples/policies/*.yaml")}
                  | {rel for rel in EXPECTED if rel.startswith("policies/")})


@cache
def policy(rel: str):
    """Load with an empty environment: every shipped policy must work undeployed."""
    with mock.patch.dict(os.environ, clear=True):
        return load_policy(ROOT / rel)


@cache
def event(name: str) -> dict:
    path = EVENTS / name
    if path.suffix == ".eml":
        return event_from_eml(path.read_bytes())
    return json.loads(path.read_text(encoding="utf-8"))


def decisions(rel: str) -> dict:
    return {name: policy(rel).evaluate(event(name)) for name in EVENT_NAMES}


def test_example_policies_and_events_exist():
    assert "policies/default.yaml" in POLICIES
    assert [rel for rel in POLICIES if not (ROOT / rel).is_file()] == []
    assert "examples/policies/subject-filter.yaml" in POLICIES
    assert len(POLICIES) >= 5
    assert {n.rsplit(".", 1)[1] for n in EVENT_NAMES} == {"json", "eml"}


@pytest.mark.parametrize("rel", POLICIES)
def test_policy_points_editors_at_the_schema(rel):
    first = (ROOT / rel).read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    assert ((ROOT / rel).parent / first[len(prefix):]).resolve() == ROOT / "docs" / "policy.schema.json"


def test_table_covers_every_pair():
    assert sorted(EXPECTED) == sorted(POLICIES)
    for rel in POLICIES:
        assert sorted(EXPECTED[rel]) == EVENT_NAMES, rel


@pytest.mark.parametrize("rel", POLICIES)
def test_policy_loads_without_environment(rel):
    loaded = policy(rel)
    assert loaded.name == Path(rel).stem
    assert loaded.rules


@pytest.mark.parametrize("rel,name", [(r, n) for r in POLICIES for n in EVENT_NAMES])
def test_decision_matches_table(rel, name):
    want = EXPECTED[rel][name]
    got = policy(rel).evaluate(event(name))
    assert (got.disposition, got.rule, list(got.shadow), bool(got.errors)) == (
        want["disposition"], want["rule"], want.get("shadow", []), want.get("on_error", False)), got.errors
    assert [[a["rule"], a["type"]] for a in got.actions] == want.get("actions", [])
    if want.get("on_error"):
        assert got.disposition == policy(rel).on_error


@pytest.mark.parametrize("rel", POLICIES)
def test_every_rule_and_disposition_is_exercised(rel):
    loaded = policy(rel)
    seen = decisions(rel).values()
    deciders = {d.rule for d in seen}
    shadowed = {s for d in seen for s in d.shadow}
    acting = {a["rule"] for d in seen for a in d.actions + d.shadow_actions}
    for rule in loaded.rules:
        if not rule.enabled:
            assert rule.name not in deciders | shadowed | acting, f"disabled rule {rule.name} took part"
        elif rule.mode == "shadow":
            assert rule.name in shadowed, f"shadow rule {rule.name} never matched"
        elif rule.disposition is None:
            assert rule.name in acting, f"routing rule {rule.name} never planned an action"
        else:
            assert rule.name in deciders, f"rule {rule.name} never decided"
    assert any(d.rule is None and not d.errors for d in seen), "no event falls through to the default"
    assert any(d.errors for d in seen), "no event exercises on_error"
    enforcing = {r.disposition for r in loaded.rules if r.enabled and r.mode != "shadow" and r.disposition}
    assert enforcing | {loaded.default, loaded.on_error} <= {d.disposition for d in seen}


@pytest.mark.parametrize("rel", POLICIES)
def test_table_names_only_real_rules(rel):
    names = {r.name for r in policy(rel).rules}
    for name, want in EXPECTED[rel].items():
        assert want["rule"] is None or want["rule"] in names, name
        assert set(want.get("shadow", [])) <= names, name


def doc_examples() -> list:
    """The ```yaml blocks of docs/policy-language.md, each made a whole policy."""
    text = (ROOT / "docs" / "policy-language.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^( *)```yaml\n(.*?)^\1```", text, flags=re.S | re.M)
    rule = "version: 1\nrules:\n  - name: doc-example\n    disposition: STOP_RULE\n"
    policies = []
    for indent, body in blocks:
        body = textwrap.dedent(body)
        first = next(line for line in body.splitlines() if not line.startswith("#"))
        if first.startswith("version:"):
            policies.append(body)
        elif first.split(":")[0] in ("rules", "lists", "conditions"):
            policies.append("version: 1\n" + body + ("" if re.search(r"^rules:", body, re.M) else "rules: []\n"))
        elif first.startswith("- name:"):
            policies.append("version: 1\nrules:\n" + textwrap.indent(body, "  "))
        elif first.startswith("when:"):
            policies.append(rule + textwrap.indent(body, "    "))
        else:
            policies.append(rule + "    when:\n" + textwrap.indent(body, "      "))
    return policies


DOC_EXAMPLES = doc_examples()


def test_doc_has_examples():
    assert len(DOC_EXAMPLES) >= 8


@pytest.mark.parametrize("text", DOC_EXAMPLES, ids=[f"block{i}" for i in range(len(DOC_EXAMPLES))])
def test_doc_example_loads(text):
    with mock.patch.dict(os.environ, clear=True):
        loaded = load_policy_text(text, base_dir=ROOT / "examples" / "policies")
    assert loaded.rules or "rules: []" in text
