"""The SSM Parameter Store policy source, against moto: load, refresh, bad refreshes, fallbacks."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

import engine
import handler
from engine.aws import policysource
from handler_harness import ROOT, Lambda, lam, read_event  # noqa: F401  (lam: fixture)

PARAMETER = "/ses-rules/policy"
VIRUS = read_event(ROOT / "examples" / "events" / "virus-fail.json")
DEFAULT = ROOT / "policies" / "default.yaml"


def policy_text(name: str, disposition: str) -> str:
    """A policy whose one rule decides the virus example with `disposition`."""
    return (f"version: 1\nname: {name}\nrules:\n"
            f"  - {{name: {name}-virus, when: {{virus: FAIL}}, disposition: {disposition}}}\n")


class Clock:
    """The refresh schedule's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ssm(lam: Lambda, monkeypatch: pytest.MonkeyPatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
                        "POLICY_SSM_PARAMETER": PARAMETER,
                        "POWERTOOLS_PARAMETERS_MAX_AGE": "300"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("ssm", region_name="eu-west-1")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(policysource, "_clock", clock)
    return clock


def put(ssm, text: str, kind: str = "String") -> None:
    ssm.put_parameter(Name=PARAMETER, Value=text, Type=kind, Overwrite=True)


def test_the_policy_comes_from_the_parameter(ssm, lam: Lambda, clock: Clock):
    put(ssm, policy_text("from-ssm", "STOP_RULE"))
    run = lam.invoke(VIRUS)
    assert run.answer == {"disposition": "STOP_RULE"}
    revision = engine.load_policy_text(policy_text("from-ssm", "STOP_RULE")).revision
    want = {"name": "from-ssm", "revision": revision, "source": f"ssm:{PARAMETER}"}
    assert run.decision["policy"] == want and run.decision["rule"] == "from-ssm-virus"
    assert next(line for line in run.logs if line["message"] == "policy loaded")["policy"] == want


def test_a_secure_string_parameter_is_decrypted(ssm, lam: Lambda, clock: Clock):
    put(ssm, policy_text("secret", "STOP_RULE"), kind="SecureString")
    assert lam.invoke(VIRUS).answer == {"disposition": "STOP_RULE"}


def test_the_parameter_is_read_again_only_after_max_age(ssm, lam: Lambda, clock: Clock):
    put(ssm, policy_text("first", "STOP_RULE"))
    assert lam.invoke(VIRUS).decision["policy"]["name"] == "first"
    put(ssm, policy_text("second", "STOP_RULE_SET"))
    clock.now += 299
    run = lam.invoke(VIRUS)
    assert (run.answer, run.decision["policy"]["name"]) == ({"disposition": "STOP_RULE"}, "first")
    clock.now += 2
    run = lam.invoke(VIRUS)
    assert run.answer == {"disposition": "STOP_RULE_SET"}
    revision = engine.load_policy_text(policy_text("second", "STOP_RULE_SET")).revision
    assert run.decision["policy"]["revision"] == revision
    assert [line["policy"]["name"] for line in run.logs if line["message"] == "policy loaded"] == ["second"]


def test_an_unchanged_parameter_is_not_loaded_again(ssm, lam: Lambda, clock: Clock):
    put(ssm, policy_text("same", "STOP_RULE"))
    lam.invoke(VIRUS)
    clock.now += 301
    run = lam.invoke(VIRUS)
    assert "policy loaded" not in [line["message"] for line in run.logs]
    assert run.decision["policy"]["name"] == "same"


def test_a_refresh_that_does_not_load_keeps_the_last_good_policy(ssm, lam: Lambda, clock: Clock):
    put(ssm, policy_text("good", "STOP_RULE"))
    good = lam.invoke(VIRUS).decision["policy"]
    put(ssm, "version: 1\nrules:\n  - {name: x, when: {spf: PAS}, disposition: STOP_RULE}\n")
    clock.now += 301
    run = lam.invoke(VIRUS)
    assert run.answer == {"disposition": "STOP_RULE"} and run.decision["policy"] == good
    failure = next(line for line in run.logs if line["message"] == "policy load failed")
    assert failure["level"] == "ERROR" and failure["source"] == f"ssm:{PARAMETER}"
    assert any("PASS" in detail for detail in failure["details"])   # the did-you-mean hint
    assert failure["kept_policy"] == good
    assert run.metric("PolicyLoadFailures") == 1
    # Not tried again on every invocation, but again at the next refresh.
    assert "policy load failed" not in [line["message"] for line in lam.invoke(VIRUS).logs]
    clock.now += 301
    assert lam.invoke(VIRUS).metric("PolicyLoadFailures") == 1


def test_an_unreadable_parameter_at_cold_start_falls_back_to_the_file(ssm, lam: Lambda, clock: Clock):
    run = lam.invoke(VIRUS)          # no such parameter
    assert run.answer == {"disposition": "STOP_RULE_SET"}
    assert run.decision["policy"]["source"] == f"file:{DEFAULT}"
    failure = next(line for line in run.logs if line["message"] == "policy load failed")
    assert (failure["level"], failure["reason"]) == ("ERROR", "cannot read the SSM parameter")
    assert "ParameterNotFound" in failure["details"][0]
    assert run.metric("PolicyLoadFailures") == 1
    # A failed read is retried later, not on every invocation ...
    put(ssm, policy_text("late", "STOP_RULE"))
    clock.now += policysource.RETRY_AFTER_FAILURE - 1
    assert lam.invoke(VIRUS).decision["policy"]["source"] == f"file:{DEFAULT}"
    # ... and once it reads, the parameter's policy takes over.
    clock.now += 2
    run = lam.invoke(VIRUS)
    assert run.answer == {"disposition": "STOP_RULE"}
    assert run.decision["policy"]["source"] == f"ssm:{PARAMETER}"


def test_a_parameter_that_does_not_load_at_cold_start_falls_back_to_the_file(ssm, lam: Lambda, clock: Clock):
    put(ssm, "version: 2\nrules: []\n")
    run = lam.invoke(VIRUS)
    assert run.decision["policy"]["source"] == f"file:{DEFAULT}"
    assert run.messages("ERROR") == ["policy load failed"]


def test_nothing_loadable_answers_on_error(ssm, lam: Lambda, clock: Clock, monkeypatch, tmp_path):
    monkeypatch.setenv("POLICY_FILE", str(tmp_path / "absent.yaml"))
    monkeypatch.setenv("ON_ERROR", "STOP_RULE")
    put(ssm, "not: a policy\n")
    run = lam.invoke(VIRUS)
    assert run.answer == {"disposition": "STOP_RULE"}
    assert run.messages("ERROR") == ["policy load failed", "policy load failed", "decision"]
    assert run.metric("PolicyLoadFailures") == 2 and run.metric("PolicyUnavailable") == 1
    run = lam.invoke(VIRUS)
    assert run.answer == {"disposition": "STOP_RULE"} and run.messages("ERROR") == ["decision"]


def test_list_files_of_a_parameter_policy_resolve_beside_the_policy_file(ssm, lam: Lambda, clock: Clock,
                                                                       monkeypatch, tmp_path):
    (tmp_path / "blocked.txt").write_text("# senders\nrr@globex.example\n")
    (tmp_path / "bundled.yaml").write_text("version: 1\nrules: []\n")
    monkeypatch.setenv("POLICY_FILE", str(tmp_path / "bundled.yaml"))
    put(ssm, "version: 1\nname: lists\nlists: {blocked: {file: blocked.txt}}\nrules:\n"
             "  - {name: blocked, when: {from: {in: {list: blocked}}}, disposition: STOP_RULE}\n")
    assert lam.invoke(VIRUS).decision["rule"] == "blocked"


def test_the_ssm_client_has_short_timeouts_and_bounded_retries(ssm, lam: Lambda, clock: Clock):
    put(ssm, policy_text("timeouts", "STOP_RULE"))
    lam.invoke(VIRUS)
    config = handler.policy_source()._providers["ssm"].client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (1, 2)
    assert config.retries == {"total_max_attempts": 2, "mode": "standard"}


def test_an_unreadable_parameter_at_a_refresh_keeps_the_policy(ssm, lam: Lambda, clock: Clock):
    put(ssm, policy_text("kept", "STOP_RULE"))
    kept = lam.invoke(VIRUS).decision["policy"]
    ssm.delete_parameter(Name=PARAMETER)
    clock.now += 301
    run = lam.invoke(VIRUS)
    assert run.answer == {"disposition": "STOP_RULE"} and run.decision["policy"] == kept
    failure = next(line for line in run.logs if line["message"] == "policy load failed")
    assert (failure["reason"], failure["kept_policy"]) == ("cannot read the SSM parameter", kept)
    clock.now += policysource.RETRY_AFTER_FAILURE - 1
    assert lam.invoke(VIRUS).messages("ERROR") == []
    clock.now += 2
    assert lam.invoke(VIRUS).metric("PolicyLoadFailures") == 1


# -- a policy from SSM cannot read secrets or print them (SPEC 3.6) -----------------------------

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYsecret"          # AWS_SECRET_ACCESS_KEY
TOKEN = "IQoJb3JpZ2luX2VjEsessiontoken"                # AWS_SESSION_TOKEN
OWN = "team-value-not-for-logs"                        # a variable of the operator's own


def _rule(when: str) -> str:
    return f"  - name: probe\n    when: {when}\n    disposition: STOP_RULE\n"


@pytest.mark.parametrize(("text", "code"), [
    pytest.param("version: 1\nlists:\n  env: {file: /proc/self/environ}\nrules:\n"
                 + _rule("{from: {in: {list: env}}}"), "list-file", id="file-proc-self-environ"),
    pytest.param("version: 1\nlists:\n  env: {file: ../../../../../../proc/self/environ}\nrules:\n"
                 + _rule("{from: {in: {list: env}}}"), "list-file", id="file-dot-dot-environ"),
    pytest.param("version: 1\nrules:\n" + _rule('{from: "${AWS_SECRET_ACCESS_KEY}"}'), "reserved-variable",
                 id="interpolated-secret-key"),
    pytest.param("version: 1\nrules:\n" + _rule('{subject: {contains: "x${AWS_SESSION_TOKEN:-none}"}}'),
                 "reserved-variable", id="interpolated-token-with-default"),
    pytest.param("version: 1\nlists:\n  t: {env: AWS_SESSION_TOKEN, separator: ';'}\nrules:\n"
                 + _rule("{from: {in: {list: t}}}"), "reserved-variable", id="env-list-token"),
    pytest.param("version: 1\nrules:\n" + _rule('{from: "${SES_RULES_OWN}"}'), "bad-literal",
                 id="own-variable-bad-literal"),
    pytest.param("version: 1\nrules:\n" + _rule('{processing_time_ms: {gt: "${SES_RULES_OWN}"}}'),
                 "expected-number", id="own-variable-bad-number"),
])
def test_a_policy_in_ssm_logs_no_secret(ssm, lam: Lambda, clock: Clock, monkeypatch, text: str, code: str):
    """The SSM text tries to read the role's credentials; the load fails, and no log line holds them."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("SES_RULES_OWN", OWN)
    monkeypatch.setenv("LOG_TRACE", "all")
    put(ssm, text)
    run = lam.invoke(VIRUS)
    failed = next(line for line in run.logs if line["message"] == "policy load failed")
    assert any(f"error: " in d for d in failed["details"]) and code in _codes(text), failed
    assert run.decision["policy"]["source"].startswith("file:")          # the bundled policy answered
    logged = json.dumps(run.logs) + json.dumps(run.emf)
    for secret in (SECRET, TOKEN, OWN):
        assert secret not in logged


def _codes(text: str) -> set[str]:
    with pytest.raises(engine.PolicyError) as info:
        engine.load_policy_text(text, base_dir=str(DEFAULT.parent))
    return {d.code for d in info.value.errors}


def test_the_parameter_wins_over_a_precompiled_file_and_the_bundle_covers_a_failed_read(
        ssm, lam: Lambda, clock: Clock, monkeypatch, tmp_path):
    """SSM text always goes through the YAML loader; the file's bundle stands in only for the file."""
    from engine.lang.precompiled import bundle_path, precompile
    bundled = tmp_path / "default.yaml"
    bundled.write_text(DEFAULT.read_text())
    bundle_path(bundled).write_bytes(precompile(bundled))
    monkeypatch.setenv("POLICY_FILE", str(bundled))
    run = lam.invoke(VIRUS)          # no such parameter yet: the file, from its bundle
    assert run.decision["policy"]["source"] == f"precompiled:{bundle_path(bundled)}"
    assert run.decision["policy"]["revision"] == engine.load_policy(bundled).revision
    put(ssm, policy_text("from-ssm", "STOP_RULE"))
    clock.now += policysource.RETRY_AFTER_FAILURE + 1
    run = lam.invoke(VIRUS)
    assert run.decision["policy"] == {"name": "from-ssm", "source": f"ssm:{PARAMETER}",
                                      "revision": engine.load_policy_text(policy_text("from-ssm", "STOP_RULE")).revision}
