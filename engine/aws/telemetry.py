"""What one invocation leaves behind: the decision log line and its EMF metrics.

Log lines are read by people and kept for weeks, so the addresses in them (the
sender, and whatever an explain trace saw) appear only as LOG_ADDRESSES allows.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

from aws_lambda_powertools.metrics import MetricUnit

from engine.decision import Decision, MailFacts
from engine.mail.regex import Lazy

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

# Every address form in text, linear time (RE2: the strings come from the sender). The local
# part is a quoted string (to the next quote: `"Doe, John"@x`) or a run of any characters but
# the delimiters, spaces and quotes included: `"john.doe"@x`, `"a\"b"@x` and `mary smith@x` (a
# quoted local part the parser unquoted) are masked whole, not as `mary s***`. In free text the
# run may take words before the address with it, which masks more, never less. The domain is a
# name or an address literal (`[192.0.2.1]`).
ADDRESS = Lazy(rb'("[^"\r\n]*"|[^\s<>()\[\],;:@][^<>()\[\],;:@\r\n]*)@\s*'
                      rb'(\[[^\]\s]*\]|[^\s<>()\[\],;:"@]+)')   # on UTF-8: the wrapper is 3x slower on str
# The envelope sender's usual form, a bare ASCII `local@domain` without delimiters: what ADDRESS
# finds in it is the whole string, so `re` masks it the same without importing RE2 on a cold start.
BARE = re.compile(r'([^\s<>()\[\],;:@"])[^\s<>()\[\],;:@"]*+@([^\s<>()\[\],;:"@]++)', re.ASCII)
LOCAL_PARTS = (".local", ".user", ".detail")   # test labels whose values are bare local parts


class Outcome(NamedTuple):
    """One invocation's decision as it is reported: the typed decision and how it came about."""
    decision: Decision
    policy: dict[str, Any] | None          # name, revision and source of the policy in force
    evaluation_ms: float | None = None     # None when no policy evaluated the event
    level: str = "info"                    # the decision line's log level


def correlate(logger: Logger, event: Any) -> None:
    """Tag every following log line with the SES message id, the key of the message in the archive."""
    logger.set_correlation_id(MailFacts.of(event).message_id)


def log_decision(logger: Logger, outcome: Outcome, log_addresses: str) -> None:
    """The one `decision` line of an invocation."""
    decision = outcome.decision
    mail = decision.mail
    line: dict[str, Any] = {"disposition": decision.disposition, "rule": decision.rule,
                            "shadow": list(decision.shadow), "errors": list(decision.errors),
                            "policy": outcome.policy, "evaluation_ms": outcome.evaluation_ms,
                            "invocation_type": mail.invocation_type}
    if log_addresses != "none" and mail.sender is not None:
        line["sender"] = mask_value(mail.sender, log_addresses)
    traces = [record.trace for record in decision.records if record.trace is not None]
    if traces:
        from engine.aws.tracemask import Masker   # only a sampled trace (LOG_TRACE) needs the trace types
        masker = Masker(log_addresses)
        line["trace"] = [[masker.visit(step).to_dict() for step in trace] for trace in traces]
    getattr(logger, outcome.level)("decision", extra=line)


def publish(metrics: Metrics, service: str, decision: Decision) -> None:
    """One EMF blob for health counts, one per decision, one per shadow match.

    Separate blobs because a dimension set applies to every metric in its blob.
    """
    errors = bool(decision.errors)
    metrics.add_metric(name="EvaluationErrors", unit=MetricUnit.Count, value=int(errors))
    _flush(metrics, service)  # also carries PolicyLoadFailures / PolicyUnavailable counted before
    rule = decision.rule or ("(on_error)" if errors else "(default)")
    _flush(metrics, service, "Decisions", Disposition=decision.disposition, Rule=rule)
    for name in decision.shadow:
        _flush(metrics, service, "ShadowMatches", Rule=name)


def _flush(metrics: Metrics, service: str, metric: str | None = None, **dimensions: str) -> None:
    if metric:
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    for name, value in dimensions.items():  # each dimension its own set: totals per value
        metrics.add_dimensions(service=service, **{name: value})
    metrics.flush_metrics()
    metrics.clear_metrics()  # with POWERTOOLS_METRICS_DISABLED, flush keeps (and grows) the set


def mask_value(value: Any, mode: str, local: bool = False) -> Any:
    """`value` (a string, or JSON data holding strings) with every address as `LOG_ADDRESSES` wants it.

    `local`: the strings are local parts (trace values of `.local`, `.user`, `.detail`),
    which the address pattern cannot recognise but identify a person all the same.
    """
    if mode == "full":
        return value
    if isinstance(value, str):
        return mask_local(value, mode) if local else mask_text(value, mode)
    if isinstance(value, list):
        return [mask_value(item, mode, local) for item in value]
    if isinstance(value, dict):
        return {key: mask_value(item, mode, local) for key, item in value.items()}
    return value


def mask_text(text: str, mode: str) -> str:
    """`text` with every address in it masked: `masked` keeps the first character of the local
    part and the domain (`j***@example.com`), any other mode but `full` hides the address."""
    if mode == "full" or "@" not in text:
        return text
    bare = BARE.fullmatch(text) if text.isascii() else None
    if bare is not None:
        return f"{bare[1]}***@{bare[2]}" if mode == "masked" else "***"
    return mask_found(text, mode)


def mask_found(text: str, mode: str) -> str:
    """`mask_text` of any text: every match of ADDRESS masked."""
    # RE2 takes UTF-8 only: a lone surrogate ("\ud800") is replaced rather than raise.
    data = text.encode("utf-8", "replace" if not text.isascii() else "strict")
    out, last = [], 0
    for match in ADDRESS.finditer(data):
        out.append(data[last:match.start()])
        if mode == "masked":
            first = match.group(1)[:4].decode("utf-8", "ignore")[:1].encode()   # a whole character
            out += [first, b"***@", match.group(2)]
        else:
            out.append(b"***")
        last = match.end()
    out.append(data[last:])
    return b"".join(out).decode("utf-8", "replace")


def mask_local(text: str, mode: str) -> str:
    """A bare local part (trace values of `.local`, `.user`, `.detail`): no `@` marks it, but it
    names a person all the same."""
    if mode == "full":
        return text
    return text[:1] + "***" if mode == "masked" else "***"


def count(metrics: Metrics, service: str, metric: str, **dimensions: str) -> None:
    """One count of `metric`, published at once (totals per dimension value)."""
    _flush(metrics, service, metric, **dimensions)


def mask(value: Any, mode: str) -> Any:
    """`value` (a string, a list, JSON data) with its addresses as LOG_ADDRESSES wants them."""
    return "***" if mode == "none" and value else mask_value(value, mode)
