"""The Lambda function's settings: its environment variables, read once per execution environment.

A typo in one variable must not cost the mail it would have filtered: a bad value
is logged and replaced by its default, and the function answers on.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from engine.decision import DISPOSITIONS

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

MAX_AGE_DEFAULT = 300      # Powertools' DEFAULT_MAX_AGE_SECS; a test keeps the two equal

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """What docs/operations.md documents, parsed; a bad value is logged and replaced by its default."""

    ssm_parameter: str
    policy_file: Path
    on_error: str
    log_addresses: str
    trace_rate: float
    max_age: int

    @classmethod
    def from_env(cls, base: Path, logger: Logger) -> Settings:
        """`base`: the folder a relative POLICY_FILE is in (the handler's, whatever the working directory)."""
        policy_file = Path(os.environ.get("POLICY_FILE") or "policies/default.yaml")
        return cls(
            ssm_parameter=os.environ.get("POLICY_SSM_PARAMETER", "").strip(),
            policy_file=policy_file if policy_file.is_absolute() else base / policy_file,
            on_error=_setting(logger, "ON_ERROR", "CONTINUE", _one_of(*DISPOSITIONS)),
            log_addresses=_setting(logger, "LOG_ADDRESSES", "masked", _one_of("masked", "full", "none")),
            trace_rate=_setting(logger, "LOG_TRACE", "none", _trace_rate),
            max_age=_setting(logger, "POWERTOOLS_PARAMETERS_MAX_AGE", str(MAX_AGE_DEFAULT), _max_age),
        )


def _setting(logger: Logger, name: str, default: str, parse: Callable[[str], T]) -> T:
    """The variable parsed; unset or invalid, `default`, written as the docs write it (`none`, not 0.0)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return parse(default)
    try:
        return parse(raw)
    except ValueError as exc:
        logger.error("invalid setting, default used",
                     extra={"variable": name, "value": raw, "default": default, "reason": str(exc)})
        return parse(default)


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
