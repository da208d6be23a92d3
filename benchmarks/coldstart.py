"""Benchmark 5: a fresh process answering its first event, engine handler against the hand-written filter.

Each sample is a new interpreter (the project's Python) that imports the
function, loads its configuration (the engine: policies/default.yaml), answers
one event and exits. Wall time covers the whole process; each child reports its
own peak RSS. Engine and hand-written runs alternate.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .report import Row
from .timing import median, ratio

HERE = Path(__file__).resolve().parent
EVENT = HERE.parent / "examples" / "events" / "partner-ticket.json"
RUNS = 10
RATIO_TARGET = 2.0
RSS_TARGET_MB = 80.0


def _environment(pycache: str) -> dict[str, str]:
    """A Lambda-like environment: the filter's configuration, no engine overrides, and bytecode
    cached in `pycache` (a deployment ships compiled .pyc; see scripts/package.py)."""
    event = json.loads(EVENT.read_text(encoding="utf-8-sig"))
    mail = event["Records"][0]["ses"]["mail"]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("POLICY_", "LOG_", "ON_ERROR", "POWERTOOLS_", "MAIL_", "PYTHONDONTWRITEBYTECODE"))}
    env.update(MAIL_SOURCE=mail["source"], MAIL_SUBJECTS="CASE-;ALARM", PYTHONPYCACHEPREFIX=pycache,
               AWS_REGION="eu-west-1", AWS_DEFAULT_REGION="eu-west-1")
    return env


def _one(kind: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """(wall seconds, the child's report) of one fresh process."""
    start = time.perf_counter()
    child = subprocess.run([sys.executable, str(HERE / "cold_child.py"), kind, str(EVENT)],
                           capture_output=True, env=env, cwd=HERE.parent, check=False)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"cold start of {kind} failed ({child.returncode}): "
                           f"{child.stderr.decode(errors='replace')[-2000:]}")
    return wall, json.loads(child.stdout.decode().strip().splitlines()[-1])


def run(runs: int = RUNS) -> tuple[list[Row], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="ses-rules-pycache-") as pycache:
        return _measure(_environment(pycache), runs)


def _measure(env: dict[str, str], runs: int) -> tuple[list[Row], dict[str, Any]]:
    kinds = ("engine", "handwritten")
    for kind in kinds:          # writes the bytecode and warms the OS file cache; not measured
        _one(kind, env)
    wall: dict[str, list[float]] = {k: [] for k in kinds}
    rss: dict[str, list[float]] = {k: [] for k in kinds}
    inner: dict[str, list[float]] = {k: [] for k in kinds}
    answers = {}
    for _ in range(runs):
        for kind in kinds:
            seconds, report = _one(kind, env)
            wall[kind].append(seconds)
            rss[kind].append(report["peak_rss_mb"])
            inner[kind].append(report["ms"])
            answers[kind] = report["answer"]
    if answers["engine"].get("disposition") not in ("CONTINUE", "STOP_RULE", "STOP_RULE_SET"):
        raise RuntimeError(f"the handler answered {answers['engine']}")
    times = ratio(wall["engine"], wall["handwritten"])
    engine_rss = max(rss["engine"])
    rows = [
        Row("5 cold start", f"engine handler, process wall time (median of {runs})", median(wall["engine"]) * 1e3, "ms"),
        Row("5 cold start", "  of which import + load policy + first event", median(inner["engine"]), "ms"),
        Row("5 cold start", f"hand-written filter, process wall time (median of {runs})",
            median(wall["handwritten"]) * 1e3, "ms"),
        Row("5 cold start", "  of which import + first event", median(inner["handwritten"]), "ms"),
        Row("5 cold start", "engine / hand-written", times, "x", f"<= {RATIO_TARGET:g}x", times <= RATIO_TARGET),
        Row("5 cold start", "engine peak RSS (max of runs)", engine_rss, "MB", f"< {RSS_TARGET_MB:g} MB",
            engine_rss < RSS_TARGET_MB),
        Row("5 cold start", "hand-written peak RSS (max of runs)", max(rss["handwritten"]), "MB"),
    ]
    details = {"event": str(EVENT), "wall_s": wall, "inner_ms": inner, "peak_rss_mb": rss, "answers": answers}
    return rows, details
