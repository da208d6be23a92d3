"""Benchmark results: rows of one table, printed and written as JSON."""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Row:
    benchmark: str          # "1 evaluation", ...
    measure: str            # what was measured
    value: float | None     # None: not measured (see note)
    unit: str
    target: str = ""        # the target in words, e.g. "<= 3x"
    met: bool | None = None # None: no target for this row
    note: str = ""


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def table(rows: list[Row]) -> str:
    """A plain-text table (also valid Markdown) of every row."""
    head = ("benchmark", "measure", "value", "target", "met", "note")
    body = [(r.benchmark, r.measure, _format(r.value, r.unit), r.target,
             "" if r.met is None else "yes" if r.met else "NO", r.note) for r in rows]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]

    def line(cells) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])


def machine() -> dict:
    return {"python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "platform": platform.platform(), "cpus": os.cpu_count(), "processor": platform.processor()}


def write(rows: list[Row], details: dict, directory: Path = RESULTS) -> Path:
    """`bench-<UTC time>.json` and `latest.json` in `directory`; returns the former."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    data = {"time": stamp, "machine": machine(), "rows": [asdict(r) for r in rows], "details": details}
    text = json.dumps(data, indent=2, default=str)
    path = directory / f"bench-{stamp}.json"
    path.write_text(text)
    (directory / "latest.json").write_text(text)
    return path
