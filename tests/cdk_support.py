"""Synthesizing the SesRules construct in tests, with the real aws-cdk-lib (it runs on node).

jsii starts one node process per Python process and prints node's end-of-life
banner on its first call; the variables set here, before aws_cdk is imported,
silence it for the node actually installed (nothing else changes).
"""
from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any


def _silence_node_banner() -> None:
    try:
        version = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return            # jsii will say itself that node is missing
    major = version.strip().lstrip("v").split(".")[0]
    for warning in ("END_OF_LIFE", "DEPRECATED"):
        os.environ.setdefault(f"JSII_SILENCE_WARNING_{warning}_NODE_VERSION", major)


_silence_node_banner()

import aws_cdk as cdk  # noqa: E402
from aws_cdk import assertions  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402

from ses_rules_cdk import SesRules  # noqa: E402

ACCOUNT, REGION, STACK = "111122223333", "eu-west-1", "mail-prod"


def stub_zip(folder: Path) -> Path:
    """A stand-in for `make package`'s zip: the construct only uploads it."""
    path = folder / "ses-rules-lambda.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("handler.py", "def lambda_handler(event, context):\n    return {'disposition': 'CONTINUE'}\n")
    return path


def synth(code_zip: Path, build=None, **options: Any) -> tuple[assertions.Template, dict]:
    """A stack named like the SAM tests' with one SesRules; `build(stack)` returns extra options."""
    app = cdk.App()
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))
    extra = build(stack) if build else {}
    SesRules(stack, "Mail", code=lambda_.Code.from_asset(str(code_zip)), **{"recipients": ["support@example.com"],
                                                                            **options, **extra})
    template = assertions.Template.from_stack(stack)
    return template, template.to_json()


def write(template: dict, folder: Path, name: str = "cdk.template.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(template, indent=1), encoding="utf-8")
    return path


def of_type(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def one(template: dict, kind: str) -> dict:
    found = list(of_type(template, kind).values())
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]["Properties"]


def function(template: dict, handler: str) -> dict:
    """The Lambda function with this handler (the deciding function or the action function)."""
    found = [r for r in of_type(template, "AWS::Lambda::Function").values() if r["Properties"]["Handler"] == handler]
    assert len(found) == 1, handler
    return found[0]["Properties"]


def role_statements(template: dict, handler: str) -> list[dict]:
    """Every inline statement of the role of the function with this handler."""
    role_id = function(template, handler)["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    return [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


# Everything on, with the values tests/test_template_actions.py gives the SAM template.
FORWARD_FROM, BOUNCE_SENDER = "forwarder@mail.example.com", "postmaster@bounces.example.com"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:security"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OPS_TOPIC, DOWNSTREAM_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:ops", f"arn:aws:sns:{REGION}:{ACCOUNT}:downstream"
FULL = {"actions": True, "forward_from": FORWARD_FROM, "bounce_sender": BOUNCE_SENDER,
        "allowed_forward_domains": ["team.example", "corp.example"], "tracing": True,
        "policy_ssm_parameter": "/ses-rules/prod/policy", "policy_environment": {"MAIL_SOURCE": "a@example.com"}}
SAM_FULL = {"EnableActions": "true", "ForwardFrom": FORWARD_FROM, "BounceSender": BOUNCE_SENDER,
            "AllowedForwardDomains": "team.example,corp.example", "Tracing": "true",
            "PolicySsmParameter": "/ses-rules/prod/policy", "PolicyEnvironment": '{"MAIL_SOURCE":"a@example.com"}',
            "StoreBuckets": "quarantine,audit", "StoreKmsKeyArns": KEY, "NotifyTopicArns": TOPIC,
            "AlarmTopicArn": OPS_TOPIC, "DownstreamTopicArn": DOWNSTREAM_TOPIC}


def full_references(stack) -> dict:
    """FULL's options that are CDK references to existing resources."""
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_sns as sns
    return {"notify_topics": [sns.Topic.from_topic_arn(stack, "Security", TOPIC)],
            "store_buckets": [s3.Bucket.from_bucket_name(stack, "Quarantine", "quarantine"),
                              s3.Bucket.from_bucket_name(stack, "Audit", "audit")],
            "store_kms_keys": [kms.Key.from_key_arn(stack, "StoreKey", KEY)],
            "alarm_topic": sns.Topic.from_topic_arn(stack, "Ops", OPS_TOPIC),
            "downstream_topic": sns.Topic.from_topic_arn(stack, "Downstream", DOWNSTREAM_TOPIC)}
