"""`python -m benchmarks` (`make bench`): run every benchmark, print the table, write the JSON.

Options: `--only N ...` runs some of them (1-9), `--quick` measures once with small
sizes (a smoke run: its figures mean nothing), `--out DIR` writes the JSON elsewhere.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

from . import actions, coldstart, evaluation, hostile, lists, replay, serve, size
from .events import load_events
from .report import RESULTS, Row, table, write
from .timing import Settings

NAMES = {"1": "evaluation vs hand-written", "2": "naive design", "3": "list scaling", "4": "policy size",
         "5": "cold start", "6": "hostile input", "7": "replay throughput", "8": "actions",
         "9": "serve throughput"}


def _suite(settings: Settings, quick: bool, only: set[str]) -> list[tuple[str, Callable[[], Any]]]:
    """(label, thunk) per selected benchmark; 1 and 2 share one run (same events, same timing rounds)."""
    events = load_events() if only & {"1", "2", "3", "4"} else None
    suite = []
    if "5" in only:     # first: fresh processes are measured best before this one has grown
        suite.append(("5", lambda: coldstart.run(runs=1 if quick else coldstart.RUNS)))
    if only & {"1", "2"}:
        suite.append(("1+2", lambda: evaluation.run(settings, events)))
    if "3" in only:
        suite.append(("3", lambda: lists.run(settings, events, quick)))
    if "4" in only:
        suite.append(("4", lambda: size.run(settings, events, quick)))
    if "6" in only:
        suite.append(("6", lambda: hostile.run(settings, quick)))
    if "7" in only:
        suite.append(("7", lambda: replay.run(quick)))
    if "8" in only:
        suite.append(("8", lambda: actions.run(settings, quick)))
    if "9" in only:
        suite.append(("9", lambda: serve.run(quick)))
    return suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(NAMES), metavar="N",
                        help="benchmarks to run: " + ", ".join(f"{k} {v}" for k, v in NAMES.items()))
    parser.add_argument("--quick", action="store_true", help="one short round, small sizes (smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON folder (default {RESULTS})")
    args = parser.parse_args(argv)
    settings = Settings.quick() if args.quick else Settings()
    only = set(args.only or NAMES)
    rows: list[Row] = []
    details: dict[str, Any] = {"quick": args.quick}
    started = time.perf_counter()
    try:     # RuntimeError: a premise fails (unreadable event, contenders disagree, a child crashed)
        for label, thunk in _suite(settings, args.quick, only):
            print(f"running benchmark {label} ...", file=sys.stderr, flush=True)
            part_rows, part_details = thunk()
            rows += part_rows
            details[label] = part_details
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    rows.sort(key=lambda row: row.benchmark.split()[0])      # table order 1..7, whatever ran first
    details["seconds"] = round(time.perf_counter() - started, 1)
    if events_missing := details.get("1+2", {}).get("missing_sources"):
        print(f"note: not found, so not used: {', '.join(events_missing)}", file=sys.stderr)
    print(table(rows))
    missed = [r for r in rows if r.met is False]
    path = write(rows, details, args.out)
    print(f"\n{len(rows)} rows, {len(missed)} target(s) missed, {details['seconds']} s; JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
