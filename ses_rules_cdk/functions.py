"""The two Lambda functions' shared shape: one zip, one runtime, own log group and role."""
from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .options import SesRulesOptions

RUNTIME = lambda_.Runtime.PYTHON_3_12      # the SAM template's Runtime; make package compiles for it
SERVICE = "ses-rules"                      # POWERTOOLS_SERVICE_NAME: the alarms' `service` dimension
WRITE_LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")


def log_group(scope: Construct, construct_id: str, options: SesRulesOptions) -> logs.LogGroup:
    return logs.LogGroup(scope, construct_id, retention=options.log_retention,
                         removal_policy=RemovalPolicy.DESTROY)


def common_environment(options: SesRulesOptions) -> dict[str, str]:
    """Settings both functions read (logging, metrics, tracing)."""
    return {
        "LOG_ADDRESSES": options.log_addresses,
        "POWERTOOLS_LOG_LEVEL": options.log_level,
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": options.metrics_namespace,
        "POWERTOOLS_TRACE_DISABLED": "false" if options.tracing else "true",
    }


def function(scope: Construct, construct_id: str, options: SesRulesOptions, *, handler: str,
             description: str, timeout: Duration, role: iam.IRole, logs_to: logs.ILogGroup,
             environment: Mapping[str, str], reserved: int | None = None) -> lambda_.Function:
    """A function of the package's zip; X-Ray active tracing set on the resource itself.

    (`tracing=lambda_.Tracing.ACTIVE` would add the X-Ray actions to the role through
    a separate policy; the roles here hold their statements inline, as in SAM.)
    """
    fn = lambda_.Function(
        scope, construct_id, description=description, code=options.function_code(), handler=handler,
        runtime=RUNTIME, architecture=options.architecture, memory_size=512, timeout=timeout,
        role=role, log_group=logs_to, reserved_concurrent_executions=reserved,
        environment={**environment, **common_environment(options)})
    resource = fn.node.default_child
    assert isinstance(resource, lambda_.CfnFunction)
    # lambda.Function adds `DependsOn` its role, which `Role: !GetAtt` already implies
    # (cfn-lint W3005); the function depends on nothing else.
    resource.add_deletion_override("DependsOn")
    if options.tracing:
        resource.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
    return fn
