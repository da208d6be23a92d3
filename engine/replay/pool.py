"""Concurrent work, results in input order, as soon as the head of the line is done.

At most ``window`` items are in flight ahead of the one being handed back, so memory stays
bounded however long the input, and an item far ahead is not fetched before its time (an
object deleted while a run goes on is found missing when its turn comes).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
WINDOW_PER_JOB = 4


def ordered_map(fn: Callable[[T], R], items: Iterable[T], jobs: int) -> Iterator[R]:
    """``fn`` over ``items`` on ``jobs`` threads; results in input order while the rest go on."""
    if jobs <= 1:
        yield from map(fn, items)
        return
    window = jobs * WINDOW_PER_JOB
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ses-rules")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
