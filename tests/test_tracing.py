"""Powertools Tracer: on only when the X-Ray SDK is packaged and tracing is not disabled.

The end-to-end test builds the zip with TRACING=1, runs it in the runtime's Python
as Lambda would (LAMBDA_TASK_ROOT, a trace header, the daemon address) and reads
the subsegment the X-Ray SDK sends to a UDP socket on 127.0.0.1 standing in for
the X-Ray daemon.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine.aws import tracing
from test_package import ROOT, runtime_python  # noqa: F401  (fixture)
from test_template import package

EVENT = ROOT / "examples" / "events" / "partner-ticket.json"
TRACE_ID = "1-5759e988-bd862e3fe1be46a994272793"
CHILD = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
import handler
class Context:
    function_name = "ses-rules"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:ses-rules"
    aws_request_id = "req-1"
answer = handler.lambda_handler(json.load(sys.stdin), Context())
print("RESULT " + json.dumps({"answer": answer, "sdk_loaded": "aws_xray_sdk" in sys.modules,
                              "traced": handler.tracer is not None}))
'''


@pytest.mark.parametrize("disabled, sdk, task_root, expected", [
    ("true", "json", "/var/task", False), ("1", "json", "/var/task", False),
    ("false", "json", "/var/task", True), (None, "json", "/var/task", True),
    ("false", "no_such_xray_sdk", "/var/task", False), ("false", "json", None, False)])
def test_tracing_is_wanted_only_in_lambda_with_the_sdk_and_not_disabled(monkeypatch, disabled, sdk, task_root,
                                                                        expected) -> None:
    monkeypatch.setattr(tracing, "SDK", sdk)
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    for name, value in ((tracing.DISABLED_ENV, disabled), ("LAMBDA_TASK_ROOT", task_root)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert tracing.wanted() is expected


def test_without_a_tracer_the_handler_is_unchanged(monkeypatch) -> None:
    monkeypatch.setenv(tracing.DISABLED_ENV, "true")
    assert tracing.tracer("ses-rules") is None

    def handle(event, context):
        return event
    assert tracing.capture(None, handle) is handle


def test_tracing_build_adds_the_tracing_extra_and_only_then() -> None:
    assert package.tracing_requirements(False) == []
    assert [r.split(">")[0] for r in package.tracing_requirements(True)] == ["aws-xray-sdk"]


@pytest.mark.parametrize("env", [{tracing.DISABLED_ENV: "true", "LAMBDA_TASK_ROOT": str(ROOT)},
                                 {tracing.DISABLED_ENV: "false"}], ids=["disabled", "outside-lambda"])
def test_without_tracing_the_handler_makes_no_tracer_and_imports_no_sdk(env: dict) -> None:
    """Whether or not the X-Ray SDK is installed (moto's server extra brings it into the dev venv)."""
    probe = "import sys, handler; print(handler.tracer is not None, 'aws_xray_sdk' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin", **env}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


@pytest.fixture(scope="module")
def traced_package(tmp_path_factory, runtime_python: Path) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("dist") / "ses-rules-lambda.zip"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--out", str(out)],
                            capture_output=True, text=True, timeout=600,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "TRACING": "1",
                                 "RUNTIME_PYTHON": str(runtime_python)})
    assert result.returncode == 0, result.stderr
    assert "with the X-Ray SDK (TRACING=1)" in result.stdout
    root = tmp_path_factory.mktemp("traced-task")
    with zipfile.ZipFile(out) as zf:
        assert any(name.startswith("aws_xray_sdk/") for name in zf.namelist())
        zf.extractall(root)
    return root


def _run_traced(python: Path, root: Path, disabled: str) -> tuple[dict, list[dict]]:
    """The handler answering one event in Lambda's environment; (its result, the segments sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(2)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "AWS_REGION": "eu-west-1",
               "LAMBDA_TASK_ROOT": str(root), "AWS_LAMBDA_FUNCTION_NAME": "ses-rules",
               "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:%d" % daemon.getsockname()[1],
               "_X_AMZN_TRACE_ID": f"Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1",
               tracing.DISABLED_ENV: disabled}
        child = subprocess.run([str(python), "-I", "-S", "-B", "-c", CHILD, str(root)],
                               input=EVENT.read_text(encoding="utf-8-sig"), capture_output=True,
                               text=True, cwd=root, env=env, timeout=120)
        assert child.returncode == 0, child.stderr
        result = json.loads(next(line for line in child.stdout.splitlines()
                                 if line.startswith("RESULT "))[len("RESULT "):])
        segments = []
        try:
            while True:
                header, _, body = daemon.recv(65535).decode().partition("\n")
                segments.append(json.loads(body))
        except socket.timeout:
            pass
    return result, segments


def test_traced_package_sends_the_handler_subsegment(runtime_python, traced_package) -> None:  # noqa: F811
    result, segments = _run_traced(runtime_python, traced_package, "false")
    assert result == {"answer": {"disposition": "CONTINUE"}, "sdk_loaded": True, "traced": True}
    handler_segment = next(s for s in segments if s["name"].startswith("## "))
    assert handler_segment["trace_id"] == TRACE_ID
    assert handler_segment["annotations"] == {"ColdStart": True, "Service": "ses-rules"}


def test_traced_package_with_tracing_disabled_loads_no_sdk(runtime_python, traced_package) -> None:  # noqa: F811
    result, segments = _run_traced(runtime_python, traced_package, "true")
    assert result == {"answer": {"disposition": "CONTINUE"}, "sdk_loaded": False, "traced": False}
    assert segments == []
