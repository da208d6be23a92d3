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
BEFORE = Path(__file__).resolve().parent / "before.json"
"""Each row's figure before the current round of work (issue 15), from a full run on the same machine."""


@dataclass(frozen=True)
class Row:
    benchmark: str          # "1 evaluation", ...
    measure: str            # what was measured
    value: float | None     # None: not measured (see note)
    unit: str
    target: str = ""        # the target in words, e.g. "<= 3x"
    met: bool | None = None # None: no target for this row
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.benchmark}: {self.measure.strip()}"


def load_before(path: Path = BEFORE) -> dict[str, float]:
    """`Row.key` -> the figure before; empty when the file is missing."""
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["rows"]


def save_before(rows: list[Row], path: Path = BEFORE) -> None:
    """Record `rows` as the "before" figures (`python -m benchmarks --record-before`); rows of
    benchmarks this run left out keep their recorded figure."""
    recorded = load_before(path)
    recorded.update({r.key: r.value for r in rows if r.value is not None})
    data = {"about": "figures before issue 15, by `python -m benchmarks --record-before`; "
                     "the table prints them beside each row",
            "machine": machine(), "time": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
            "rows": dict(sorted(recorded.items()))}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def growth_note(growth: float, inputs: float, slack: float = 1.25) -> str:
    """What a cost growth says, for `inputs` times the input (`growth` = time ratio): read from the
    figure, never written in advance (issue 16 item 3)."""
    if growth > inputs * slack:
        return f"faster than linear: {growth:.1f}x the time for {inputs:g}x the input"
    if growth < inputs / 2:
        return "well below linear: fixed costs dominate at these sizes"
    return "linear"


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def table(rows: list[Row], before: dict[str, float] | None = None) -> str:
    """A plain-text table (also valid Markdown) of every row, with its figure before where known."""
    before = before or {}
    head = ("benchmark", "measure", "before", "value", "target", "met", "note")
    body = [(r.benchmark, r.measure, _format(before.get(r.key), r.unit) if r.key in before else "",
             _format(r.value, r.unit), r.target, "" if r.met is None else "yes" if r.met else "NO", r.note)
            for r in rows]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]

    def line(cells) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])


def machine() -> dict:
    return {"python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "platform": platform.platform(), "cpus": os.cpu_count(), "processor": platform.processor()}


def write(rows: list[Row], details: dict, directory: Path = RESULTS, before: dict[str, float] | None = None) -> Path:
    """`bench-<UTC time>.json` and `latest.json` in `directory`; returns the former."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    before = before or {}
    data = {"time": stamp, "machine": machine(), "details": details,
            "rows": [{**asdict(r), "before": before.get(r.key)} for r in rows]}
    text = json.dumps(data, indent=2, default=str)
    path = directory / f"bench-{stamp}.json"
    path.write_text(text)
    (directory / "latest.json").write_text(text)
    return path
