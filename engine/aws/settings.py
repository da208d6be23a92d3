"""The Lambda function's settings: its environment variables, read once per execution environment.

A typo in one variable must not cost the mail it would have filtered: a bad value
is logged and replaced by its default, and the function answers on.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from engine.decision import DISPOSITIONS
from engine.lang.interpolation import RESERVED_HINT, is_reserved

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

MAX_AGE_DEFAULT = 300      # Powertools' DEFAULT_MAX_AGE_SECS; a test keeps the two equal
POLICY_ENVIRONMENT = "POLICY_ENVIRONMENT"   # the templates' PolicyEnvironment parameter
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

T = TypeVar("T")


class Settings(NamedTuple):
    """What docs/operations.md documents, parsed; a bad value is logged and replaced by its default.
    (A NamedTuple: immutable like a frozen dataclass, and a fifth of its cost at a cold start.)"""

    ssm_parameter: str
    policy_file: Path
    on_error: str
    log_addresses: str
    trace_rate: float
    max_age: int
    policy_environ: Mapping[str, str] | None   # the loader's ${VAR}s; None: the process environment

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
            policy_environ=_policy_environ(logger),
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


def _policy_environ(logger: Logger) -> dict[str, str] | None:
    """The process environment plus POLICY_ENVIRONMENT's JSON object of the policy's ${VAR}s.

    An entry never replaces a variable the function already has, nor adds one the
    runtime reserves (`is_reserved`, the interpolator's own rule). A refused entry
    is logged by name, never by value (a value may be a secret); the others apply.
    """
    raw = os.environ.get(POLICY_ENVIRONMENT, "").strip()
    if not raw:
        return None
    try:
        given = json.loads(raw)
    except json.JSONDecodeError as exc:   # its msg and pos quote nothing of the text
        return _ignored(logger, f"not JSON ({exc.msg} at character {exc.pos})")
    except RecursionError:
        return _ignored(logger, "not JSON (nested too deeply)")
    if not isinstance(given, dict):
        return _ignored(logger, "expected a JSON object of names to strings")
    environ = dict(os.environ)
    for name, value in given.items():
        reason = _refused(name, value)
        if reason:
            logger.error("policy environment entry ignored",
                         extra={"variable": POLICY_ENVIRONMENT, "entry": name, "reason": reason})
        else:
            environ[name] = value
    return environ


def _ignored(logger: Logger, reason: str) -> None:
    logger.error("invalid setting, ignored", extra={"variable": POLICY_ENVIRONMENT, "reason": reason})
    return None


def _refused(name: str, value: object) -> str | None:
    """Why a POLICY_ENVIRONMENT entry cannot be added, or None."""
    if not _VARIABLE_NAME.fullmatch(name):
        return "not a variable name (letters, digits and _, not starting with a digit)"
    if is_reserved(name):
        return f"a reserved name, which no policy may read: {RESERVED_HINT}"
    if not isinstance(value, str):
        return f"the value is a JSON {type(value).__name__}, expected a string"
    if name in os.environ:
        return "already set in the function's environment, which is never overridden"
    return None
