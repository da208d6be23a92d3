"""Measurement: comparisons are interleaved in one process and reduced to medians.

A noisy machine slows every contender of a round alike, so a ratio is taken
per round (A and B timed back to back) and the median of those ratios is
reported; absolute figures are medians too. In-process samples count this
process's CPU time (`time.process_time`), not wall time: on a machine shared
with other jobs, wall time also counts the time the scheduler gave them, which
moved single samples by 2x and more here.
"""
from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence


CLOCK = time.process_time     # this process's CPU time, in seconds (nanosecond resolution on Linux)


@dataclass(frozen=True)
class Settings:
    """How hard to measure: `quick` (one short round) is for the smoke test only."""

    repeats: int = 7            # rounds; medians are taken over these
    min_seconds: float = 0.05   # each sample runs at least this long (the loop count is calibrated)
    copies: int = 8             # distinct copies of each event per sample (per_batch)

    @classmethod
    def quick(cls) -> Settings:
        return cls(repeats=1, min_seconds=0.0, copies=1)

    def more(self, factor: int) -> Settings:
        """More rounds, for a figure whose samples are short and so noisier (issue 16 item 3)."""
        return Settings(self.repeats * factor if self.repeats > 1 else 1, self.min_seconds, self.copies)


def _run(fn: Callable[[Any], Any], items: Sequence[Any], loops: int, clock: Callable[[], float] = CLOCK) -> float:
    """Seconds per item for `loops` passes over `items`, with the GC kept out of the sample."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        for _ in range(loops):
            for item in items:
                fn(item)
        elapsed = clock() - start
    finally:
        if enabled:
            gc.enable()
    return elapsed / (loops * len(items))


def _loops(fn: Callable[[Any], Any], items: Sequence[Any], min_seconds: float) -> int:
    """Passes needed for one sample to last `min_seconds` (one warm-up pass included)."""
    per_pass = _run(fn, items, 1) * len(items)
    return max(1, int(min_seconds / per_pass) + 1) if per_pass > 0 else 1


def per_item(contenders: dict[str, Callable[[Any], Any]], items: Sequence[Any],
             settings: Settings, clock: Callable[[], float] = CLOCK) -> dict[str, list[float]]:
    """Per contender, seconds per item for each round; contenders alternate within a round.
    `clock=time.perf_counter` for a latency (time spent waiting on another process counts)."""
    loops = {name: _loops(fn, items, settings.min_seconds) for name, fn in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(settings.repeats):
        for name, fn in contenders.items():
            samples[name].append(_run(fn, items, loops[name], clock))
    return samples


def per_batch(contenders: dict[str, Callable[[Any], Any]], batches: Iterator[Sequence[Any]],
              settings: Settings) -> dict[str, list[float]]:
    """Per contender, seconds per item for each round, every sample on a batch no sample saw before.

    For distinct events (as in Lambda, where every invocation is new mail): each pass goes once over new items, so nothing a contender
    cached on an earlier pass (or another contender on this one) is found again. One unmeasured
    pass per contender first (imports, lazy compilation).
    """
    for fn in contenders.values():
        _run(fn, next(batches), 1)
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(settings.repeats):
        for name, fn in contenders.items():
            samples[name].append(_run(fn, next(batches), 1))
    return samples


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median of the per-round ratios."""
    return statistics.median(n / d for n, d in zip(numerator, denominator, strict=True))


def once(fn: Callable[[], Any], settings: Settings) -> tuple[float, Any]:
    """Median seconds of `fn()` over the rounds, and its last result (for operations too slow to loop)."""
    times, result = [], None
    for _ in range(settings.repeats):
        gc.collect()
        start = CLOCK()
        result = fn()
        times.append(CLOCK() - start)
    return statistics.median(times), result
