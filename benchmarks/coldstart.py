"""Benchmark 5: a fresh process answering its first event, the engine's handler against hand-written code.

Each sample is a new interpreter (the project's Python) that imports the function,
loads its configuration (the engine: policies/default.yaml), answers one event and
exits. The baseline is `benchmarks/default_filter.py`, the same decisions written
by hand with Powertools Logger. Wall time covers the whole process; each
child reports its own peak RSS. The three kinds alternate within a round: the
engine as deployed without actions, the engine with ACTIONS_QUEUE_URL set (its SQS
client is made at initialisation) and the hand-written function.

The engine runs as `make package` lays it out: handler.py, engine/ and policies/ with
their precompiled bundles, copied to a temporary folder by the packaging script's own
functions (the dependencies are the project's own), so its cold start loads
policies/default.precompiled.json, not the YAML; the run stops if it did not, or if
PyYAML or jsonpath_ng was imported.
"""
from __future__ import annotations

import importlib.util
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
RUNS = 15                 # a median of at least 11 fresh processes
RATIO_TARGET = 1.4        # issue 15
RSS_RATIO_TARGET = 1.3
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/ses-rules-actions"
KINDS = {"engine": ("engine", {}), "engine, with actions": ("engine", {"ACTIONS_QUEUE_URL": QUEUE_URL}),
         "hand-written": ("handwritten", {})}


def _environment(pycache: str) -> dict[str, str]:
    """A Lambda-like environment: no engine overrides, bytecode cached in `pycache` (a deployment
    ships compiled .pyc; see scripts/package.py), no credentials (none is needed to make a client)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("POLICY_", "LOG_", "ON_ERROR", "POWERTOOLS_", "ACTIONS_", "AWS_",
                                "PYTHONDONTWRITEBYTECODE"))}
    env.update(PYTHONPYCACHEPREFIX=pycache, AWS_REGION="eu-west-1", AWS_DEFAULT_REGION="eu-west-1")
    return env


def packaged(task: Path) -> Path:
    """The project's code and policies laid out in `task` as the zip holds them, bundles included."""
    spec = importlib.util.spec_from_file_location("package_script", HERE.parent / "scripts" / "package.py")
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    package.copy_code(task)
    package.write_bundles(task)
    return task


def _one(kind: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """(wall seconds, the child's report) of one fresh process."""
    child_kind, extra = KINDS[kind]
    start = time.perf_counter()
    child = subprocess.run([sys.executable, str(HERE / "cold_child.py"), child_kind, str(EVENT)],
                           capture_output=True, env={**env, **extra}, cwd=HERE.parent, check=False, timeout=120)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"cold start of {kind} failed ({child.returncode}): "
                           f"{child.stderr.decode(errors='replace')[-2000:]}")
    return wall, json.loads(child.stdout.decode().strip().splitlines()[-1])


def run(runs: int = RUNS) -> tuple[list[Row], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="ses-rules-pycache-") as pycache, \
            tempfile.TemporaryDirectory(prefix="ses-rules-task-") as task:
        return _measure({**_environment(pycache), "SES_RULES_TASK_ROOT": str(packaged(Path(task)))}, runs)


def _measure(env: dict[str, str], runs: int) -> tuple[list[Row], dict[str, Any]]:
    for kind in KINDS:          # writes the bytecode and warms the OS file cache; not measured
        _one(kind, env)
    wall: dict[str, list[float]] = {k: [] for k in KINDS}
    rss: dict[str, list[float]] = {k: [] for k in KINDS}
    inner: dict[str, list[float]] = {k: [] for k in KINDS}
    answers, modules, sources, parsers = {}, {}, {}, {}
    for _ in range(runs):
        for kind in KINDS:
            seconds, report = _one(kind, env)
            wall[kind].append(seconds)
            rss[kind].append(report["peak_rss_mb"])
            inner[kind].append(report["ms"])
            answers[kind], modules[kind] = report["answer"], report["modules"]
            sources[kind], parsers[kind] = report["policy_source"], report["parsers"]
    if len({a.get("disposition") for a in answers.values()}) != 1:
        raise RuntimeError(f"the functions answered differently: {answers}")
    if not str(sources["engine"]).startswith("precompiled:") or parsers["engine"]:
        raise RuntimeError(f"the engine did not start from its precompiled bundle: {sources['engine']}, "
                           f"parsers imported: {parsers['engine']}")
    times = ratio(wall["engine"], wall["hand-written"])
    with_actions = ratio(wall["engine, with actions"], wall["hand-written"])
    memory = median(rss["engine"]) / median(rss["hand-written"])
    rows = []
    for kind in KINDS:
        rows += [Row("5 cold start", f"{kind}: process wall time (median of {runs})", median(wall[kind]) * 1e3, "ms",
                     note=f"{modules[kind]} modules loaded"),
                 Row("5 cold start", f"  {kind}: import + first answer", median(inner[kind]), "ms"),
                 Row("5 cold start", f"  {kind}: peak RSS (median)", median(rss[kind]), "MB")]
    rows += [
        Row("5 cold start", "engine / hand-written, wall time", times, "x", f"<= {RATIO_TARGET:g}x",
            times <= RATIO_TARGET),
        Row("5 cold start", "engine with actions / hand-written, wall time", with_actions, "x",
            note="boto3 and the SQS client made at initialisation"),
        Row("5 cold start", "engine / hand-written, peak RSS", memory, "x", f"<= {RSS_RATIO_TARGET:g}x",
            memory <= RSS_RATIO_TARGET),
    ]
    details = {"event": str(EVENT), "wall_s": wall, "inner_ms": inner, "peak_rss_mb": rss, "answers": answers,
               "modules": modules, "policy_source": sources, "parsers_imported": parsers}
    return rows, details
