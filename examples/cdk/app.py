#!/usr/bin/env python3
"""AWS's receipt-rule example, "filter by subject, then forward", as a CDK app.

The receipt rule stores each message, scans it, and asks the ses-rules function
(RequestResponse) for a disposition; rules of the policy that carry `forward:`
actions are run by the action function from a queue, sent from FORWARD_FROM.

    make package                    # the zip both functions run
    cd examples/cdk && cdk deploy -c recipient=support@example.com \\
        -c forward_from=forwarder@example.com -c forward_domain=team.example

The policy is `policies/default.yaml` of the zip unless `-c policy_file=...` names
another file under `policies/` (put a policy with forward actions there, for
example one from examples/policies/); its ${VAR}s come from `policy_environment`.
"""
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

from ses_rules_cdk import SesRules

REPO = Path(__file__).resolve().parents[2]

app = cdk.App()
context = app.node.try_get_context
stack = cdk.Stack(app, "ses-rules-forwarder",
                  description="ses-rules: filter inbound mail by policy, then forward (SES receipt rule)")
SesRules(
    stack, "Mail",
    code=lambda_.Code.from_asset(context("code_zip") or str(REPO / "dist" / "ses-rules-lambda.zip")),
    recipients=[context("recipient") or "support@example.com"],
    policy_file=context("policy_file") or "policies/default.yaml",
    policy_environment={"MAIL_SUBJECTS": context("subjects") or "PROBLEM:;RESOLVED:"},
    archive_first=True,                      # required with actions: the forward reads the stored copy
    actions=True,
    forward_from=context("forward_from") or "forwarder@example.com",
    allowed_forward_domains=[context("forward_domain") or "team.example"],
)
app.synth()
