"""Data-driven semantics: each YAML case is a condition, a partial SES record and whether it holds.

The records are data (read with `yaml.safe_load`); the policy parts (`when`,
`lists`, `conditions`) are policy text, so they are re-emitted from PyYAML's
composed nodes with their source text intact (`off` stays `off`). PyYAML's own
composer, not the engine's: the records hold lone surrogates (`"\ud800"`), which
a policy may not, and which libyaml refuses.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from engine import load_policy_text

CASES_DIR = Path(__file__).parent / "engine_cases"


def _flow(node: yaml.Node) -> str:
    """A node back to YAML flow text, plain scalars verbatim, quoted ones as JSON strings."""
    if isinstance(node, yaml.ScalarNode):
        return node.value if node.style is None else json.dumps(node.value, ensure_ascii=False)
    if isinstance(node, yaml.MappingNode):
        return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in node.value) + "}"
    return "[" + ", ".join(_flow(item) for item in node.value) + "]"


def _get(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    return next((v for k, v in node.value if k.value == key), None)


def _cases():
    for file in sorted(CASES_DIR.glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        for data, node in zip(yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader).value):
            yield pytest.param(data, node, id=f"{file.stem}: {data['name']}")


def _policy_text(node: yaml.MappingNode) -> str:
    lines = ["version: 1", "default: CONTINUE"]
    for key in ("lists", "conditions"):
        if _get(node, key) is not None:
            lines.append(f"{key}: {_flow(_get(node, key))}")
    lines += ["rules:", f"  - {{name: probe, disposition: STOP_RULE, when: {_flow(_get(node, 'when'))}}}"]
    return "\n".join(lines) + "\n"


def _event(case: dict) -> dict:
    ses = {"mail": case.get("mail", {}), "receipt": case.get("receipt", {})}
    return {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": ses}]}


@pytest.mark.parametrize(("case", "node"), list(_cases()))
def test_case(case: dict, node: yaml.MappingNode) -> None:
    policy = load_policy_text(_policy_text(node))
    decision = policy.evaluate(_event(case))
    assert decision.errors == []
    held = decision.disposition == "STOP_RULE"
    assert held is case["holds"], policy.evaluate(_event(case), explain=True).to_dict()["records"][0]["trace"]
