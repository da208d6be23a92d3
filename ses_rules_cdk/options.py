"""The construct's properties, typed and checked before anything is synthesized.

Each field mirrors a parameter of `examples/sam/template.yaml` (named in the
comment), with the same default, so the two deployments stay interchangeable.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns

DIST_ZIP = Path(__file__).resolve().parent.parent / "dist" / "ses-rules-lambda.zip"   # `make package`
_ADDRESS = re.compile(r"[^@\s,]+@[^@\s,]+")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DISPOSITIONS = ("CONTINUE", "STOP_RULE", "STOP_RULE_SET")


@dataclass(frozen=True)
class SesRulesOptions:
    """What a `SesRules` construct deploys; `SesRules(scope, id, recipients=[...], **options)`."""

    recipients: Sequence[str]                                    # Recipients
    code: lambda_.Code | None = None                             # CodeUri (default: make package's zip)
    policy_file: str = "policies/default.yaml"                   # PolicyFile
    policy_ssm_parameter: str | None = None                      # PolicySsmParameter
    policy_environment: Mapping[str, str] = field(default_factory=dict)   # PolicyEnvironment
    parameters_max_age: Duration = Duration.seconds(300)         # ParametersMaxAge
    rule_set: ses.IReceiptRuleSet | None = None                  # ExistingRuleSetName (None: create)
    after_rule: str | None = None                                # AfterRule
    rule_name: str | None = None                                 # default: <stack name>-ses-rules
    archive_first: bool = True                                   # ArchiveFirst
    tls_policy: ses.TlsPolicy = ses.TlsPolicy.OPTIONAL           # TlsPolicy
    archive_prefix: str = "inbound/"                             # ArchivePrefix
    archive_retention: Duration = Duration.days(90)              # ArchiveRetentionDays
    downstream_topic: sns.ITopic | None = None                   # DownstreamTopicArn
    on_error: str = "CONTINUE"                                   # OnError
    log_addresses: str = "masked"                                # LogAddresses
    log_trace: str = "none"                                      # LogTrace
    log_level: str = "INFO"                                      # LogLevel
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH   # LogRetentionDays
    architecture: lambda_.Architecture = lambda_.Architecture.X86_64  # Architecture
    metrics_namespace: str = "SesRules"                          # MetricsNamespace
    alarms: bool = True                                          # (the SAM template always has them)
    on_error_rate_percent: float = 5                             # OnErrorRatePercent
    alarm_topic: sns.ITopic | None = None                        # AlarmTopicArn
    tracing: bool = False                                        # Tracing
    actions: bool = False                                        # EnableActions
    forward_from: str | None = None                              # ForwardFrom
    bounce_sender: str | None = None                             # BounceSender
    allowed_forward_domains: Sequence[str] = ()                  # AllowedForwardDomains
    store_buckets: Sequence[s3.IBucket] = ()                     # StoreBuckets
    store_kms_keys: Sequence[kms.IKey] = ()                      # StoreKmsKeyArns
    notify_topics: Sequence[sns.ITopic] = ()                     # NotifyTopicArns
    action_concurrency: int = 2                                  # ActionConcurrency

    def __post_init__(self) -> None:
        for problem in self.problems():
            raise ValueError(f"SesRules: {problem}")

    def problems(self) -> list[str]:
        """Every combination CloudFormation would accept and the deployment cannot work with."""
        found = []
        if not self.recipients:
            found.append("recipients is empty: the rule would receive mail for every verified domain")
        if self.actions and not self.archive_first:
            found.append("actions=True requires archive_first=True (the action function reads the stored message)")
        for name in ("forward_from", "bounce_sender"):
            value = getattr(self, name)
            if value is not None and not _ADDRESS.fullmatch(value):
                found.append(f"{name}={value!r} is not an address")
            if value is not None and not self.actions:
                found.append(f"{name} is set but actions=False: nothing would use it")
        if not 2 <= self.action_concurrency <= 10:
            found.append("action_concurrency must be 2 to 10 (the queue mapping's maximum concurrency is at least 2)")
        if self.on_error not in DISPOSITIONS:
            found.append(f"on_error={self.on_error!r}: expected one of {', '.join(DISPOSITIONS)}")
        if self.policy_ssm_parameter is not None and not self.policy_ssm_parameter.startswith("/"):
            found.append("policy_ssm_parameter must be a full path starting with /")
        found += [f"policy_environment: {name!r} is not a variable name"
                  for name in self.policy_environment if not _VARIABLE.fullmatch(name)]
        found += [f"policy_environment: the value of {name} is not a string"
                  for name, value in self.policy_environment.items() if not isinstance(value, str)]
        return found

    def policy_environment_json(self) -> str:
        """POLICY_ENVIRONMENT as the SAM parameter holds it: one JSON object."""
        return json.dumps(dict(sorted(self.policy_environment.items())), separators=(",", ":"))

    def function_code(self) -> lambda_.Code:
        if self.code is not None:
            return self.code
        if not DIST_ZIP.exists():
            raise ValueError(f"SesRules: {DIST_ZIP} is missing: run `make package` first, or pass code=")
        return lambda_.Code.from_asset(str(DIST_ZIP))
