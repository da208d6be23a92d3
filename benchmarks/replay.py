"""Benchmark 7: end-to-end replay throughput, and what `diff` costs over one `dry-run`.

The CLI runs as a user runs it (a fresh process, rows written to a pipe) over 2,000 distinct
stored messages, from moto's standalone S3 server on 127.0.0.1 (``--jobs 16``) and from a
local directory. Times are medians over the rounds and include the process start; the diff
overhead is the median of per-round ratios, measured side by side on the same messages.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.s3server import archive_objects, aws_env, moto_server, put_all, s3_client

from .report import Row
from .timing import median, ratio

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "default.yaml"
MESSAGES, QUICK_MESSAGES = 2000, 200
ROUNDS = 3
DIFF_TARGET = 2.0


def _seconds(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "engine", *argv], cwd=ROOT, env=env, timeout=1800,
                            capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        tail = (result.stdout.strip().splitlines() or [""])[-3:]
        raise RuntimeError(f"ses-rules {argv[0]} failed: {result.stderr.strip()} {' / '.join(tail)}")
    return elapsed


def run(quick: bool = False) -> tuple[list[Row], dict]:
    count = QUICK_MESSAGES if quick else MESSAGES
    rounds = 1 if quick else ROUNDS
    objects = archive_objects(count)
    with tempfile.TemporaryDirectory() as folder:
        for key, body, _ in objects:
            Path(folder, key.replace("/", "_") + ".eml").write_bytes(body)
        new = Path(folder, "new.yaml")
        new.write_text(POLICY.read_text().replace("when: {spam: FAIL}\n    disposition: STOP_RULE_SET",
                                                  "when: {spam: FAIL}\n    disposition: STOP_RULE"))
        local = str(Path(folder))
        dry, diff = [], []
        for _ in range(rounds):
            dry.append(_seconds(["dry-run", "--jobs", "16", str(POLICY), local]))
            diff.append(_seconds(["diff", "--jobs", "16", str(POLICY), str(new), local]))
        bucket = f"bench-archive-{uuid.uuid4().hex[:12]}"   # moto's state is per process: a bucket of our own
        with moto_server() as endpoint:
            put_all(s3_client(endpoint), bucket, objects)
            s3 = [_seconds(["dry-run", "--jobs", "16", str(POLICY), f"s3://{bucket}/inbound/"], aws_env(endpoint))
                  for _ in range(rounds)]
    overhead = ratio(diff, dry)
    rows = [
        Row("7 replay", f"dry-run --jobs 16, {count} stored messages from local S3 (moto server)",
            count / median(s3), "msg/s", note="end to end, process start included"),
        Row("7 replay", f"dry-run --jobs 16, {count} .eml files in a local directory",
            count / median(dry), "msg/s", note="end to end, process start included"),
        Row("7 replay", "diff OLD NEW over one dry-run, same local messages", overhead, "x",
            target=f"< {DIFF_TARGET:g}x", met=overhead < DIFF_TARGET,
            note="two evaluations per message; reading and parsing once"),
    ]
    details = {"messages": count, "rounds": rounds, "s3_seconds": s3, "dry_run_seconds": dry,
               "diff_seconds": diff}
    return rows, details
