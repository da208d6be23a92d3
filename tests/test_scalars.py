"""Interpolation and the scalar rule (SPEC 3.1, 3.6)."""
from __future__ import annotations

import pytest

from engine import PolicyError, load_policy_text
from engine.lang.interpolation import InterpolationError, Interpolator
from engine.mail.values import parse_number


@pytest.mark.parametrize(("text", "value"), [
    ("574", 574), ("-2", -2), ("+3", 3), ("2.5", 2.5), (".5", 0.5), ("1e3", 1000.0), ("1.", 1.0),
    ("0x10", None), ("1_000", None), ("1:30", None), ("", None), ("1e", None), ("١٢", None), ("nan", None),
])
def test_number_literals_are_ascii_decimal(text, value):
    assert parse_number(text) == value


def test_substitution_forms():
    interp = Interpolator({"A": "x", "EMPTY": ""})
    assert interp.substitute("${A}-${B:-dflt}-${EMPTY:-e}") == "x-dflt-e"
    assert interp.substitute("$${A} costs $5") == "${A} costs $5"
    assert interp.used == {"A": "x", "B": "dflt", "EMPTY": "e"}


def test_unset_without_default_names_the_variable():
    with pytest.raises(InterpolationError) as info:
        Interpolator({}).substitute("${MISSING}")
    assert info.value.name == "MISSING"


def test_malformed_interpolation():
    with pytest.raises(InterpolationError):
        Interpolator({}).substitute("${not closed")


def test_interpolation_happens_before_the_type_is_read():
    policy = load_policy_text("version: 1\nrules:\n  - name: r\n    disposition: STOP_RULE\n    when:\n"
                              "      processing_time_ms:\n        gt: ${LIMIT}\n", environ={"LIMIT": "100"})
    event = {"Records": [{"eventSource": "aws:ses", "ses": {"mail": {}, "receipt": {"processingTimeMillis": 150}}}]}
    assert policy.evaluate(event).rule == "r"


def test_a_substituted_value_cannot_change_the_structure():
    policy = load_policy_text("version: 1\nrules:\n  - name: r\n    disposition: STOP_RULE\n    when:\n      subject: ${S}\n",
                              environ={"S": "a: b # c"})
    event = {"Records": [{"eventSource": "aws:ses", "ses": {"mail": {"commonHeaders": {"subject": "a: b # c"}},
                                                            "receipt": {}}}]}
    assert policy.evaluate(event).rule == "r"


def test_keys_are_not_interpolated():
    with pytest.raises(PolicyError) as info:
        load_policy_text("version: 1\n${KEY}: x\nrules: []\n", environ={"KEY": "name"})
    assert info.value.errors[0].code == "unknown-key"


def test_revision_changes_with_the_environment():
    text = "version: 1\nname: ${STAGE:-dev}\nrules: []\n"
    dev = load_policy_text(text, environ={})
    prod = load_policy_text(text, environ={"STAGE": "prod"})
    assert dev.name == "dev" and prod.name == "prod"
    assert dev.revision != prod.revision
    assert load_policy_text(text, environ={}).revision == dev.revision


def test_revision_changes_with_list_contents(tmp_path):
    (tmp_path / "l.txt").write_text("a@x.example\n")
    text = "version: 1\nlists:\n  l: {file: l.txt}\nrules: []\n"
    first = load_policy_text(text, base_dir=tmp_path).revision
    (tmp_path / "l.txt").write_text("b@x.example\n")
    assert load_policy_text(text, base_dir=tmp_path).revision != first
