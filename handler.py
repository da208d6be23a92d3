"""AWS Lambda entry point for an SES receipt rule: answer each mail with the policy's disposition.

Configured by environment variables (docs/operations.md). SES's behaviour when the
function raises or times out is undocumented, so whatever fails, the function answers
a valid disposition and says why in its log.
"""
from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import re2
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from engine import PolicyError, load_policy, load_policy_text

if TYPE_CHECKING:
    from engine.policy import Policy

HERE = Path(__file__).resolve().parent
DISPOSITIONS = ("CONTINUE", "STOP_RULE", "STOP_RULE_SET")
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "ses-rules"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "SesRules"
MAX_AGE_DEFAULT = 300      # Powertools' DEFAULT_MAX_AGE_SECS; a test keeps the two equal
RETRY_AFTER_FAILURE = 60   # seconds: a failed SSM read must not slow every invocation down
SSM_CLIENT = {"connect_timeout": 1, "read_timeout": 2,
              "retries": {"total_max_attempts": 2, "mode": "standard"}}
MAX_LOGGED_DIAGNOSTICS = 20
# Linear time (RE2): the strings masked come from the mail, i.e. from the sender.
ADDRESS = re2.compile(r'([^\s<>()\[\],;:"@]+)@([^\s<>()\[\],;:"@]+)')
LOCAL_PARTS = (".local", ".user", ".detail")   # trace labels whose values are bare local parts
LOCAL_KEYS = ("values", "matched", "checks")    # where a trace test node holds those values

T = TypeVar("T")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
_clock = time.monotonic    # the refresh schedule's clock; tests replace it
_source: PolicySource | None = None   # one per execution environment


@dataclass(frozen=True)
class Settings:
    """The environment, read once per cold start; a bad value is logged and replaced by its default."""

    ssm_parameter: str
    policy_file: Path
    on_error: str
    log_addresses: str
    trace_rate: float
    max_age: int

    @classmethod
    def from_env(cls) -> Settings:
        policy_file = Path(os.environ.get("POLICY_FILE") or "policies/default.yaml")
        return cls(
            ssm_parameter=os.environ.get("POLICY_SSM_PARAMETER", "").strip(),
            policy_file=policy_file if policy_file.is_absolute() else HERE / policy_file,
            on_error=_setting("ON_ERROR", "CONTINUE", _one_of(*DISPOSITIONS)),
            log_addresses=_setting("LOG_ADDRESSES", "masked", _one_of("masked", "full", "none")),
            trace_rate=_setting("LOG_TRACE", 0.0, _trace_rate),
            max_age=_setting("POWERTOOLS_PARAMETERS_MAX_AGE", MAX_AGE_DEFAULT, _max_age),
        )


def _setting(name: str, default: T, parse: Callable[[str], T]) -> T:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        logger.error("invalid setting, default used",
                     extra={"variable": name, "value": raw, "default": default, "reason": str(exc)})
        return default


def _one_of(*choices: str) -> Callable[[str], str]:
    """A parser for a setting taking one of `choices`, in any case."""
    def parse(raw: str) -> str:
        for choice in choices:
            if raw.casefold() == choice.casefold():
                return choice
        raise ValueError(f"expected one of {', '.join(choices)}")
    return parse


def _trace_rate(raw: str) -> float:
    rate = {"none": 0.0, "all": 1.0}.get(raw.lower())
    rate = float(raw) if rate is None else rate
    if not 0.0 <= rate <= 1.0:
        raise ValueError("expected none, all or a fraction between 0 and 1")
    return rate


def _max_age(raw: str) -> int:
    seconds = int(raw)
    if seconds < 0:
        raise ValueError("expected a number of seconds >= 0")
    return seconds


class PolicySource:
    """The policy in force: SSM when configured and loadable, else the bundled file.

    The file is only a cold-start fallback: once any policy is in force, a failed
    read or a text that does not load keeps it.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.policy: Policy | None = None
        self.origin = ""
        self._ssm_text: str | None = None
        self._next_fetch = 0.0
        self._provider: Any = None
        self._file_tried = False

    def current(self) -> Policy | None:
        if self.settings.ssm_parameter and _clock() >= self._next_fetch:
            self._refresh()
        if self.policy is None and not self._file_tried:
            self._file_tried = True
            self._load(f"file:{self.settings.policy_file}", lambda: load_policy(self.settings.policy_file))
        return self.policy

    def describe(self) -> dict[str, Any]:
        assert self.policy is not None
        return {"name": self.policy.name, "revision": self.policy.revision, "source": self.origin}

    def _refresh(self) -> None:
        origin = f"ssm:{self.settings.ssm_parameter}"
        try:
            text = self._fetch()
        except Exception as exc:  # boto, network, IAM, missing parameter: all mean "not now"
            self._next_fetch = _clock() + RETRY_AFTER_FAILURE
            self._failed(origin, "cannot read the SSM parameter", [str(exc)])
            return
        self._next_fetch = _clock() + self.settings.max_age
        if text != self._ssm_text and self._load(origin, lambda: self._load_text(text)):
            self._ssm_text = text

    def _fetch(self) -> str:
        if self._provider is None:
            # Imported here: boto3 and Parameters would cost every cold start 150-250 ms.
            from aws_lambda_powertools.utilities.parameters import SSMProvider
            from botocore.config import Config
            self._provider = SSMProvider(boto_config=Config(**SSM_CLIENT))
        # Our own schedule decides when to fetch: Powertools does not cache failures.
        text = self._provider.get(self.settings.ssm_parameter, max_age=self.settings.max_age,
                                  decrypt=True, force_fetch=True)
        if not isinstance(text, str):
            raise TypeError(f"expected the policy text, got {type(text).__name__}")
        return text

    def _load_text(self, text: str) -> Policy:
        # `{file: ...}` lists in an SSM policy resolve beside the bundled policy file.
        return load_policy_text(text, base_dir=str(self.settings.policy_file.parent))

    def _load(self, origin: str, load: Callable[[], Policy]) -> bool:
        try:
            policy = load()
        except PolicyError as exc:
            self._failed(origin, "the policy does not load", [str(d) for d in exc.errors])
            return False
        except Exception as exc:  # unreadable file or an engine bug: the answer must not depend on it
            self._failed(origin, "the policy does not load", [f"{type(exc).__name__}: {exc}"])
            return False
        self.policy, self.origin = policy, origin
        logger.info("policy loaded", extra={"policy": self.describe()})
        return True

    def _failed(self, origin: str, reason: str, details: list[str]) -> None:
        kept = self.describe() if self.policy is not None else None
        logger.error("policy load failed", extra={
            "source": origin, "reason": reason, "details": details[:MAX_LOGGED_DIAGNOSTICS],
            "kept_policy": kept})
        metrics.add_metric(name="PolicyLoadFailures", unit=MetricUnit.Count, value=1)


def _get_source() -> PolicySource:
    global _source
    if _source is None:
        _source = PolicySource(Settings.from_env())
    return _source


def lambda_handler(event: Any, context: Any) -> dict[str, str]:
    """Answer SES; never raises."""
    try:
        handle = _handle if context is None else _handle_in_context
        return handle(event, context)
    except Exception:  # last resort: SES must get a valid answer
        with contextlib.suppress(Exception):
            logger.exception("handler failed, ON_ERROR answered")
        return {"disposition": _source.settings.on_error if _source else "CONTINUE"}


def _handle(event: Any, context: Any) -> dict[str, str]:
    source = _get_source()
    mail = _dig(event, "Records", 0, "ses", "mail")
    message_id = _dig(mail, "messageId")
    logger.set_correlation_id(message_id if isinstance(message_id, str) else None)
    result, level = _decide(event, source)
    disposition = result.get("disposition")
    if disposition not in DISPOSITIONS:
        disposition = source.settings.on_error
    try:
        _log_decision(result, level, event, source.settings)
        _publish(result)
    except Exception:
        logger.exception("could not report the decision")
    return {"disposition": disposition}


_handle_in_context = logger.inject_lambda_context(clear_state=True)(_handle)


def _decide(event: Any, source: PolicySource) -> tuple[dict[str, Any], str]:
    """The decision as `Decision.to_dict()` shapes it, and the level to log it at."""
    policy = source.current()
    if policy is None:
        metrics.add_metric(name="PolicyUnavailable", unit=MetricUnit.Count, value=1)
        return _fallback(source.settings.on_error, "no policy loaded", None), "error"
    explain = random.random() < source.settings.trace_rate
    started = time.perf_counter()
    try:
        result = policy.evaluate(event, explain=explain).to_dict()
        result["evaluation_ms"] = round((time.perf_counter() - started) * 1000, 3)
    except Exception as exc:  # evaluate() must not raise; if it does, the policy's on_error answers
        logger.exception("evaluation failed")
        return _fallback(policy.on_error, f"evaluation failed: {exc}", source.describe()), "error"
    result["policy"] = source.describe()
    return result, "warning" if result.get("errors") else "info"


def _fallback(disposition: str, error: str, policy: dict[str, Any] | None) -> dict[str, Any]:
    return {"disposition": disposition, "rule": None, "shadow": [], "errors": [error],
            "policy": policy, "records": []}


def _log_decision(result: dict[str, Any], level: str, event: Any, settings: Settings) -> None:
    keys = ("disposition", "rule", "shadow", "errors", "policy", "evaluation_ms")
    line = {key: result.get(key) for key in keys}
    line["invocation_type"] = _dig(event, "Records", 0, "ses", "receipt", "action", "invocationType")
    sender = _dig(event, "Records", 0, "ses", "mail", "source")
    if settings.log_addresses != "none" and isinstance(sender, str):
        line["sender"] = _mask(sender, settings.log_addresses)
    traces = [record["trace"] for record in result.get("records") or [] if "trace" in record]
    if traces:
        line["trace"] = _mask(traces, settings.log_addresses)
    getattr(logger, level)("decision", extra=line)


def _publish(result: dict[str, Any]) -> None:
    """One EMF blob for health counts, one per decision, one per shadow match.

    Separate blobs because a dimension set applies to every metric in its blob.
    """
    errors = bool(result.get("errors"))
    metrics.add_metric(name="EvaluationErrors", unit=MetricUnit.Count, value=int(errors))
    _flush()  # also carries PolicyLoadFailures / PolicyUnavailable counted during this invocation
    rule = result.get("rule") or ("(on_error)" if errors else "(default)")
    _flush("Decisions", Disposition=str(result.get("disposition")), Rule=str(rule))
    for name in result.get("shadow") or []:
        _flush("ShadowMatches", Rule=str(name))


def _flush(metric: str | None = None, **dimensions: str) -> None:
    if metric:
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    for name, value in dimensions.items():  # each dimension its own set: totals per value
        metrics.add_dimensions(service=SERVICE, **{name: value})
    metrics.flush_metrics()
    metrics.clear_metrics()  # with POWERTOOLS_METRICS_DISABLED, flush keeps (and grows) the set


def _mask(value: Any, mode: str, local: bool = False) -> Any:
    """`value` (a string, or a trace tree) with every address as `LOG_ADDRESSES` wants it.

    `local`: the strings are local parts (trace values of `.local`, `.user`, `.detail`),
    which the address pattern cannot recognise but identify a person all the same.
    """
    if mode == "full":
        return value
    if isinstance(value, str):
        if local:
            return value[:1] + "***" if mode == "masked" else "***"
        return ADDRESS.sub(_masked if mode == "masked" else "***", value)
    if isinstance(value, list):
        return [_mask(item, mode, local) for item in value]
    if isinstance(value, dict):
        label = value.get("test")
        local = local or (isinstance(label, str) and label.endswith(LOCAL_PARTS))
        return {key: _mask(item, mode, local and key in LOCAL_KEYS) for key, item in value.items()}
    return value


def _masked(match: Any) -> str:
    return f"{match.group(1)[0]}***@{match.group(2)}"


def _dig(value: Any, *keys: Any) -> Any:
    """`value[k1][k2]...`, or None where the event does not have that shape."""
    for key in keys:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value
