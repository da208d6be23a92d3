"""One hostile address case, run in a fresh process by benchmarks/hostile_addresses.py.

`python -m benchmarks.hostile_child CASE`: build the case's event, load its policy,
evaluate once (timed, with the growth of the peak RSS over it), repeat while cheap for a
median, evaluate once more under tracemalloc (the Python heap's peak), print one JSON line. A fresh process per case keeps
one case's memory out of the next one's figure, and lets the parent stop a case that
does not end (the quadratic fallback this benchmark was written against) at a time limit.
"""
from __future__ import annotations

import json
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

from engine import load_policy_text
from engine.mail.context import RecordContext
from engine.mail.fields import resolve

from .hostile_addresses import CASES, MEMORY_LIMIT

REPEAT_BELOW_S = 0.5     # cheaper runs are repeated for a median
REPEATS = 5


def _status(field: str) -> int:
    """A /proc/self/status figure in bytes (VmRSS: now, VmHWM: peak so far)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _values(event: dict, key: str) -> int:
    """How many values a field yields on the event (bounded by the addresses written)."""
    source = resolve(key, False)
    return len(source.values(RecordContext(event["Records"][0]["ses"])))


def main(name: str) -> dict:
    case = CASES[name]
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    raw = case.make()
    event = case.event(raw)
    policy = load_policy_text(case.policy_text())
    before = _status("VmRSS")
    start = time.perf_counter()
    decision = policy.evaluate(event)
    times = [time.perf_counter() - start]
    rss = max(0, _status("VmHWM") - before)
    while times[0] < REPEAT_BELOW_S and len(times) < REPEATS:
        start = time.perf_counter()
        policy.evaluate(event)
        times.append(time.perf_counter() - start)
    tracemalloc.start()       # once more, traced: the Python heap's peak, exact at any size
    policy.evaluate(event)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"ms": statistics.median(times) * 1e3, "rss_bytes": rss, "peak_bytes": traced,
            "input_bytes": len(raw.encode()),
            "disposition": decision.disposition, "rule": decision.rule, "errors": decision.errors,
            "from": _values(event, "from"), "from.name_address": _values(event, "from.name_address"),
            "at_signs": raw.count("@")}


if __name__ == "__main__":
    try:
        print(json.dumps(main(sys.argv[1])))
    except MemoryError:
        print(json.dumps({"error": "out of memory"}))
