"""Benchmark 3: per-event cost does not grow with a list's length (lookups and automata, not scans).

One-rule policies whose list is a `{file: ...}` list, small and large, evaluated over
distinct events: `in` (a set lookup), `in_domain` (a set lookup per label), `contains`
and `starts_with` (one automaton over the text, whatever the number of strings) and
`glob` (one RE2 program for the whole list).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from engine import load_policy

from .distinct import Batches
from .events import EventSet
from .report import Row
from .timing import Settings, median, per_batch, ratio

TARGET = 1.2


def _word(i: int) -> str:
    return f"zq{i:05d}xk"          # a word no subject holds


# (operator, field, list sizes from the smallest to the largest, entry maker); RE2 programs are
# also measured at 100 entries, where RE2 used to leave its DFA for its NFA.
CASES: tuple[tuple[str, str, tuple[int, ...], Callable[[int], str]], ...] = (
    ("in", "sender", (10, 200_000), lambda i: f"user{i}@list{i % 997}.example"),
    ("in_domain", "from.domain", (10, 100_000), lambda i: f"d{i}.blocked{i % 991}.example"),
    ("contains", "subject", (10, 100, 1_000), _word),
    ("starts_with", "subject", (10, 1_000), _word),
    ("glob", "from.address", (10, 100, 1_000), lambda i: f"*@*.{_word(i)}.example"),
)
QUICK_SIZES = (10, 100)


def _policy(folder: Path, operator: str, field: str, entries: list[str]) -> Path:
    """A one-rule policy whose list comes from a file, as large lists do."""
    (folder / "entries.txt").write_text("\n".join(entries) + "\n")
    path = folder / "policy.yaml"
    path.write_text(f"version: 1\nlists:\n  big: {{file: entries.txt}}\nrules:\n"
                    f"  - name: listed\n    when: {{{field}: {{{operator}: {{list: big}}}}}}\n"
                    f"    disposition: STOP_RULE_SET\n")
    return path


def run(settings: Settings, events: EventSet, quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    rows, details = [], {}
    batches = Batches(events.events, settings.copies)
    for operator, field, sizes, make in CASES:
        sizes = QUICK_SIZES if quick else sizes
        small, large = sizes[0], sizes[-1]
        policies, load_s = {}, {}
        for size in sizes:
            with tempfile.TemporaryDirectory() as folder:
                path = _policy(Path(folder), operator, field, [make(i) for i in range(size)])
                start = time.perf_counter()
                policies[size] = load_policy(path)
                load_s[size] = time.perf_counter() - start
        samples = per_batch({f"{n:,}": p.evaluate for n, p in policies.items()}, iter(batches), settings)
        small_s, large_s = samples[f"{small:,}"], samples[f"{large:,}"]
        growth = ratio(large_s, small_s)
        label = f"`{operator}` on {field}"
        rows += [Row("3 list scaling", f"{label}, {n:,} entries", median(samples[f"{n:,}"]) * 1e6, "µs/event")
                 for n in sizes]
        rows += [Row("3 list scaling", f"{label}: {large:,} / {small:,}", growth, "x", f"<= {TARGET:g}x",
                     growth <= TARGET, note="independent of the list" if growth <= TARGET
                     else f"grows with the list: {growth:.1f}x for {large // small:,}x the entries"),
                 Row("3 list scaling", f"{label}: loading the {large:,}-entry list file", load_s[large] * 1e3, "ms",
                     note="once, at load time")]
        details[operator] = {"sizes": list(sizes), "samples_s": samples, "load_s": load_s}
    return rows, details
