"""IAM statements written out, as in the SAM template.

CDK's `grant_*` helpers add actions the functions never call (`grant_send_messages`
adds `sqs:GetQueueAttributes` and `sqs:GetQueueUrl`; `grant_read_write_data` ten
DynamoDB actions), which would break least privilege and the parity test with
the SAM template, so every statement here names its actions.
"""
from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

LAMBDA = iam.ServicePrincipal("lambda.amazonaws.com")
SES = iam.ServicePrincipal("ses.amazonaws.com")
TRACES = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


def allow(actions: Sequence[str], resources: Sequence[str], sid: str | None = None,
          conditions: dict | None = None) -> iam.PolicyStatement:
    return iam.PolicyStatement(sid=sid, effect=iam.Effect.ALLOW, actions=list(actions),
                               resources=list(resources), conditions=conditions)


def write_traces() -> iam.PolicyStatement:
    """X-Ray's two write actions have no resource-level permissions: `*` is the only resource."""
    return allow(TRACES, ["*"], sid="WriteTraces")


def ses_identities(address: str) -> list[str]:
    """The identity ARNs SES may authorise a send from `address` against: the address, its domain."""
    prefix = f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}:identity/"
    return [prefix + address, prefix + address.rpartition("@")[2]]


def document(*statements: iam.PolicyStatement | None) -> iam.PolicyDocument:
    return iam.PolicyDocument(statements=[s for s in statements if s is not None])


def role(scope, construct_id: str, policies: dict[str, iam.PolicyDocument]) -> iam.Role:
    """A Lambda execution role holding exactly `policies`, inline, as the SAM template's roles do."""
    return iam.Role(scope, construct_id, assumed_by=LAMBDA, inline_policies=policies)
