"""The SesRules CDK construct, synthesized with the real aws-cdk-lib and checked with
`aws_cdk.assertions` and cfn-lint: action order, invocation type, permission and
bucket-policy scoping, DependsOn, IAM actions exactly as needed, the action side.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cdk_support as cdk_
from cdk_support import (ACCOUNT, BOUNCE_SENDER, FORWARD_FROM, FULL, KEY, STACK, TOPIC,
                         assertions, full_references, function, of_type, one, role_statements, synth, write)
from cfn_stack import ROOT, cfn_lint

Match = assertions.Match
RULE_ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ses:", {"Ref": "AWS::Region"}, ":",
                              {"Ref": "AWS::AccountId"}, f":receipt-rule-set/{STACK}:receipt-rule/{STACK}-ses-rules"]]}
DECIDE, ACT = "handler.lambda_handler", "handler.action_handler"


@pytest.fixture(scope="module")
def code_zip(tmp_path_factory) -> Path:
    return cdk_.stub_zip(tmp_path_factory.mktemp("code"))


@pytest.fixture(scope="module")
def default(code_zip):
    return synth(code_zip)


@pytest.fixture(scope="module")
def full(code_zip):
    return synth(code_zip, full_references, **FULL)


def by_sid(statements: list[dict]) -> dict[str, dict]:
    return {s.get("Sid", ""): s for s in statements}


@pytest.mark.parametrize("which", ["default", "full"])
def test_synthesized_template_passes_cfn_lint(which, request, tmp_path) -> None:
    _, template = request.getfixturevalue(which)
    result = cfn_lint(write(template, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_stores_then_asks_the_function_and_waits_for_its_permissions(default) -> None:
    tpl, template = default
    rule = one(template, "AWS::SES::ReceiptRule")["Rule"]
    assert [next(iter(a)) for a in rule["Actions"]] == ["S3Action", "LambdaAction"]
    assert rule["Actions"][1]["LambdaAction"]["InvocationType"] == "RequestResponse"
    assert (rule["ScanEnabled"], rule["Enabled"], rule["Recipients"]) == (True, True, ["support@example.com"])
    assert rule["Name"] == f"{STACK}-ses-rules" and rule["TlsPolicy"] == "Optional"
    depends = next(iter(of_type(template, "AWS::SES::ReceiptRule").values()))["DependsOn"]
    assert {template["Resources"][d]["Type"] for d in depends} == {"AWS::Lambda::Permission", "AWS::S3::BucketPolicy"}
    tpl.resource_count_is("AWS::SES::ReceiptRuleSet", 1)
    tpl.has_resource_properties("AWS::SES::ReceiptRuleSet", {"RuleSetName": STACK})


def test_without_archive_first_the_function_decides_first_and_downstream_follows(code_zip) -> None:
    def topic(stack):
        from aws_cdk import aws_sns as sns
        return {"downstream_topic": sns.Topic.from_topic_arn(stack, "Down", TOPIC)}
    _, template = synth(code_zip, topic, archive_first=False)
    actions = one(template, "AWS::SES::ReceiptRule")["Rule"]["Actions"]
    assert [next(iter(a)) for a in actions] == ["LambdaAction", "S3Action", "SNSAction"]
    assert actions[2]["SNSAction"] == {"TopicArn": TOPIC, "Encoding": "UTF-8"}


def test_an_existing_rule_set_is_attached_to_after_the_given_rule(code_zip) -> None:
    def existing(stack):
        from aws_cdk import aws_ses as ses
        return {"rule_set": ses.ReceiptRuleSet.from_receipt_rule_set_name(stack, "Corp", "corp-inbound")}
    tpl, template = synth(code_zip, existing, after_rule="spam-filter")
    tpl.resource_count_is("AWS::SES::ReceiptRuleSet", 0)
    rule = one(template, "AWS::SES::ReceiptRule")
    assert rule["RuleSetName"] == "corp-inbound" and rule["After"] == "spam-filter"
    assert one(template, "AWS::Lambda::Permission")["SourceArn"]["Fn::Join"][1][-1] == \
        f":receipt-rule-set/corp-inbound:receipt-rule/{STACK}-ses-rules"


def test_ses_may_invoke_only_from_this_account_and_rule(default) -> None:
    permission = one(default[1], "AWS::Lambda::Permission")
    assert permission["Principal"] == "ses.amazonaws.com" and permission["Action"] == "lambda:InvokeFunction"
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"} and permission["SourceArn"] == RULE_ARN


def test_bucket_admits_ses_only_from_this_rule_and_only_over_tls(default) -> None:
    tpl, template = default
    statements = one(template, "AWS::S3::BucketPolicy")["PolicyDocument"]["Statement"]
    allow, = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "ses.amazonaws.com"} and allow["Action"] == "s3:PutObject"
    assert allow["Condition"] == {"StringEquals": {"AWS:SourceAccount": {"Ref": "AWS::AccountId"},
                                                   "AWS:SourceArn": RULE_ARN}}
    deny, = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    tpl.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain", "Properties": Match.object_like({
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "LifecycleConfiguration": {"Rules": [Match.object_like({"Prefix": "inbound/", "ExpirationInDays": 90})]}})})


def test_deciding_function_runs_the_package_and_may_only_write_its_logs(default) -> None:
    _, template = default
    fn = function(template, DECIDE)
    assert (fn["Runtime"], fn["Timeout"], fn["MemorySize"]) == ("python3.12", 10, 512)
    assert "TracingConfig" not in fn
    assert not [r for r in of_type(template, "AWS::Lambda::Function").values() if "DependsOn" in r]
    env = fn["Environment"]["Variables"]
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true" and json.loads(env["POLICY_ENVIRONMENT"]) == {}
    assert "ACTIONS_QUEUE_URL" not in env and "POLICY_SSM_PARAMETER" not in env
    statement, = role_statements(template, DECIDE)
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert of_type(template, "AWS::IAM::Policy") == {}        # no grant_* default policy anywhere
    for name in ("SQS::Queue", "DynamoDB::Table", "Lambda::EventSourceMapping"):
        assert of_type(template, f"AWS::{name}") == {}


def test_deciding_function_with_everything_on(full) -> None:
    _, template = full
    fn = function(template, DECIDE)
    env = fn["Environment"]["Variables"]
    assert fn["TracingConfig"] == {"Mode": "Active"} and env["POWERTOOLS_TRACE_DISABLED"] == "false"
    assert json.loads(env["POLICY_ENVIRONMENT"]) == FULL["policy_environment"]
    assert env["POLICY_SSM_PARAMETER"] == "/ses-rules/prod/policy" and "Ref" in env["ACTIONS_QUEUE_URL"]
    actions = {a for s in role_statements(template, DECIDE) for a in _list(s["Action"])}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", "ssm:GetParameter", "sqs:SendMessage",
                       "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_queue_dead_letter_queue_and_queue_policy(full) -> None:
    _, template = full
    queues = list(of_type(template, "AWS::SQS::Queue").values())
    main = next(q["Properties"] for q in queues if "RedrivePolicy" in q["Properties"])
    dlq = next(q["Properties"] for q in queues if "RedrivePolicy" not in q["Properties"])
    assert main["RedrivePolicy"]["maxReceiveCount"] == 5 and main["VisibilityTimeout"] == 360
    assert main["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    statements = by_sid(one(template, "AWS::SQS::QueuePolicy")["PolicyDocument"]["Statement"])
    role_arn = function(template, DECIDE)["Role"]
    assert statements["AllowDecidingFunction"]["Principal"] == {"AWS": role_arn}
    assert statements["DenyOtherSenders"]["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": role_arn}}
    assert statements[""]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_action_function_mapping_and_idempotency_table(full) -> None:
    tpl, template = full
    fn = function(template, ACT)
    assert (fn["Timeout"], fn["ReservedConcurrentExecutions"], fn["Runtime"]) == (60, 2, "python3.12")
    mapping = one(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2} and mapping["BatchSize"] == 10
    tpl.has_resource_properties("AWS::DynamoDB::Table", {
        "BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        "SSESpecification": {"SSEEnabled": True}})
    env = fn["Environment"]["Variables"]
    assert (env["FORWARD_FROM"], env["ALLOWED_FROM"], env["BOUNCE_SENDER"]) == (FORWARD_FROM, FORWARD_FROM,
                                                                                BOUNCE_SENDER)
    assert env["ALLOWED_FORWARD_DOMAINS"] == "team.example,corp.example" and env["MAIL_PREFIX"] == "inbound/"
    assert (env["ALLOWED_TOPICS"], env["ALLOWED_KMS_KEYS"]) == (TOPIC, KEY)
    assert env["ALLOWED_BUCKETS"]["Fn::Join"][1][1:] == [",quarantine,audit"]


def test_action_role_grants_exactly_what_the_actions_call(full) -> None:
    statements = by_sid(role_statements(full[1], ACT))
    assert {sid: sorted(_list(s["Action"])) for sid, s in statements.items()} == {
        "WriteOwnLogs": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "ConsumeActionsQueue": ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
        "ReadStoredMail": ["s3:GetObject"],
        "IdempotencyRecords": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        "StoreCopies": ["s3:PutObject"],
        "ForwardFromTheIdentity": ["ses:SendEmail", "ses:SendRawEmail"],
        "BounceFromTheSender": ["ses:SendBounce"],
        "EncryptStoreCopies": ["kms:GenerateDataKey"],
        "PublishNotifications": ["sns:Publish"],
        "WriteTraces": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]}
    forward = statements["ForwardFromTheIdentity"]
    assert forward["Condition"] == {"StringEquals": {"ses:FromAddress": FORWARD_FROM}}
    assert [r["Fn::Join"][1][-1] for r in forward["Resource"]] == [":identity/" + FORWARD_FROM,
                                                                   ":identity/mail.example.com"]
    assert statements["PublishNotifications"]["Resource"] == TOPIC
    assert statements["ReadStoredMail"]["Resource"]["Fn::Join"][1][-1] == "/inbound/*"
    assert [r["Fn::Join"][1][-1] for r in statements["StoreCopies"]["Resource"]] == [
        "/*", ":s3:::quarantine/*", ":s3:::audit/*"]


def test_alarms_watch_what_the_sam_template_watches(full, code_zip) -> None:
    _, template = full
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    watched = set()
    for alarm in alarms.values():
        props = alarm["Properties"]
        assert props["AlarmActions"] == props["OKActions"] == [cdk_.OPS_TOPIC]
        metrics = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        metrics += [props] if "MetricName" in props else []
        watched |= {(m["Namespace"], m["MetricName"]) for m in metrics}
    assert {("SesRules", n) for n in ("PolicyLoadFailures", "PolicyUnavailable", "EvaluationErrors",
                                      "ActionsNotQueued", "ActionsFailed")} <= watched
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in watched and len(alarms) == 6
    _, quiet = synth(code_zip, alarms=False, actions=True)
    assert of_type(quiet, "AWS::CloudWatch::Alarm") == {}


@pytest.mark.parametrize("options, message", [
    ({"actions": True, "archive_first": False}, "requires archive_first=True"),
    ({"actions": True, "forward_from": "not an address"}, "is not an address"),
    ({"bounce_sender": "postmaster@example.com"}, "actions=False"),
    ({"policy_environment": {"MAIL SOURCE": "x"}}, "is not a variable name"),
    ({"action_concurrency": 1}, "at least 2"),
    ({"recipients": []}, "recipients is empty"),
])
def test_impossible_options_are_refused_before_synthesis(code_zip, options, message) -> None:
    with pytest.raises(ValueError, match=message):
        synth(code_zip, **options)


def test_a_missing_zip_says_to_run_make_package(monkeypatch, tmp_path) -> None:
    from ses_rules_cdk import options
    monkeypatch.setattr(options, "DIST_ZIP", tmp_path / "absent.zip")
    with pytest.raises(ValueError, match="run `make package` first"):
        options.SesRulesOptions(recipients=["a@example.com"]).function_code()


def test_construct_imports_nothing_of_the_engine() -> None:
    for path in (ROOT / "ses_rules_cdk").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not [n for n in names if n == "engine" or n.startswith("engine.")], path


def test_example_app_synthesizes_filter_then_forward(code_zip, tmp_path) -> None:
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps({"code_zip": str(code_zip)})}
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "cdk" / "app.py")], capture_output=True,
                            text=True, cwd=ROOT / "examples" / "cdk", env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "end-of-life" not in result.stderr
    template_path, = tmp_path.glob("*.template.json")
    lint = cfn_lint(template_path)
    assert lint.returncode == 0, lint.stdout
    template = json.loads(template_path.read_text(encoding="utf-8"))
    rule = one(template, "AWS::SES::ReceiptRule")["Rule"]
    assert [next(iter(a)) for a in rule["Actions"]] == ["S3Action", "LambdaAction"] and rule["ScanEnabled"]
    assert "ForwardFromTheIdentity" in by_sid(role_statements(template, ACT))
    assert ACCOUNT not in template_path.read_text(encoding="utf-8")   # environment-agnostic
