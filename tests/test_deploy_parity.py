"""The SAM template and the CDK construct deploy the same thing (so neither drifts).

Both with everything on (actions, SSM, tracing, alarms, store/notify targets), the
SAM template resolved for those parameters and the construct synthesized with the
same values: the same resource types (AWS::Serverless::Function counted as the
AWS::Lambda::Function it becomes), the same normalised IAM action sets per role
and resource policy, the same settings, and the same limits where they matter.
"""
from __future__ import annotations

from collections import Counter

import pytest

import cdk_support as cdk_
from cdk_support import FULL, SAM_FULL, full_references, function, of_type, one, role_statements, synth
from cfn_stack import Stack

HANDLERS = {"handler.lambda_handler": ("Function", "FunctionRole"),
            "handler.action_handler": ("ActionFunction", "ActionFunctionRole")}


@pytest.fixture(scope="module")
def sam() -> Stack:
    return Stack(**SAM_FULL)


@pytest.fixture(scope="module")
def cdk(tmp_path_factory) -> dict:
    return synth(cdk_.stub_zip(tmp_path_factory.mktemp("code")), full_references, **FULL)[1]


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def actions_of(statements: list[dict]) -> set[tuple[str, str]]:
    """(effect, action) pairs, actions lower-cased as IAM compares them."""
    return {(s["Effect"], a.lower()) for s in statements for a in _list(s["Action"])}


def test_same_resource_types(sam: Stack, cdk: dict) -> None:
    sam_types = Counter(r["Type"].replace("AWS::Serverless::Function", "AWS::Lambda::Function")
                        for r in sam.resources.values())
    assert Counter(r["Type"] for r in cdk["Resources"].values()) == sam_types


@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_same_iam_actions_per_role(sam: Stack, cdk: dict, handler: str) -> None:
    _, role = HANDLERS[handler]
    assert actions_of(role_statements(cdk, handler)) == actions_of(sam.statements(role))


@pytest.mark.parametrize("sam_name, cdk_type", [("ArchiveBucketPolicy", "AWS::S3::BucketPolicy"),
                                                ("ActionsQueuePolicy", "AWS::SQS::QueuePolicy")])
def test_same_resource_policy_actions(sam: Stack, cdk: dict, sam_name: str, cdk_type: str) -> None:
    sam_statements = sam.props(sam_name)["PolicyDocument"]["Statement"]
    assert actions_of(one(cdk, cdk_type)["PolicyDocument"]["Statement"]) == actions_of(sam_statements)


@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_same_settings(sam: Stack, cdk: dict, handler: str) -> None:
    sam_env = sam.env(HANDLERS[handler][0])
    cdk_env = function(cdk, handler)["Environment"]["Variables"]
    assert set(cdk_env) == set(sam_env)
    literal = {k for k in sam_env if isinstance(sam_env[k], str) and isinstance(cdk_env[k], str)}
    assert {k: cdk_env[k] for k in literal} == {k: sam_env[k] for k in literal}
    assert len(literal) >= len(sam_env) - 4      # only resource names and URLs differ in form


@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_same_function_limits(sam: Stack, cdk: dict, handler: str) -> None:
    sam_fn, fn = sam.props(HANDLERS[handler][0]), function(cdk, handler)
    assert (fn["Runtime"], fn["Timeout"], fn["MemorySize"]) == (sam_fn["Runtime"], sam_fn["Timeout"],
                                                                sam_fn["MemorySize"])
    assert str(fn.get("ReservedConcurrentExecutions")) == str(sam_fn.get("ReservedConcurrentExecutions"))
    assert fn.get("TracingConfig", {}).get("Mode") == sam_fn.get("Tracing")


def test_same_queues_table_and_mapping(sam: Stack, cdk: dict) -> None:
    queues = {"RedrivePolicy" in q["Properties"]: q["Properties"] for q in of_type(cdk, "AWS::SQS::Queue").values()}
    main, dlq = sam.props("ActionsQueue"), sam.props("ActionsDeadLetterQueue")
    for key in ("VisibilityTimeout", "MessageRetentionPeriod", "SqsManagedSseEnabled"):
        assert queues[True].get(key) == main.get(key), key
        assert queues[False].get(key) == dlq.get(key), key
    assert queues[True]["RedrivePolicy"]["maxReceiveCount"] == main["RedrivePolicy"]["maxReceiveCount"]
    table = one(cdk, "AWS::DynamoDB::Table")
    for key in ("KeySchema", "AttributeDefinitions", "TimeToLiveSpecification", "BillingMode", "SSESpecification"):
        assert table[key] == sam.props("IdempotencyTable")[key], key
    mapping, sam_mapping = one(cdk, "AWS::Lambda::EventSourceMapping"), sam.props("ActionsEventSource")
    assert (mapping["BatchSize"], mapping["FunctionResponseTypes"]) == (sam_mapping["BatchSize"],
                                                                        sam_mapping["FunctionResponseTypes"])
    assert str(mapping["ScalingConfig"]["MaximumConcurrency"]) == \
        str(sam_mapping["ScalingConfig"]["MaximumConcurrency"])


def test_same_receipt_rule(sam: Stack, cdk: dict) -> None:
    rule, sam_rule = one(cdk, "AWS::SES::ReceiptRule")["Rule"], sam.props("ReceiptRule")["Rule"]
    assert [next(iter(a)) for a in rule["Actions"]] == sam.action_kinds()
    for key in ("ScanEnabled", "Enabled", "TlsPolicy", "Recipients"):
        assert rule[key] == sam_rule[key], key
    assert rule["Name"] == sam_rule["Name"] == f"{cdk_.STACK}-ses-rules"


def test_same_archive_bucket(sam: Stack, cdk: dict) -> None:
    bucket, sam_bucket = one(cdk, "AWS::S3::Bucket"), sam.props("ArchiveBucket")
    for key in ("BucketEncryption", "PublicAccessBlockConfiguration", "OwnershipControls"):
        assert bucket[key] == sam_bucket[key], key
    rule, = bucket["LifecycleConfiguration"]["Rules"]
    sam_rule, = sam_bucket["LifecycleConfiguration"]["Rules"]
    assert (rule["Prefix"], rule["ExpirationInDays"], rule["Status"]) == (
        sam_rule["Prefix"], int(sam_rule["ExpirationInDays"]), sam_rule["Status"])


def _watched(alarms: list[dict]) -> set[tuple[str, str]]:
    found = set()
    for props in alarms:
        metrics = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        found |= {(str(m["Namespace"]), m["MetricName"]) for m in metrics + ([props] if "MetricName" in props else [])}
    return found


def test_same_alarms(sam: Stack, cdk: dict) -> None:
    sam_alarms = [sam.props(n) for n, r in sam.resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"]
    cdk_alarms = [r["Properties"] for r in of_type(cdk, "AWS::CloudWatch::Alarm").values()]
    assert _watched(cdk_alarms) == _watched(sam_alarms)
    assert sorted(float(a["Threshold"]) for a in cdk_alarms) == sorted(float(a["Threshold"]) for a in sam_alarms)
