"""Benchmark 5: a fresh process answering its first event, engine handler against the hand-written filter.

Each sample is a new interpreter (the project's Python) that imports the
function, loads its configuration (the engine: policies/default.yaml), answers
one event and exits. Wall time covers the whole process; `os.wait4` gives each
child's own peak RSS. Engine and hand-written runs alternate.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .report import Row
from .timing import Settings, median, ratio

HERE = Path(__file__).resolve().parent
EVENT = HERE.parent / "examples" / "events" / "partner-ticket.json"
RUNS = 10
RATIO_TARGET = 2.0
RSS_TARGET_MB = 80.0


def _environment() -> dict[str, str]:
    """A Lambda-like environment: the filter's configuration, no engine overrides."""
    event = json.loads(EVENT.read_text(encoding="utf-8-sig"))
    mail = event["Records"][0]["ses"]["mail"]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("POLICY_", "LOG_", "ON_ERROR", "POWERTOOLS_", "MAIL_"))}
    env.update(MAIL_SOURCE=mail["source"], MAIL_SUBJECTS="CASE-;ALARM",
               AWS_REGION="eu-west-1", AWS_DEFAULT_REGION="eu-west-1")
    return env


def _one(kind: str, env: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    """(wall seconds, peak RSS in MB, the child's report) of one fresh process."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, str(HERE / "cold_child.py"), kind, str(EVENT)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=HERE.parent)
    out, err = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    child.stderr.close()
    if child.returncode != 0:
        raise RuntimeError(f"cold start of {kind} failed ({child.returncode}): {err.decode(errors='replace')[-2000:]}")
    report = json.loads(out.decode().strip().splitlines()[-1])
    return wall, usage.ru_maxrss / 1024, report     # Linux: ru_maxrss in KiB


def run(settings: Settings, runs: int = RUNS) -> tuple[list[Row], dict[str, Any]]:
    env = _environment()
    kinds = ("engine", "handwritten")
    for kind in kinds:          # warm the OS file cache once; not measured
        _one(kind, env)
    wall: dict[str, list[float]] = {k: [] for k in kinds}
    rss: dict[str, list[float]] = {k: [] for k in kinds}
    inner: dict[str, list[float]] = {k: [] for k in kinds}
    answers = {}
    for _ in range(runs):
        for kind in kinds:
            seconds, peak, report = _one(kind, env)
            wall[kind].append(seconds)
            rss[kind].append(peak)
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
