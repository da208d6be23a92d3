"""Calling `handler.lambda_handler` as Lambda does and reading back what it printed.

Powertools writes log lines and EMF blobs to stdout, one JSON object a line; an
invocation is read back as its answer, its log lines and its metric blobs.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import handler

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ("POLICY_SSM_PARAMETER", "POLICY_FILE", "ON_ERROR", "LOG_ADDRESSES", "LOG_TRACE",
            "POWERTOOLS_PARAMETERS_MAX_AGE", "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_DEV",
            "POWERTOOLS_LOG_LEVEL", "POLICY_ENVIRONMENT")


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that Powertools Logger reads."""

    function_name: str = "ses-rules"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:ses-rules"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"


@dataclass
class Invocation:
    answer: dict
    logs: list[dict]
    emf: list[dict]

    @property
    def decision(self) -> dict:
        lines = [line for line in self.logs if line.get("message") == "decision"]
        assert len(lines) == 1, f"expected one decision line, got {self.logs}"
        return lines[0]

    def messages(self, level: str) -> list[str]:
        return [line["message"] for line in self.logs if line["level"] == level]

    def metric(self, name: str, **dimensions: str) -> float:
        """The sum of `name` over the blobs published under exactly these dimensions (+ service)."""
        wanted = sorted(["service", *dimensions])
        total = 0.0
        for blob in self.emf:
            directive = blob["_aws"]["CloudWatchMetrics"][0]
            names = [m["Name"] for m in directive["Metrics"]]
            if name in names and wanted in [sorted(d) for d in directive["Dimensions"]] \
                    and all(blob[k] == v for k, v in dimensions.items()):
                value = blob[name]   # Powertools writes a list of values
                total += sum(value) if isinstance(value, list) else value
        return total


class Lambda:
    """One execution environment: fresh handler state, stdout captured."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def invoke(self, event: Any, context: Any = LambdaContext()) -> Invocation:
        answer = handler.lambda_handler(event, context)
        out, err = self.capsys.readouterr()
        assert err == "", f"the handler wrote to stderr: {err}"
        lines = [json.loads(line) for line in out.splitlines()]   # nothing but JSON on stdout
        emf = [line for line in lines if "_aws" in line]
        for blob in emf:
            _check_emf(blob)
        return Invocation(answer, [line for line in lines if "_aws" not in line], emf)


def _check_emf(blob: dict) -> None:
    """What CloudWatch needs to extract the metrics: every dimension and metric named has a value."""
    directive, = blob["_aws"]["CloudWatchMetrics"]
    assert isinstance(blob["_aws"]["Timestamp"], int)
    for dimension_set in directive["Dimensions"]:
        assert all(isinstance(blob[name], str) and blob[name] for name in dimension_set), blob
    for metric in directive["Metrics"]:
        assert metric["Unit"] == "Count" and metric["Name"] in blob, blob


class _CurrentStdout:
    """Whatever `sys.stdout` is when written to (pytest swaps it between setup and call)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def lam(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Lambda:
    """A cold start: no handler state, no setting from the caller's environment."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    handler.policy_source.cache_clear()
    handler.metrics.clear_metrics()
    # The Logger kept the stdout of import time; make it follow the captured one.
    monkeypatch.setattr(handler.logger.registered_handler, "stream", _CurrentStdout())
    return Lambda(capsys)


def read_event(path: Path) -> Any:
    """A JSON event file (some start with a byte-order mark) or a raw message turned into an event."""
    if path.suffix == ".eml":
        from engine.mail.sesevent import event_from_eml
        return event_from_eml(path.read_bytes())
    return json.loads(path.read_text(encoding="utf-8-sig"))
