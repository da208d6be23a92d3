"""Benchmark 6, address rows: From headers written to make address parsing slow or large.

The goal (docs/policy-language.md, "Address parts"): parsing and evaluation are linear in the record's size, in time and memory,
on every route; an 8 KB From evaluates under 50 ms, 1 MB under 2 s, with memory a small
multiple of the input. The inputs are the ones the red-team review (issue 10) found
quadratic: angle addresses among bare ones (each angle address used to get the whole
piece's name text), a run of escaped quotes (RE2 restarted its search per quote) and a
domain of many short labels (`in_domain` copied the rest of the domain per label).

Each case runs in its own process (`hostile_child.py`): time is the median of up to five
evaluations; memory is the peak of the Python heap during one more (tracemalloc), with the
growth of the process's peak RSS over the first one in the note.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .report import Row

ROOT = Path(__file__).resolve().parent.parent
TIME_LIMIT_S = 120            # a case still running then is reported as stopped
MEMORY_LIMIT = 4 * 1024 ** 3  # address space of a child; beyond it the case reports "out of memory"
MEMORY_MULTIPLE = 25.0        # "a small multiple of the input"
IN_DOMAIN_POLICY = """version: 1
rules:
  - name: blocked-domain
    when: {from: {in_domain: evil.example}}
    disposition: STOP_RULE_SET
"""


@dataclass(frozen=True)
class Case:
    label: str
    make: Callable[[], str]           # the From header string
    policy: str                       # "default" (policies/default.yaml) or "in_domain"
    limit_ms: float | None = None     # the goal's time, where it sets one

    def policy_text(self) -> str:
        if self.policy == "default":
            return (ROOT / "policies" / "default.yaml").read_text(encoding="utf-8")
        return IN_DOMAIN_POLICY

    @staticmethod
    def event(sender: str) -> dict:
        mail = {"source": "a@b.example", "messageId": "hostile", "headers": [],
                "commonHeaders": {"from": [sender], "subject": "hello"}}
        receipt = {"recipients": ["c@d.example"], "spfVerdict": {"status": "PASS"}}
        return {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0",
                             "ses": {"mail": mail, "receipt": receipt}}]}


def _angles(size: int) -> Callable[[], str]:
    return lambda: "<a@b> x@y " * (size // 10)


CASES: dict[str, Case] = {
    "from-8k": Case("From of '<a@b> x@y ' x 800 (8 KB), default policy", _angles(8_000), "default", 50.0),
    "from-30k": Case("From of '<a@b> x@y ' x 3,000 (30 KB), in_domain policy", _angles(30_000), "in_domain"),
    "from-1m": Case("From of '<a@b> x@y ' x 100,000 (1 MB), default policy", _angles(1_000_000), "default", 2000.0),
    "escaped-quotes": Case("From of '\"' + 'a@b\\\\\"' x 60,000 (240 KB), default policy",
                           lambda: '"' + 'a@b\\"' * 60_000, "default"),
    "many-labels": Case("From of a@ + 'a.' x 200,000 + example (400 KB), in_domain policy",
                        lambda: "a@" + "a." * 200_000 + "example", "in_domain"),
}


def _child(name: str) -> dict[str, Any]:
    """The child's report, or {"error": ...} when it ran out of time or memory."""
    try:
        child = subprocess.run([sys.executable, "-m", "benchmarks.hostile_child", name], cwd=ROOT,
                               capture_output=True, timeout=TIME_LIMIT_S, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {TIME_LIMIT_S} s"}
    lines = child.stdout.decode().strip().splitlines()
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"hostile case {name} failed: {child.stderr.decode(errors='replace')[-2000:]}")
    return json.loads(lines[-1])


def _rows(case: Case, report: dict[str, Any]) -> list[Row]:
    if "error" in report:
        return [Row("6 hostile input", f"{case.label}: time", None, "ms",
                    f"< {case.limit_ms:,g} ms" if case.limit_ms else "", False if case.limit_ms else None,
                    note=report["error"])]
    multiple = report["peak_bytes"] / report["input_bytes"]
    values = f"{report['from']} addresses, {report['from.name_address']} name addresses, {report['at_signs']} @ written"
    return [
        Row("6 hostile input", f"{case.label}: time", report["ms"], "ms",
            f"< {case.limit_ms:,g} ms" if case.limit_ms else "",
            report["ms"] < case.limit_ms if case.limit_ms else None, note=report["disposition"]),
        Row("6 hostile input", f"{case.label}: peak memory", report["peak_bytes"] / 2 ** 20, "MB",
            f"<= {MEMORY_MULTIPLE:g}x the input", multiple <= MEMORY_MULTIPLE,
            note=f"{multiple:.1f}x; RSS grew {report['rss_bytes'] / 2 ** 20:.1f} MB; {values}"),
    ]


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    """Every case in its own process (`quick`: the two small ones only, for the smoke test)."""
    names = ["from-8k", "many-labels"] if quick else list(CASES)
    rows: list[Row] = []
    details: dict[str, Any] = {}
    for name in names:
        details[name] = _child(name)
        rows += _rows(CASES[name], details[name])
    return rows, details
