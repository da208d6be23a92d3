"""Powertools Tracer (X-Ray), only where it can work and was asked for.

The Lambda zip holds the X-Ray SDK only when built with `make package TRACING=1`,
and the templates set `POWERTOOLS_TRACE_DISABLED=true` unless their Tracing
parameter is on. When either says no, no Tracer is made and the X-Ray SDK is
never imported (Powertools imports it lazily), so the cold start is that of a
build without tracing.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SDK = "aws_xray_sdk"
DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"   # Powertools' own switch, read the way it reads it
_TRUTHY = {"1", "y", "yes", "t", "true", "on"}

F = TypeVar("F", bound=Callable[..., Any])


def wanted() -> bool:
    """In Lambda, tracing not disabled, and the X-Ray SDK importable.

    Outside Lambda (no LAMBDA_TASK_ROOT, or `sam local`) Powertools would make a
    disabled Tracer after importing the SDK; local runs and benchmarks skip both.
    """
    if os.environ.get(DISABLED_ENV, "false").strip().lower() in _TRUTHY:
        return False
    if not os.environ.get("LAMBDA_TASK_ROOT") or os.environ.get("AWS_SAM_LOCAL"):
        return False
    return importlib.util.find_spec(SDK) is not None


def tracer(service: str) -> Tracer | None:
    """A Powertools Tracer for `service`, or None (and no X-Ray SDK import) when tracing is not wanted."""
    if not wanted():
        return None
    from aws_lambda_powertools import Tracer
    try:
        return Tracer(service=service)
    except Exception:  # tracing must never keep the function from answering SES
        logging.getLogger(__name__).exception("tracing off: the Tracer could not start")
        return None


def capture(active: Tracer | None, handler: F) -> F:
    """`handler` inside a `## <name>` subsegment when tracing is active; unchanged otherwise."""
    return handler if active is None else active.capture_lambda_handler(handler)
