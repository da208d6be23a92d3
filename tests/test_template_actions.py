"""The SAM template's action resources (EnableActions): queue, dead-letter queue, action
function, event source mapping, idempotency table, IAM, alarms; and the Tracing and
PolicyEnvironment parameters, which both functions share.
"""
from __future__ import annotations

import inspect
import json
import re

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from cfn_stack import ACCOUNT, REGION, Stack

FORWARD_FROM = "forwarder@mail.example.com"
BOUNCE_SENDER = "postmaster@bounces.example.com"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:security"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
FULL = {"EnableActions": "true", "ForwardFrom": FORWARD_FROM, "BounceSender": BOUNCE_SENDER,
        "AllowedForwardDomains": "team.example, corp.example", "StoreBuckets": "quarantine, audit",
        "StoreKmsKeyArns": KEY, "NotifyTopicArns": TOPIC}
ACTION_RESOURCES = {"ActionsQueue": "AWS::SQS::Queue", "ActionsDeadLetterQueue": "AWS::SQS::Queue",
                    "ActionsQueuePolicy": "AWS::SQS::QueuePolicy", "IdempotencyTable": "AWS::DynamoDB::Table",
                    "ActionFunction": "AWS::Serverless::Function", "ActionFunctionRole": "AWS::IAM::Role",
                    "ActionFunctionLogGroup": "AWS::Logs::LogGroup",
                    "ActionsEventSource": "AWS::Lambda::EventSourceMapping",
                    "ActionsDeadLetterAlarm": "AWS::CloudWatch::Alarm",
                    "ActionsNotQueuedAlarm": "AWS::CloudWatch::Alarm", "ActionsFailedAlarm": "AWS::CloudWatch::Alarm"}
# The settings of SPEC 5 the action function reads, each filled by the template.
ACTION_SETTINGS = {"MAIL_BUCKET", "MAIL_PREFIX", "FORWARD_FROM", "BOUNCE_SENDER", "IDEMPOTENCY_TABLE",
                   "ALLOWED_FROM", "ALLOWED_FORWARD_DOMAINS", "ALLOWED_BUCKETS", "ALLOWED_KMS_KEYS",
                   "ALLOWED_TOPICS"}
ARCHIVE = "{ArchiveBucket.Arn}"


def by_sid(stack: Stack) -> dict[str, dict]:
    return {s["Sid"]: s for s in stack.statements("ActionFunctionRole")}


def test_without_actions_nothing_of_them_is_created() -> None:
    stack = Stack()
    assert not set(ACTION_RESOURCES) & set(stack.resources)
    assert "ACTIONS_QUEUE_URL" not in stack.env("Function")
    assert not [s for s in stack.statements("FunctionRole") if "sqs" in str(s["Action"])]


def test_with_actions_every_resource_is_created() -> None:
    stack = Stack(EnableActions="true")
    assert {name: stack.resources[name]["Type"] for name in ACTION_RESOURCES} == ACTION_RESOURCES


@pytest.mark.parametrize("enable, archive_first, broken", [
    ("true", "false", True), ("true", "true", False), ("false", "false", False)])
def test_actions_require_archive_first(enable: str, archive_first: str, broken: bool) -> None:
    violations = Stack(EnableActions=enable, ArchiveFirst=archive_first).rule_violations()
    assert bool(violations) is broken
    if broken:
        assert "ArchiveFirst=true" in violations[0]


def test_queue_is_encrypted_and_redrives_to_the_dead_letter_queue_after_5_receives() -> None:
    stack = Stack(EnableActions="true")
    queue, dlq = stack.props("ActionsQueue"), stack.props("ActionsDeadLetterQueue")
    assert queue["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"getatt": "ActionsDeadLetterQueue.Arn"},
                                      "maxReceiveCount": 5}
    assert queue["VisibilityTimeout"] == 6 * stack.props("ActionFunction")["Timeout"]
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600       # SQS's maximum
    assert queue["MessageRetentionPeriod"] <= dlq["MessageRetentionPeriod"]


def test_queue_admits_only_the_deciding_functions_role() -> None:
    stack = Stack(EnableActions="true")
    policy = stack.props("ActionsQueuePolicy")
    assert policy["Queues"] == [{"ref": "ActionsQueue"}]
    role = {"getatt": "FunctionRole.Arn"}
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["AllowDecidingFunction"]["Principal"] == {"AWS": role}
    assert statements["AllowDecidingFunction"]["Action"] == "sqs:SendMessage"
    deny = statements["DenyOtherSenders"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sqs:SendMessage")
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": role}}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_deciding_function_may_only_send_to_the_queue_and_knows_its_url() -> None:
    stack = Stack(EnableActions="true")
    assert stack.env("Function")["ACTIONS_QUEUE_URL"] == {"ref": "ActionsQueue"}
    sqs = [s for s in stack.statements("FunctionRole") if "sqs" in str(s["Action"])]
    assert sqs == [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"getatt": "ActionsQueue.Arn"}}]


def test_action_function_is_the_same_package_with_the_action_handler() -> None:
    stack = Stack(EnableActions="true", Architecture="arm64")
    deciding, action = stack.props("Function"), stack.props("ActionFunction")
    assert action["Handler"] == "handler.action_handler"
    for key in ("CodeUri", "Runtime", "Architectures"):
        assert action[key] == deciding[key], key
    assert 30 <= action["Timeout"] <= 120
    assert action["Role"] == {"getatt": "ActionFunctionRole.Arn"}


@pytest.mark.parametrize("concurrency", ["2", "5"])
def test_concurrency_is_capped_and_the_poller_never_exceeds_it(concurrency: str) -> None:
    stack = Stack(EnableActions="true", ActionConcurrency=concurrency)
    assert stack.props("ActionFunction")["ReservedConcurrentExecutions"] == concurrency
    mapping = stack.props("ActionsEventSource")
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": concurrency}
    assert stack.template["Parameters"]["ActionConcurrency"]["MinValue"] == 2   # the mapping's minimum


def test_event_source_mapping_reports_partial_batch_failures() -> None:
    mapping = Stack(EnableActions="true").props("ActionsEventSource")
    assert mapping["EventSourceArn"] == {"getatt": "ActionsQueue.Arn"}
    assert mapping["FunctionName"] == {"ref": "ActionFunction"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= mapping["BatchSize"] <= 10


def test_idempotency_table_has_the_layout_powertools_expects() -> None:
    defaults = inspect.signature(DynamoDBPersistenceLayer).parameters
    table = Stack(EnableActions="true").props("IdempotencyTable")
    key = defaults["key_attr"].default
    assert table["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": key, "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": defaults["expiry_attr"].default,
                                                "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST" and table["SSESpecification"] == {"SSEEnabled": True}


def test_idempotency_statement_grants_exactly_what_the_persistence_layer_calls() -> None:
    source = inspect.getsource(DynamoDBPersistenceLayer)
    called = {"dynamodb:" + "".join(w.title() for w in m.split("_"))
              for m in re.findall(r"\.client\.(\w+)\(", source)}
    statement = by_sid(Stack(EnableActions="true"))["IdempotencyRecords"]
    assert set(statement["Action"]) == called
    assert statement["Resource"] == {"getatt": "IdempotencyTable.Arn"}


def test_action_function_gets_every_setting_from_the_parameters() -> None:
    env = Stack(**FULL, ArchivePrefix="mail/").env("ActionFunction")
    assert ACTION_SETTINGS <= set(env)
    assert env["MAIL_BUCKET"] == {"ref": "ArchiveBucket"} and env["MAIL_PREFIX"] == "mail/"
    assert env["FORWARD_FROM"] == env["ALLOWED_FROM"] == FORWARD_FROM
    assert env["BOUNCE_SENDER"] == BOUNCE_SENDER
    assert env["IDEMPOTENCY_TABLE"] == {"ref": "IdempotencyTable"}
    assert env["ALLOWED_FORWARD_DOMAINS"] == "team.example,corp.example"
    assert env["ALLOWED_BUCKETS"] == "{ArchiveBucket},quarantine,audit"
    assert env["ALLOWED_KMS_KEYS"] == KEY and env["ALLOWED_TOPICS"] == TOPIC


def test_empty_parameters_grant_nothing_and_leave_forward_domains_open() -> None:
    stack = Stack(EnableActions="true")
    env = stack.env("ActionFunction")
    # The lists are set (empty); IAM grants nothing beyond them. Forward domains unset: any domain.
    assert env["ALLOWED_FROM"] == env["ALLOWED_KMS_KEYS"] == env["ALLOWED_TOPICS"] == ""
    assert env["ALLOWED_BUCKETS"] == {"ref": "ArchiveBucket"} and "ALLOWED_FORWARD_DOMAINS" not in env
    assert set(by_sid(stack)) == {"WriteOwnLogs", "ConsumeActionsQueue", "ReadStoredMail",
                                  "IdempotencyRecords", "StoreCopies"}


def test_action_role_is_scoped_to_the_parameters() -> None:
    statements = by_sid(Stack(**FULL))
    identity = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/"
    forward = statements["ForwardFromTheIdentity"]
    assert set(forward["Action"]) == {"ses:SendEmail", "ses:SendRawEmail"}
    assert forward["Resource"] == [identity + FORWARD_FROM, identity + "mail.example.com"]
    assert forward["Condition"] == {"StringEquals": {"ses:FromAddress": FORWARD_FROM}}
    bounce = statements["BounceFromTheSender"]
    assert bounce["Action"] == "ses:SendBounce"
    assert bounce["Resource"] == [identity + BOUNCE_SENDER, identity + "bounces.example.com"]
    assert statements["StoreCopies"]["Resource"] == [
        f"{ARCHIVE}/*", "arn:aws:s3:::quarantine/*", "arn:aws:s3:::audit/*"]
    assert statements["ReadStoredMail"] == {"Sid": "ReadStoredMail", "Effect": "Allow",
                                            "Action": "s3:GetObject", "Resource": f"{ARCHIVE}/inbound/*"}
    assert statements["EncryptStoreCopies"]["Resource"] == [KEY]
    assert statements["PublishNotifications"] == {"Sid": "PublishNotifications", "Effect": "Allow",
                                                  "Action": "sns:Publish", "Resource": [TOPIC]}
    assert set(statements["ConsumeActionsQueue"]["Action"]) == {
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


@pytest.mark.parametrize("overrides", [{}, FULL, {**FULL, "Tracing": "true", "PolicySsmParameter": "/p"}],
                         ids=["default", "actions", "everything"])
def test_no_wildcard_but_x_ray_which_has_no_resource_level_permissions(overrides: dict) -> None:
    stack = Stack(**overrides)
    roles = [r for r in ("FunctionRole", "ActionFunctionRole") if r in stack.resources]
    for statement in (s for role in roles for s in stack.statements(role)):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any("*" in a for a in actions), statement
        if statement["Resource"] == "*":
            assert {a.split(":")[0] for a in actions} == {"xray"}, statement


def _alarms(stack: Stack) -> dict[str, dict]:
    return {n: stack.props(n) for n, r in stack.resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_alarms_watch_dead_letters_unqueued_and_failed_actions() -> None:
    stack = Stack(EnableActions="true", AlarmTopicArn="arn:aws:sns:eu-west-1:1:ops", MetricsNamespace="Mail")
    alarms = _alarms(stack)
    dlq = alarms["ActionsDeadLetterAlarm"]
    assert (dlq["Namespace"], dlq["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": {"getatt": "ActionsDeadLetterQueue.QueueName"}}]
    assert (alarms["ActionsNotQueuedAlarm"]["Namespace"], alarms["ActionsNotQueuedAlarm"]["MetricName"]) == (
        "Mail", "ActionsNotQueued")
    watched = {(m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"],
                json.dumps(m["MetricStat"]["Metric"]["Dimensions"]))
               for m in alarms["ActionsFailedAlarm"]["Metrics"] if "MetricStat" in m}
    assert ("Mail", "ActionsFailed", json.dumps([{"Name": "service", "Value": "ses-rules"}])) in watched
    assert ("AWS/Lambda", "Errors", json.dumps([{"Name": "FunctionName", "Value": {"ref": "ActionFunction"}}])) \
        in watched
    for name in ("ActionsDeadLetterAlarm", "ActionsNotQueuedAlarm", "ActionsFailedAlarm"):
        alarm = alarms[name]
        assert alarm["AlarmActions"] == ["arn:aws:sns:eu-west-1:1:ops"]
        assert alarm["Threshold"] == 1 and alarm["TreatMissingData"] == "notBreaching"
    assert stack.env("ActionFunction")["POWERTOOLS_METRICS_NAMESPACE"] == "Mail"


@pytest.mark.parametrize("tracing", ["true", "false"])
def test_tracing_parameter_turns_x_ray_and_the_tracer_on_for_both_functions(tracing: str) -> None:
    stack = Stack(EnableActions="true", Tracing=tracing)
    on = tracing == "true"
    for function, role in (("Function", "FunctionRole"), ("ActionFunction", "ActionFunctionRole")):
        assert stack.props(function).get("Tracing") == ("Active" if on else None)
        assert stack.env(function)["POWERTOOLS_TRACE_DISABLED"] == ("false" if on else "true")
        xray = [s for s in stack.statements(role) if "xray" in str(s["Action"])]
        assert bool(xray) is on
        if on:
            assert set(xray[0]["Action"]) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_tracing_is_off_by_default() -> None:
    assert Stack().params["Tracing"] == "false"


def test_policy_environment_reaches_the_deciding_function_as_json() -> None:
    assert json.loads(Stack().env("Function")["POLICY_ENVIRONMENT"]) == {}
    given = json.dumps({"MAIL_SOURCE": "a@example.com,b.example", "MAIL_SUBJECTS": "CASE-;ALARM"})
    assert Stack(PolicyEnvironment=given).env("Function")["POLICY_ENVIRONMENT"] == given


@pytest.mark.parametrize("parameter, good, bad", [
    ("ForwardFrom", ["", "forwarder@mail.example.com"], ["forwarder", "a@b@c", "a@b.example,c@d.example"]),
    ("BounceSender", ["", "postmaster@example.com"], ["postmaster@", "a b@example.com"]),
    ("PolicyEnvironment", ["{}", '{"MAIL_SOURCE": "a@example.com"}'], ["", "MAIL_SOURCE=a", '["x"]']),
])
def test_parameters_refuse_what_cannot_work(parameter: str, good: list, bad: list) -> None:
    pattern = Stack().template["Parameters"][parameter]["AllowedPattern"]
    assert all(re.fullmatch(pattern, value) for value in good)
    assert not any(re.fullmatch(pattern, value) for value in bad)
