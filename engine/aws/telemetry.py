"""What one invocation leaves behind: the decision log line and its EMF metrics.

Log lines are read by people and kept for weeks, so the addresses in them (the
sender, and whatever an explain trace saw) appear only as LOG_ADDRESSES allows.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import re2
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

# Linear time (RE2): the strings masked come from the mail, i.e. from the sender.
ADDRESS = re2.compile(r'([^\s<>()\[\],;:"@]+)@([^\s<>()\[\],;:"@]+)')
LOCAL_PARTS = (".local", ".user", ".detail")   # trace labels whose values are bare local parts
LOCAL_KEYS = ("values", "matched", "checks")    # where a trace test node holds those values
LOGGED_KEYS = ("disposition", "rule", "shadow", "errors", "policy", "evaluation_ms")


def correlate(logger: Logger, event: Any) -> None:
    """Tag every following log line with the SES message id, the key of the message in the archive."""
    message_id = _dig(event, "Records", 0, "ses", "mail", "messageId")
    logger.set_correlation_id(message_id if isinstance(message_id, str) else None)


def log_decision(logger: Logger, result: dict[str, Any], level: str, event: Any, log_addresses: str) -> None:
    """The one `decision` line of an invocation; `result` is shaped as `Decision.to_dict()`."""
    line = {key: result.get(key) for key in LOGGED_KEYS}
    line["invocation_type"] = _dig(event, "Records", 0, "ses", "receipt", "action", "invocationType")
    sender = _dig(event, "Records", 0, "ses", "mail", "source")
    if log_addresses != "none" and isinstance(sender, str):
        line["sender"] = _mask(sender, log_addresses)
    traces = [record["trace"] for record in result.get("records") or [] if "trace" in record]
    if traces:
        line["trace"] = _mask(traces, log_addresses)
    getattr(logger, level)("decision", extra=line)


def publish(metrics: Metrics, service: str, result: dict[str, Any]) -> None:
    """One EMF blob for health counts, one per decision, one per shadow match.

    Separate blobs because a dimension set applies to every metric in its blob.
    """
    errors = bool(result.get("errors"))
    metrics.add_metric(name="EvaluationErrors", unit=MetricUnit.Count, value=int(errors))
    _flush(metrics, service)  # also carries PolicyLoadFailures / PolicyUnavailable counted before
    rule = result.get("rule") or ("(on_error)" if errors else "(default)")
    _flush(metrics, service, "Decisions", Disposition=str(result.get("disposition")), Rule=str(rule))
    for name in result.get("shadow") or []:
        _flush(metrics, service, "ShadowMatches", Rule=str(name))


def _flush(metrics: Metrics, service: str, metric: str | None = None, **dimensions: str) -> None:
    if metric:
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    for name, value in dimensions.items():  # each dimension its own set: totals per value
        metrics.add_dimensions(service=service, **{name: value})
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
        if not value.isascii():   # RE2 takes UTF-8 only: a lone surrogate ("\ud800") would raise
            value = value.encode("utf-8", "replace").decode("utf-8")
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


def count(metrics: Metrics, service: str, metric: str, **dimensions: str) -> None:
    """One count of `metric`, published at once (totals per dimension value)."""
    _flush(metrics, service, metric, **dimensions)


def mask(value: Any, mode: str) -> Any:
    """`value` (a string, a list, a trace tree) with its addresses as LOG_ADDRESSES wants them."""
    return "***" if mode == "none" and value else _mask(value, mode)
