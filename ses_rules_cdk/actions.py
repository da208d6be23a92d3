"""The action side (actions=True): queue, dead-letter queue, idempotency table, action function.

The deciding function queues one message per record with actions; the action
function runs them under Powertools Batch and Idempotency. Same settings, limits
and IAM as the SAM template's EnableActions resources.
"""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import functions
from .alarms import action_alarms
from .options import SesRulesOptions
from .statements import allow, document, role, ses_identities, write_traces

TIMEOUT = Duration.seconds(60)
VISIBILITY = Duration.seconds(6 * 60)      # six times the function's timeout
MAX_RECEIVES = 5
DEAD_LETTER_RETENTION = Duration.days(14)  # SQS's maximum; the idempotency records live as long
IDEMPOTENCY_KEY, IDEMPOTENCY_TTL = "id", "expiration"   # Powertools' DynamoDBPersistenceLayer defaults
IDEMPOTENCY_CALLS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


class ActionResources(Construct):
    """What runs a policy's actions; `admit()` lets the deciding function's role send to the queue."""

    def __init__(self, scope: Construct, construct_id: str, options: SesRulesOptions,
                 archive: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.options = options
        self.dead_letters = sqs.Queue(self, "ActionsDeadLetterQueue", encryption=sqs.QueueEncryption.SQS_MANAGED,
                                      retention_period=DEAD_LETTER_RETENTION)
        self.queue = sqs.Queue(
            self, "ActionsQueue", encryption=sqs.QueueEncryption.SQS_MANAGED, visibility_timeout=VISIBILITY,
            retention_period=Duration.days(4), enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVES))
        self.table = dynamodb.Table(
            self, "IdempotencyTable", billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            partition_key=dynamodb.Attribute(name=IDEMPOTENCY_KEY, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=IDEMPOTENCY_TTL, encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.DESTROY)
        self.function = self._function(archive)
        lambda_.EventSourceMapping(
            self, "ActionsEventSource", target=self.function, event_source_arn=self.queue.queue_arn,
            batch_size=10, report_batch_item_failures=True, max_concurrency=options.action_concurrency)
        if options.alarms:
            action_alarms(self, options, self.function, self.dead_letters)

    def admit(self, sender: iam.IRole) -> None:
        """The queue policy: only `sender` may send (SSL is enforced by the queue itself)."""
        self.queue.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowDecidingFunction", principals=[iam.ArnPrincipal(sender.role_arn)],
            actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]))
        self.queue.add_to_resource_policy(iam.PolicyStatement(
            sid="DenyOtherSenders", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
            actions=["sqs:SendMessage"], resources=[self.queue.queue_arn],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": sender.role_arn}}))

    def _function(self, archive: s3.IBucket) -> lambda_.Function:
        logs_to = functions.log_group(self, "ActionFunctionLogGroup", self.options)
        policy = document(
            allow(functions.WRITE_LOGS, [logs_to.log_group_arn], sid="WriteOwnLogs"),
            allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                  [self.queue.queue_arn], sid="ConsumeActionsQueue"),
            allow(["s3:GetObject"], [archive.arn_for_objects(self.options.archive_prefix + "*")],
                  sid="ReadStoredMail"),
            allow(IDEMPOTENCY_CALLS, [self.table.table_arn], sid="IdempotencyRecords"),
            allow(["s3:PutObject"], [b.arn_for_objects("*") for b in (archive, *self.options.store_buckets)],
                  sid="StoreCopies"),
            *self._optional_statements())
        return functions.function(
            self, "ActionFunction", self.options, handler="handler.action_handler",
            description="ses-rules actions (forward, bounce, store, notify) queued by the deciding function",
            timeout=TIMEOUT, role=role(self, "ActionFunctionRole", {"run-actions": policy}),
            logs_to=logs_to, reserved=self.options.action_concurrency,
            environment=self._environment(archive))

    def _optional_statements(self) -> list[iam.PolicyStatement | None]:
        o = self.options
        return [
            allow(["ses:SendEmail", "ses:SendRawEmail"], ses_identities(o.forward_from), sid="ForwardFromTheIdentity",
                  conditions={"StringEquals": {"ses:FromAddress": o.forward_from}}) if o.forward_from else None,
            allow(["ses:SendBounce"], ses_identities(o.bounce_sender), sid="BounceFromTheSender")
            if o.bounce_sender else None,
            allow(["kms:GenerateDataKey"], [k.key_arn for k in o.store_kms_keys], sid="EncryptStoreCopies")
            if o.store_kms_keys else None,
            allow(["sns:Publish"], [t.topic_arn for t in o.notify_topics], sid="PublishNotifications")
            if o.notify_topics else None,
            write_traces() if o.tracing else None,
        ]

    def _environment(self, archive: s3.IBucket) -> dict[str, str]:
        """The action settings (docs/deploy.md); an ALLOWED_* list set but empty allows nothing, unset restricts nothing."""
        o = self.options
        env = {
            "MAIL_BUCKET": archive.bucket_name, "MAIL_PREFIX": o.archive_prefix,
            "FORWARD_FROM": o.forward_from or "", "BOUNCE_SENDER": o.bounce_sender or "",
            "IDEMPOTENCY_TABLE": self.table.table_name, "ALLOWED_FROM": o.forward_from or "",
            "ALLOWED_BUCKETS": ",".join(b.bucket_name for b in (archive, *o.store_buckets)),
            "ALLOWED_KMS_KEYS": ",".join(k.key_arn for k in o.store_kms_keys),
            "ALLOWED_TOPICS": ",".join(t.topic_arn for t in o.notify_topics),
        }
        if o.allowed_forward_domains:
            env["ALLOWED_FORWARD_DOMAINS"] = ",".join(o.allowed_forward_domains)
        return env
