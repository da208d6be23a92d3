"""Data-driven semantics: each YAML case is a condition, a partial SES record and whether it holds.

The records are data (read with `yaml.safe_load`); the policy parts (`when`,
`lists`, `conditions`) are policy text, so they are re-emitted from the
composed nodes with their source text intact (`off` stays `off`).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from engine import load_policy_text
from engine.lang.yamlsource import Mapping, Node, Scalar, compose

CASES_DIR = Path(__file__).parent / "engine_cases"


def _flow(node: Node) -> str:
    """A node back to YAML flow text, plain scalars verbatim, quoted ones as JSON strings."""
    if isinstance(node, Scalar):
        return node.text if node.plain else json.dumps(node.text, ensure_ascii=False)
    if isinstance(node, Mapping):
        return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in node.items) + "}"
    return "[" + ", ".join(_flow(item) for item in node.items) + "]"


def _cases():
    for file in sorted(CASES_DIR.glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        for data, node in zip(yaml.safe_load(text), compose(text, str(file)).items):
            yield pytest.param(data, node, id=f"{file.stem}: {data['name']}")


def _policy_text(node: Mapping) -> str:
    lines = ["version: 1", "default: CONTINUE"]
    for key in ("lists", "conditions"):
        if node.get(key) is not None:
            lines.append(f"{key}: {_flow(node.get(key))}")
    lines += ["rules:", f"  - {{name: probe, disposition: STOP_RULE, when: {_flow(node.get('when'))}}}"]
    return "\n".join(lines) + "\n"


def _event(case: dict) -> dict:
    ses = {"mail": case.get("mail", {}), "receipt": case.get("receipt", {})}
    return {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": ses}]}


@pytest.mark.parametrize(("case", "node"), list(_cases()))
def test_case(case: dict, node: Mapping) -> None:
    policy = load_policy_text(_policy_text(node))
    decision = policy.evaluate(_event(case))
    assert decision.errors == []
    held = decision.disposition == "STOP_RULE"
    assert held is case["holds"], policy.evaluate(_event(case), explain=True).to_dict()["records"][0]["trace"]
