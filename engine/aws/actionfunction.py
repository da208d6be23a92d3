"""The action function: runs queued actions, each side effect once (docs/deploy.md, "Actions").

An SQS event source with partial batch responses (Powertools Batch): a message
that is malformed or whose action failed fails alone and is retried, then
dead-lettered. Each side effect runs under Powertools Idempotency in DynamoDB,
so a retried or redriven message never repeats a completed action; an action
whose outcome is unknown (a timeout after the request left) may run again:
delivery is at least once (docs/operations.md). Imported only by
`handler.action_handler`: the deciding function never pays for these imports.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from engine.actions.backend import MissingSetting, RunContext, Setup
from engine.actions.execute import JobFailed, Outcome, run_job
from engine.actions.job import Job
from engine.aws import telemetry
from engine.aws.backend import CLIENT_CONFIG, AwsBackend

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# Idempotency records outlive the dead-letter queue's 14 days, so a redrive repeats nothing.
IDEMPOTENCY_TTL = 15 * 24 * 3600
KEY_PREFIX = "ses-rules.action"


class ActionFunction:
    """The action function's side, configured once per execution environment from its settings."""

    def __init__(self, environ: Mapping[str, str], logger: Logger, metrics: Metrics, service: str,
                 backend: AwsBackend | None = None, persistence: Any = None) -> None:
        self.setup = Setup.from_env(environ)
        self.log_addresses = (environ.get("LOG_ADDRESSES") or "masked").strip().lower()
        self.logger, self.metrics, self.service = logger, metrics, service
        self.backend = backend or AwsBackend()
        self.table = environ.get("IDEMPOTENCY_TABLE", "").strip()
        if persistence is None and self.table:
            from botocore.config import Config

            persistence = DynamoDBPersistenceLayer(table_name=self.table, boto_config=Config(**CLIENT_CONFIG))
        self.config = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_TTL, raise_on_no_idempotency_key=True)
        self.processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._once: Callable[..., Any] | None = None
        if persistence is not None:
            self._once = idempotent_function(data_keyword_argument="key", persistence_store=persistence,
                                             config=self.config, key_prefix=KEY_PREFIX)(_perform)

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        if context is not None:
            self.config.register_lambda_context(context)
        return process_partial_response(event=event, record_handler=self.record, processor=self.processor,
                                        context=context)

    def record(self, record: SQSRecord) -> list[str]:
        """One queued message: raises (failing only this message) when it is malformed or an action failed."""
        try:
            job = Job.from_message(record.body)
            self.logger.set_correlation_id(job.message_id)   # action lines carry the SES message id
            if self._once is None:
                raise MissingSetting("IDEMPOTENCY_TABLE", "actions run only under idempotency")
            outcomes = run_job(job, self._context(job), self._idempotent, self._report)
        except JobFailed as exc:
            self.logger.error("actions failed, message will be retried", extra={"failed": str(exc)})
            raise
        except Exception as exc:
            self.logger.exception("queued message failed", extra={"sqs_message_id": record.message_id})
            telemetry.count(self.metrics, self.service, "ActionMessagesFailed")
            raise RuntimeError(str(exc)) from exc
        return [o.outcome for o in outcomes]

    def _context(self, job: Job) -> RunContext:
        setup = self.setup
        key = setup.mail_prefix + job.message_id
        return RunContext(
            backend=self.backend, setup=setup,
            load_raw=lambda: self.backend.get_object(
                setup.need("MAIL_BUCKET", setup.mail_bucket, "the stored message is read from it"), key),
            now=lambda: datetime.now(timezone.utc),
            mask=lambda value: telemetry.mask(value, self.log_addresses))

    def _idempotent(self, key: dict[str, Any], call: Callable[[], Any]) -> Any:
        return self._once(key=key, call=call)   # type: ignore[misc]

    def _report(self, outcome: Outcome) -> None:
        action = outcome.action
        line = {"action": action.get("type"), "rule": action.get("rule"), "outcome": outcome.outcome,
                "recipients": telemetry.mask(action.get("recipients"), self.log_addresses)}
        if outcome.detail:
            line["detail"] = telemetry.mask(outcome.detail, self.log_addresses)
        (self.logger.error if outcome.failed else self.logger.info)("action", extra=line)
        telemetry.count(self.metrics, self.service, "Actions", Type=str(action.get("type")),
                        Outcome=outcome.outcome.split(":")[0])
        if outcome.failed:
            telemetry.count(self.metrics, self.service, "ActionsFailed")


def _perform(key: dict[str, Any], call: Callable[[], Any]) -> Any:
    """The idempotent unit: `key` is hashed into the record's id, `call` does the side effect once."""
    return call()
