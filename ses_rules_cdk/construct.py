"""`SesRules`: the SAM template's deployment as one CDK construct.

The receipt rule stores the message (S3 action), asks the ses-rules function for a
disposition (RequestResponse Lambda action), then runs the downstream actions;
with `actions=True` the policy's forward, bounce, store and notify actions run
from a queue. Resource by resource, setting by setting and IAM action by IAM
action it matches `examples/sam/template.yaml` (tests/test_deploy_parity.py).
"""
from __future__ import annotations

import jsii
from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from constructs import Construct

from . import functions
from .actions import ActionResources
from .alarms import deciding_alarms
from .options import SesRulesOptions
from .statements import SES, allow, document, role, write_traces


@jsii.implements(ses.IReceiptRuleAction)
class _ArchiveAction:
    """The S3 action, with the bucket policy scoped to this rule.

    (`aws_ses_actions.S3` admits SES for any rule of the account, through `aws:Referer`;
    the bucket policy here names this rule's ARN, as the SAM template's does.)
    """

    def __init__(self, bucket: s3.Bucket, prefix: str) -> None:
        self.bucket, self.prefix = bucket, prefix

    def bind(self, rule: Construct) -> ses.ReceiptRuleActionConfig:
        if self.bucket.policy is not None:
            rule.node.add_dependency(self.bucket.policy)   # SES checks the policy when the rule is made
        return ses.ReceiptRuleActionConfig(s3_action=ses.S3ActionConfig(
            bucket_name=self.bucket.bucket_name, object_key_prefix=self.prefix))


class SesRules(Construct):
    """The ses-rules function in an SES receipt rule, with its archive, permissions and alarms.

    `SesRules(self, "Mail", recipients=["support@example.com"])`; every other
    keyword is a field of `SesRulesOptions`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, recipients: list[str], **options) -> None:
        super().__init__(scope, construct_id)
        self.options = opts = SesRulesOptions(recipients=recipients, **options)
        stack = Stack.of(self)
        self.rule_name = opts.rule_name or f"{stack.stack_name}-ses-rules"
        self.rule_set_name = opts.rule_set.receipt_rule_set_name if opts.rule_set else stack.stack_name
        self.rule_arn = (f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}:receipt-rule-set/"
                         f"{self.rule_set_name}:receipt-rule/{self.rule_name}")
        self.archive = self._archive_bucket()
        self.actions = ActionResources(self, "Actions", opts, self.archive) if opts.actions else None
        self.function = self._deciding_function()
        if self.actions is not None:
            self.actions.admit(self.function.role)
        self.function.add_permission("AllowSes", principal=SES, action="lambda:InvokeFunction",
                                     source_account=Aws.ACCOUNT_ID, source_arn=self.rule_arn)
        self.rule = self._receipt_rule()
        if opts.alarms:
            deciding_alarms(self, opts, self.function)

    def _archive_bucket(self) -> s3.Bucket:
        """SES may write only from this rule; TLS only; public access blocked; kept on delete."""
        o = self.options
        bucket = s3.Bucket(
            self, "ArchiveBucket", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, removal_policy=RemovalPolicy.RETAIN,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-stored-mail", prefix=o.archive_prefix,
                                              expiration=o.archive_retention)])
        bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowSesPuts", principals=[SES], actions=["s3:PutObject"], resources=[bucket.arn_for_objects("*")],
            conditions={"StringEquals": {"AWS:SourceAccount": Aws.ACCOUNT_ID, "AWS:SourceArn": self.rule_arn}}))
        return bucket

    def _deciding_function(self) -> lambda_.Function:
        o = self.options
        logs_to = functions.log_group(self, "FunctionLogGroup", o)
        policies = {"write-own-logs": document(allow(functions.WRITE_LOGS, [logs_to.log_group_arn]))}
        if o.policy_ssm_parameter:
            parameter = f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{o.policy_ssm_parameter}"
            policies["read-policy-parameter"] = document(allow(["ssm:GetParameter"], [parameter]))
        if self.actions is not None:
            policies["queue-actions"] = document(allow(["sqs:SendMessage"], [self.actions.queue.queue_arn]))
        if o.tracing:
            policies["write-traces"] = document(write_traces())
        environment = {
            "POLICY_FILE": o.policy_file, "POLICY_ENVIRONMENT": o.policy_environment_json(),
            "POWERTOOLS_PARAMETERS_MAX_AGE": str(int(o.parameters_max_age.to_seconds())),
            "ON_ERROR": o.on_error, "LOG_TRACE": o.log_trace,
        }
        if o.policy_ssm_parameter:
            environment["POLICY_SSM_PARAMETER"] = o.policy_ssm_parameter
        if self.actions is not None:
            environment["ACTIONS_QUEUE_URL"] = self.actions.queue.queue_url
        return functions.function(
            self, "Function", o, handler="handler.lambda_handler", timeout=Duration.seconds(10),
            description="ses-rules policy engine called by the SES receipt rule",
            role=role(self, "FunctionRole", policies), logs_to=logs_to, environment=environment)

    def _receipt_rule(self) -> ses.ReceiptRule:
        o = self.options
        rule_set = o.rule_set or ses.ReceiptRuleSet(self, "ReceiptRuleSet", receipt_rule_set_name=self.rule_set_name)
        archive = _ArchiveAction(self.archive, o.archive_prefix)
        decide = ses_actions.Lambda(function=self.function,   # reuses the scoped AllowSes permission
                                    invocation_type=ses_actions.LambdaInvocationType.REQUEST_RESPONSE)
        actions = [archive, decide] if o.archive_first else [decide, archive]
        if o.downstream_topic is not None:
            actions.append(ses_actions.Sns(topic=o.downstream_topic, encoding=ses_actions.EmailEncoding.UTF8))
        after = ses.ReceiptRule.from_receipt_rule_name(self, "AfterRule", o.after_rule) if o.after_rule else None
        return ses.ReceiptRule(
            self, "ReceiptRule", rule_set=rule_set, receipt_rule_name=self.rule_name, after=after,
            recipients=list(o.recipients), scan_enabled=True, tls_policy=o.tls_policy, enabled=True,
            actions=actions)
