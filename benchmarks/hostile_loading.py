"""Benchmark 6, loading rows: a policy within the size bounds loads or is refused in < 1 s.

A policy may come from an SSM parameter another team edits, and it is loaded at
every cold start and refresh, so its load time is attacker-controlled input too.
The regex bomb is 618 patterns `\\pL{300}...` (about 8 KB; each costs RE2 150 ms to
compile without a budget: 95 s); the hint bomb is 15,000 lists and 5,000 references
to a misspelt list (did-you-mean over every name for every reference: minutes). Each
is loaded in a fresh process, so its peak memory (RE2's C++ allocations included)
is its own. The glob rows show RE2's memory limit keeping a 1,000-pattern list on
its fast engine: per value it should cost about what 100 patterns cost.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from engine import load_policy_text

from .report import Row
from .timing import Settings, median, per_item

LOAD_LIMIT_S = 1.0
CHILD = Path(__file__).resolve().parent / "load_child.py"
CHILD_TIMEOUT_S = 120
GLOB_RATIO_LIMIT = 3.0


def regex_bomb(patterns: int = 618) -> str:
    """One rule whose subject test holds `patterns` distinct `\\pL{300}` regexes (RE2 caches equal ones)."""
    body = ", ".join(f"'\\pL{{300}}{i:x}'" for i in range(patterns))
    return f"version: 1\nrules:\n- name: r\n  when: {{subject: {{matches: [{body}]}}}}\n  disposition: STOP_RULE\n"


def hint_bomb(lists: int = 15_000, references: int = 5_000) -> str:
    """`lists` lists and `references` tests naming a list that does not exist."""
    lines = ["version: 1", "lists:", *(f"  l{i}: []" for i in range(lists)), "rules:", "- name: r",
             "  when:", "    any:", *("    - {subject: {in: {list: partnrs}}}" for _ in range(references)),
             "  disposition: STOP_RULE"]
    return "\n".join(lines) + "\n"


def glob_policy(patterns: int) -> str:
    globs = ", ".join(f"'*.d{i:04d}.example'" for i in range(patterns))
    return f"version: 1\nrules:\n- name: r\n  when: {{from.domain: {{glob: [{globs}]}}}}\n  disposition: STOP_RULE\n"


def load_in_child(text: str) -> dict[str, Any]:
    """Load `text` as a policy file in a fresh interpreter: seconds, peak RSS, outcome."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "policy.yaml")
        path.write_text(text)
        try:
            done = subprocess.run([sys.executable, str(CHILD), str(path)], capture_output=True, text=True,
                                  timeout=CHILD_TIMEOUT_S, check=True)
        except subprocess.TimeoutExpired:
            return {"seconds": None, "peak_mb": None, "outcome": f"still loading after {CHILD_TIMEOUT_S} s"}
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"load child failed: {exc.stderr.strip()[-500:]}") from None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _load_rows(name: str, text: str) -> tuple[list[Row], dict[str, Any]]:
    result = load_in_child(text)
    seconds = result["seconds"]
    met = None if seconds is None else seconds < LOAD_LIMIT_S
    label = f"load {name} ({len(text.encode()):,} bytes)"
    return [Row("6 hostile input", label, seconds, "s", f"< {LOAD_LIMIT_S:g} s", met, note=result["outcome"]),
            Row("6 hostile input", f"{label}: peak memory", result["peak_mb"], "MB",
                note="RSS of the loading process, interpreter included")], result


def _glob_rows(settings: Settings, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    """Per value, a 1,000-glob list against a 100-glob list, on distinct senders."""
    senders = [f"user@host{i}.d{i % 9973:04d}.test" for i in range(200 if quick else 2000)]
    events = [{"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {
        "mail": {"source": s, "messageId": "bench", "headers": [], "commonHeaders": {"from": [s]}},
        "receipt": {"recipients": ["c@d.example"]}}}]} for s in senders]
    policies = {n: load_policy_text(glob_policy(n)) for n in (100, 1000)}
    samples = per_item({n: policy.evaluate for n, policy in policies.items()}, events, settings)
    small, large = median(samples[100]) * 1e6, median(samples[1000]) * 1e6
    ratio = large / small
    rows = [Row("6 hostile input", "glob list of 100 patterns, per value", small, "us"),
            Row("6 hostile input", "glob list of 1,000 patterns, per value", large, "us"),
            Row("6 hostile input", "1,000 glob patterns vs 100: time per value", ratio, "x",
                f"<= {GLOB_RATIO_LIMIT:g}x", ratio <= GLOB_RATIO_LIMIT,
                note="RE2's DFA kept" if ratio <= GLOB_RATIO_LIMIT else "RE2 fell back to its NFA")]
    return rows, {"glob_us": {"100": small, "1000": large}}


def run(settings: Settings, quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    regex_rows, regex = _load_rows("regex bomb: 618 \\pL{300} patterns", regex_bomb(60 if quick else 618))
    hint_rows, hint = _load_rows("hint bomb: 15,000 lists, 5,000 misspelt references",
                                 hint_bomb(1_500 if quick else 15_000, 500 if quick else 5_000))
    glob_rows, globs = _glob_rows(settings, quick)
    return regex_rows + hint_rows + glob_rows, {"regex_bomb": regex, "hint_bomb": hint, **globs}
