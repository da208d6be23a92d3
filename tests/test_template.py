"""The SAM template: cfn-lint, and what cfn-lint cannot see (action order, scoping, wiring).

Each test resolves the template for given parameter values (`cfn_stack.Stack`) and
looks at what a stack would really get. The action resources (EnableActions) are
tested in test_template_actions.py.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cfn_stack import ACCOUNT, REGION, ROOT, STACK, TEMPLATE, Stack, cfn_lint


def _load_package_script():
    spec = importlib.util.spec_from_file_location("package_script", ROOT / "scripts" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


package = _load_package_script()


def test_cfn_lint_passes_with_no_finding() -> None:
    result = cfn_lint(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_function(tmp_path: Path) -> None:
    """cfn-lint here validates SAM resources by schema; make sure a mistake in one is reported."""
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text(encoding="utf-8").replace("      Timeout: 10", "      Timeoutt: 10"))
    result = cfn_lint(broken)
    assert result.returncode != 0 and "Timeoutt" in result.stdout


def test_function_runs_the_packaged_zip_on_the_packaged_python() -> None:
    fn = Stack().props("Function")
    assert fn["Runtime"] == f"python{package.RUNTIME_VERSION}"
    assert fn["Handler"] == "handler.lambda_handler"
    assert (TEMPLATE.parent / fn["CodeUri"]).resolve() == package.DIST_ZIP
    assert fn["Timeout"] <= 15, "SES waits at most 30 s; the function must answer well before"


@pytest.mark.parametrize("arch", sorted(package.ARCHES))
def test_architecture_parameter_matches_what_package_builds(arch: str) -> None:
    assert set(Stack().template["Parameters"]["Architecture"]["AllowedValues"]) == set(package.ARCHES)
    assert Stack(Architecture=arch).props("Function")["Architectures"] == [arch]


@pytest.mark.parametrize("archive_first, expected", [
    ("true", ["S3Action", "LambdaAction"]),
    ("false", ["LambdaAction", "S3Action"]),
])
def test_archive_first_decides_whether_mail_is_stored_before_the_decision(archive_first, expected) -> None:
    stack = Stack(ArchiveFirst=archive_first)
    assert stack.action_kinds() == expected
    downstream = Stack(ArchiveFirst=archive_first, DownstreamTopicArn="arn:aws:sns:eu-west-1:1:t")
    assert downstream.action_kinds() == expected + ["SNSAction"]


def test_archive_first_is_the_default() -> None:
    assert Stack().action_kinds()[0] == "S3Action"


def test_lambda_action_waits_for_the_answer_of_this_function() -> None:
    actions = Stack().props("ReceiptRule")["Rule"]["Actions"]
    lam = next(a["LambdaAction"] for a in actions if "LambdaAction" in a)
    assert lam == {"FunctionArn": {"getatt": "Function.Arn"}, "InvocationType": "RequestResponse"}


def test_s3_action_writes_to_the_bucket_whose_policy_admits_ses() -> None:
    stack = Stack()
    s3 = next(a["S3Action"] for a in stack.props("ReceiptRule")["Rule"]["Actions"] if "S3Action" in a)
    assert s3["BucketName"] == {"ref": "ArchiveBucket"}
    assert stack.props("ArchiveBucketPolicy")["Bucket"] == {"ref": "ArchiveBucket"}


def test_rule_scans_and_is_enabled_for_the_recipients() -> None:
    rule = Stack(Recipients="a@example.com, example.org").props("ReceiptRule")["Rule"]
    assert rule["ScanEnabled"] is True and rule["Enabled"] is True
    assert rule["Recipients"] == ["a@example.com", "example.org"]


def test_rule_waits_for_the_permission_and_the_bucket_policy() -> None:
    depends = Stack().resources["ReceiptRule"]["DependsOn"]
    assert {"SesInvokePermission", "ArchiveBucketPolicy"} <= set(depends)


@pytest.mark.parametrize("overrides", [{}, {"ExistingRuleSetName": "corp-inbound", "AfterRule": "spam"}],
                         ids=["own-rule-set", "existing-rule-set"])
def test_invoke_permission_is_scoped_to_this_account_and_rule(overrides: dict) -> None:
    stack = Stack(**overrides)
    perm = stack.props("SesInvokePermission")
    assert perm == {"Action": "lambda:InvokeFunction", "FunctionName": {"ref": "Function"},
                    "Principal": "ses.amazonaws.com", "SourceAccount": ACCOUNT,
                    "SourceArn": stack.rule_arn()}


@pytest.mark.parametrize("overrides", [{}, {"ExistingRuleSetName": "corp-inbound"}],
                         ids=["own-rule-set", "existing-rule-set"])
def test_bucket_policy_admits_ses_only_for_this_account_and_rule(overrides: dict) -> None:
    stack = Stack(**overrides)
    statements = stack.props("ArchiveBucketPolicy")["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1
    allow = allows[0]
    assert allow["Principal"] == {"Service": "ses.amazonaws.com"} and allow["Action"] == "s3:PutObject"
    assert allow["Condition"] == {"StringEquals": {"AWS:SourceAccount": ACCOUNT,
                                                   "AWS:SourceArn": stack.rule_arn()}}


def test_existing_rule_set_is_attached_to_not_created() -> None:
    stack = Stack(ExistingRuleSetName="corp-inbound", AfterRule="spam-filter")
    assert "ReceiptRuleSet" not in stack.resources
    rule = stack.props("ReceiptRule")
    assert rule["RuleSetName"] == "corp-inbound" and rule["After"] == "spam-filter"
    own = Stack()
    assert "ReceiptRuleSet" in own.resources and "After" not in own.props("ReceiptRule")
    assert own.rule_set_name() == STACK


def test_without_ssm_the_function_can_only_write_its_logs() -> None:
    stack = Stack()
    assert "POLICY_SSM_PARAMETER" not in stack.props("Function")["Environment"]["Variables"]
    assert stack.statements("FunctionRole") == [{"Effect": "Allow",
                                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                        "Resource": {"getatt": "FunctionLogGroup.Arn"}}]


def test_ssm_source_reads_exactly_one_parameter() -> None:
    stack = Stack(PolicySsmParameter="/ses-rules/prod/policy")
    env = stack.props("Function")["Environment"]["Variables"]
    assert env["POLICY_SSM_PARAMETER"] == "/ses-rules/prod/policy"
    ssm = [s for s in stack.statements("FunctionRole") if "ssm" in str(s["Action"])]
    assert ssm == [{"Effect": "Allow", "Action": "ssm:GetParameter",
                    "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/ses-rules/prod/policy"}]


def test_no_statement_grants_wildcard_actions_or_resources() -> None:
    for stack in (Stack(), Stack(PolicySsmParameter="/p")):
        for statement in stack.statements("FunctionRole"):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any("*" in a for a in actions), statement
            assert statement["Resource"] != "*", statement


def test_alarms_watch_load_failures_on_error_rate_and_function_errors() -> None:
    stack = Stack(AlarmTopicArn="arn:aws:sns:eu-west-1:1:ops")
    alarms = {n: stack.props(n) for n, r in stack.resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    watched = set()
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == ["arn:aws:sns:eu-west-1:1:ops"]
        metrics = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
        watched |= {(m["Namespace"], m["MetricName"]) for m in metrics}
    namespace = stack.params["MetricsNamespace"]
    assert {(namespace, "PolicyLoadFailures"), (namespace, "PolicyUnavailable"),
            (namespace, "EvaluationErrors"), ("AWS/Lambda", "Errors")} <= watched
    assert stack.props("Function")["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == namespace
