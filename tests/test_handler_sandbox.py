"""The handler as Lambda runs it: a fresh interpreter, read-only code, an unwritable HOME.

On Lambda the code directory is a read-only file system and HOME cannot be written;
a library that caches, compiles or writes a table on first use fails there (or
prints to stderr) while every in-process test passes.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from handler_harness import ROOT, read_event

EVENTS = ROOT / "examples" / "events"
CASES = {"virus-fail.json": "STOP_RULE_SET", "spam-fail.json": "STOP_RULE_SET",
         "newsletter.eml": "CONTINUE", "display-name-spoof.eml": "STOP_RULE_SET"}
SCRIPT = """
import json, sys
import handler, engine
for module in (handler, engine):
    assert module.__file__.startswith(sys.argv[1]), module.__file__
answers = [handler.lambda_handler(event, None) for event in json.load(sys.stdin)]
loaded = sorted(m for m in sys.modules if m == "boto3" or m.startswith("aws_lambda_powertools.utilities.parameters"))
print(json.dumps({"answers": answers, "ssm_modules": loaded}))
"""
# As root, permissions do not stop writes: a private mount namespace makes the
# folders really read-only, as on Lambda.
READ_ONLY = 'for d in "$@"; do mount --bind -o ro "$d" "$d" || exit 97; done; exec "$PY" -c "$SCRIPT" "$1"'


def _can_mount_read_only() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount --bind -o ro / /"], capture_output=True)
    return probe.returncode == 0


def _snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for root in roots for p in [root, *root.rglob("*")]}


def _freeze(path: Path, writable: bool = False) -> None:
    for p in [path, *path.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture
def task(tmp_path: Path):
    """The deployment package's layout: handler.py, engine/, policies/ (no bytecode)."""
    task = tmp_path / "task"
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("engine", "policies"):
        shutil.copytree(ROOT / folder, task / folder, ignore=ignore)
    shutil.copy(ROOT / "handler.py", task / "handler.py")
    (tmp_path / "home").mkdir()
    (tmp_path / "tmp").mkdir()
    _freeze(task)
    _freeze(tmp_path / "home")
    yield task
    _freeze(task, writable=True)
    _freeze(tmp_path / "home", writable=True)


def _run(task: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    home, tmp = task.parent / "home", task.parent / "tmp"
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "TMPDIR": str(tmp), "LANG": "C.UTF-8",
           "LAMBDA_TASK_ROOT": str(task), "PY": sys.executable, "SCRIPT": SCRIPT, **env}
    argv = [sys.executable, "-c", SCRIPT, str(task)]
    if os.geteuid() == 0 and _can_mount_read_only():
        argv = ["unshare", "-rm", "sh", "-c", READ_ONLY, "sh", str(task), str(home)]
    elif os.geteuid() == 0:
        # No way to refuse root's writes (e.g. a container without user namespaces):
        # the snapshots still catch any; only the interpreter's own bytecode cache,
        # which Lambda's read-only file system silently refuses, is switched off.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    events = [read_event(EVENTS / name) for name in CASES]
    return subprocess.run(argv, cwd=task, env=env, input=json.dumps(events), capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("settings", [{}, {"LOG_TRACE": "all", "LOG_ADDRESSES": "full"}],
                         ids=["defaults", "trace"])
def test_a_fresh_read_only_environment_decides_and_writes_nothing(task: Path, settings: dict[str, str]):
    before = _snapshot(task, task.parent / "home", task.parent / "tmp")
    result = _run(task, settings)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    outcome = lines[-1]
    assert outcome["answers"] == [{"disposition": want} for want in CASES.values()]
    decisions = [line for line in lines if line.get("message") == "decision"]
    assert [d["disposition"] for d in decisions] == list(CASES.values())
    assert all(("trace" in d) == bool(settings) for d in decisions)
    assert _snapshot(task, task.parent / "home", task.parent / "tmp") == before


def test_without_ssm_neither_boto3_nor_parameters_is_imported(task: Path):
    result = _run(task, {})
    assert json.loads(result.stdout.splitlines()[-1])["ssm_modules"] == []


def test_the_cli_loads_neither_the_functions_modules_nor_powertools():
    """Settings, policy source and telemetry are the function's: the CLI must not pay for them at import."""
    script = ("import json, sys, engine, engine.tools.cli; print(json.dumps(sorted(m for m in sys.modules if "
              "m.startswith(('aws_lambda_powertools', 'boto3', 'engine.aws.settings', 'engine.aws.policysource', "
              "'engine.aws.telemetry')))))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
