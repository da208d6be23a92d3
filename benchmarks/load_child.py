"""One policy load, run in a fresh process by benchmarks/hostile_loading.py (not imported by the suite).

`python load_child.py POLICY.yaml`: import the engine, load the policy (timed), and print
one JSON line: seconds, the process's peak RSS in MB (RE2's C++ memory included, which
tracemalloc cannot see), whether it loaded and its first diagnostic.
"""
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))      # appended: a PYTHONPATH engine (an older checkout) wins
    from engine import PolicyError, load_policy
    started = time.perf_counter()
    try:
        load_policy(sys.argv[1])
        outcome = "loaded"
    except PolicyError as exc:
        outcome = f"refused, {len(exc.errors)} errors: {exc.errors[0].code}"
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "outcome": outcome}))


if __name__ == "__main__":
    main()
