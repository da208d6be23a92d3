"""docs/policy.schema.json: generated from the registries, committed current, and true to the loader."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest

from engine import PolicyError, load_policy, load_policy_text
from engine.mail.fields import FIELDS, PARTS
from engine.mail.operators import NEGATIONS, OPERATORS
from engine.tools.schema import field_names, policy_schema
from engine.lang.yamlsource import Mapping, Node, Sequence, compose

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "policy.schema.json"
SHIPPED = sorted([*ROOT.glob("policies/*.yaml"), *ROOT.glob("examples/policies/*.yaml")])
# YAML 1.2 core schema, as yaml-language-server reads a policy: only these plain scalars are not strings.
_INT = re.compile(r"[-+]?[0-9]+\Z|0o[0-7]+\Z|0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")


def as_editor_reads_it(node: Node | None):
    if isinstance(node, Mapping):
        return {k.text: as_editor_reads_it(v) for k, v in node.items}
    if isinstance(node, Sequence):
        return [as_editor_reads_it(v) for v in node.items]
    if node is None or (node.plain and node.text in ("", "~", "null", "Null", "NULL")):
        return None
    if node.plain and node.text in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return node.text.lower() == "true"
    if node.plain and _INT.match(node.text):
        return int(node.text, 0) if node.text[:2] in ("0o", "0x") else int(node.text)
    if node.plain and _FLOAT.match(node.text):
        return float(node.text)
    return node.text


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(validator, text: str) -> list[str]:
    return [e.message for e in validator.iter_errors(as_editor_reads_it(compose(textwrap.dedent(text), "t.yaml")))]


def test_the_committed_schema_is_what_the_registries_generate() -> None:
    generated = json.dumps(policy_schema(), indent=2, ensure_ascii=False) + "\n"
    assert COMMITTED.read_text(encoding="utf-8") == generated, "run `make schema` and commit docs/policy.schema.json"


def test_the_schema_names_every_field_part_and_operator() -> None:
    text = COMMITTED.read_text(encoding="utf-8")
    names = [*FIELDS, *(f"from.{p}" for p in PARTS), *OPERATORS, *NEGATIONS]
    assert [n for n in names if f'"{n}"' not in text] == []
    assert "sender.domain" in field_names() and "subject.domain" not in field_names()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_policy_is_valid_against_the_schema(validator, path: Path) -> None:
    load_policy(path)   # and loads
    assert [e.message for e in validator.iter_errors(as_editor_reads_it(compose(path.read_text(), str(path))))] == []


def test_there_are_shipped_policies_to_check() -> None:
    assert any(p.name == "default.yaml" for p in SHIPPED) and len(SHIPPED) >= 2


@pytest.mark.parametrize("text", [
    # unknown top-level key, misspelt field, unknown operator, bad disposition, rule without name
    "version: 1\nrule: []\n",
    "version: 1\nrules: [{name: a, when: {fromm: x@y.example}, disposition: CONTINUE}]\n",
    "version: 1\nrules: [{name: a, when: {subject: {containz: x}}, disposition: CONTINUE}]\n",
    "version: 1\nrules: [{name: a, disposition: STOPP}]\n",
    "version: 1\nrules: [{disposition: CONTINUE}]\n",
    "version: 1\nrules: [{name: a, when: {spf: PAS}, disposition: CONTINUE}]\n",
    "version: 1\nrules: [{name: a, when: {all: []}, disposition: CONTINUE}]\n",
    "version: 2\nrules: []\n",
])
def test_what_the_loader_refuses_the_schema_refuses_too(validator, text: str) -> None:
    with pytest.raises(PolicyError):
        load_policy_text(text)
    assert schema_errors(validator, text) != []


@pytest.mark.parametrize("text", [
    """\
    version: 1
    default: stop_rule_set
    lists: {words: {env: WORDS, separator: ";", default: [free, win]}, bad: {file: lists/x.txt}}
    conditions: {auth: {spf: PASS, dkim: PASS, dmarc: pass}}
    rules:
      - name: a.b_c-1
        mode: Shadow
        enabled: false
        lint: {ignore: [spoofable-from]}
        when:
          all:
            - {from.display_name: {matches: '(?i)ceo', match: all, case_sensitive: true}}
            - {header.X-Spam-Flag: YES}
            - {processing_time_ms: {gt: 1000}, headers_truncated: true}
            - {to: {count: {gt: 10, not_in: [12]}}}
            - {reply_to.domain: {not_same_as: from.domain}}
            - {path: "$.mail.headers[?(@.name == 'X')].value", exists: true}
            - {not: {condition: auth}}
            - {subject: {contains: {list: words}}}
        disposition: continue
    """,
])
def test_a_policy_using_every_construct_is_valid(validator, text: str) -> None:
    assert schema_errors(validator, text) == []
