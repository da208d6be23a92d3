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


# -- reserved variables and values shown as written (SPEC 3.6) ----------------------------------

from engine.lang.interpolation import is_reserved  # noqa: E402


@pytest.mark.parametrize(("name", "reserved"), [
    ("AWS_SECRET_ACCESS_KEY", True), ("AWS_ACCESS_KEY_ID", True), ("AWS_SESSION_TOKEN", True),
    ("AWS_LAMBDA_FUNCTION_NAME", True), ("AWS_CONTAINER_CREDENTIALS_FULL_URI", True), ("AWS_", True),
    ("AWS_REGION", False), ("AWS_DEFAULT_REGION", False), ("AWS_REGIONS", True),
    ("LAMBDA_TASK_ROOT", True), ("LAMBDA_RUNTIME_DIR", True), ("_HANDLER", True), ("_X_AMZN_TRACE_ID", True),
    ("_", True), ("TZ", True), ("TZDIR", False), ("MAIL_SOURCE", False), ("aws_secret", False),
    ("MY_AWS_KEY", False), ("LAMBDA", False),
])
def test_the_reserved_variables_are_exactly_the_runtimes(name, reserved):
    assert is_reserved(name) is reserved


@pytest.mark.parametrize("written", ["${AWS_SECRET_ACCESS_KEY}", "${AWS_SECRET_ACCESS_KEY:-x@y.example}",
                                     "pre-${AWS_SESSION_TOKEN}", "${_HANDLER}", "${TZ:-UTC}", "${LAMBDA_TASK_ROOT}"])
def test_a_reserved_variable_cannot_be_interpolated(written):
    environ = {"AWS_SECRET_ACCESS_KEY": "v4lue-1", "AWS_SESSION_TOKEN": "v4lue-2", "_HANDLER": "v4lue-3",
               "TZ": "v4lue-4", "LAMBDA_TASK_ROOT": "v4lue-5"}
    with pytest.raises(PolicyError) as info:
        load_policy_text(f"version: 1\nrules:\n  - {{name: r, disposition: STOP_RULE, when: {{subject: '{written}'}}}}\n",
                         environ=environ)
    (error,) = info.value.errors
    name = written.split("{")[1].split("}")[0].split(":")[0]
    assert (error.code, error.line) == ("reserved-variable", 3)
    assert f"environment variable {name} is reserved" in error.message and "v4lue" not in str(error)


def test_the_region_can_be_interpolated():
    policy = load_policy_text("version: 1\nname: p-${AWS_REGION}\nrules: []\n", environ={"AWS_REGION": "eu-west-1"})
    assert policy.name == "p-eu-west-1"


@pytest.mark.parametrize(("when", "value", "message"), [
    ("{from: '${SENDER}'}", "not-an-address", "'${SENDER}' is not one e-mail address"),
    ("{from: [a@b.example, '${SENDER}']}", "not-an-address", "'${SENDER}' is not one e-mail address"),
    ("{from.domain: {in_domain: '${SENDER}'}}", "x@y", "'${SENDER}' is not a domain"),
    ("{subject: {matches: 'x${SENDER}'}}", "(unclosed", "'x${SENDER}'"),
    ("{processing_time_ms: {gt: '${SENDER}'}}", "ten", "gt must be a number, not '${SENDER}'"),
    ("{spf: {equals: '${SENDER}'}}", "PAS", None),
])
def test_a_bad_literal_from_a_variable_is_shown_as_written(when, value, message):
    """The value of `${SENDER}` may be a secret: a message shows the scalar as written, never the value."""
    secret = value + "-SECRET-7f3a"
    with pytest.raises(PolicyError) as info:
        load_policy_text(f"version: 1\nrules:\n  - {{name: r, disposition: STOP_RULE, when: {when}}}\n",
                         environ={"SENDER": secret})
    text = "\n".join(str(e) for e in info.value.errors)
    assert "SECRET" not in text, text
    if message:
        assert message in text, text


@pytest.mark.parametrize("when", [
    "{path: '${SENDER}', exists: true}",                  # a JSONPath error quotes the path
    "{subject: {in: {list: '${SENDER}'}}}",               # an unknown list is named
    "{condition: '${SENDER}'}",                           # an unknown condition is named
    "{subject: {matches: '(${SENDER}'}}",                 # RE2 quotes fragments of the pattern
])
def test_no_message_prints_a_value_read_from_the_environment(when):
    secret = "Zq9-value-from-env"
    with pytest.raises(PolicyError) as info:
        load_policy_text(f"version: 1\nrules:\n  - {{name: r, disposition: STOP_RULE, when: {when}}}\n",
                         environ={"SENDER": secret})
    text = "\n".join(str(e) for e in info.value.errors)
    assert secret not in text and "${SENDER}" in text, text
