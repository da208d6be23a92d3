"""Benchmark 6: attacker-chosen input costs time linear in its size, and little of it.

`(a+)+$` on `aaa...a!` is the textbook catastrophic case for a backtracking
engine (Python's `re` doubles its time with each `a`: about a minute at 30
characters); RE2 is linear. 8 KB of `"` in a From header is the input on which
the stdlib address parser is quadratic (0.75 s); the engine sends it
to its linear fallback. Each is timed at 1/4, 1/2 and 1 of the full size to show the growth.
"""
from __future__ import annotations

import re
import time
from email.headerregistry import HeaderRegistry
from typing import Any, Callable

from engine import load_policy_text

from . import hostile_addresses, hostile_loading
from .report import Row, growth_note
from .timing import Settings, median, per_item, ratio

LIMIT_MS = 50.0
GROWTH_SLACK = 1.25      # timer noise on sub-millisecond samples
BACKTRACK_CHARS = 22     # Python `re` doubles its time per extra `a`
SUBJECT_BYTES = 1024 * 1024
FROM_BYTES = 8 * 1024
REGEX_POLICY = """version: 1
rules:
  - name: backtracker
    when: {subject: {matches: '(a+)+$'}}
    disposition: STOP_RULE_SET
"""
FROM_POLICY = """version: 1
rules:
  - name: blocked
    when: {from: [boss@company.example, ceo@company.example]}
    disposition: STOP_RULE_SET
  - name: partner
    when: {from.domain: {in_domain: partner.example}}
    disposition: CONTINUE
  - name: spoof
    when: {from.name_address: {exists: true, not_same_as: from.address}}
    disposition: STOP_RULE_SET
  - name: display
    when: {from.display_name: {contains: boss}}
    disposition: STOP_RULE
"""


def _event(subject: str, sender: str) -> dict:
    mail = {"source": "a@b.example", "messageId": "bench", "headers": [],
            "commonHeaders": {"from": [sender], "subject": subject}}
    receipt = {"recipients": ["c@d.example"], "spfVerdict": {"status": "PASS"}}
    return {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0",
                         "ses": {"mail": mail, "receipt": receipt}}]}


def _series(name: str, policy_text: str, make_event, full: int, settings: Settings,
            expected: str, copy: Callable[[int], Callable[[], Any]] | None = None) -> tuple[list[Row], dict[str, Any]]:
    """Time one decision at 1/4, 1/2 and all of `full`, the sizes interleaved in every round (the
    growth is a median of per-round ratios); check the decision is the expected one.

    `copy(size)`: the least any reader of that much input does (one copy of it), timed in the same
    rounds. Where that is most of the time, the growth is the memory's as much as the code's (a
    megabyte leaves the CPU cache that a quarter of it fits in), so the growth is judged against
    the copy's own."""
    policy = load_policy_text(policy_text)
    sizes = [full // 4, full // 2, full]
    events = {size: make_event(size) for size in sizes}
    for size, event in events.items():
        decision = policy.evaluate(event)
        if decision.disposition != expected or decision.errors:
            raise RuntimeError(f"{name}: expected {expected}, got {decision.to_dict()}")
    contenders: dict[str, Callable[[Any], Any]] = {
        str(size): lambda _, e=event: policy.evaluate(e) for size, event in events.items()}
    if copy is not None:
        contenders.update({f"copy {size}": (lambda c: lambda _: c())(copy(size)) for size in (sizes[0], full)})
    samples = per_item(contenders, [None], settings)
    ms = [median(samples[str(size)]) * 1e3 for size in sizes]
    growth = ratio(samples[str(full)], samples[str(sizes[0])])
    rows = [Row("6 hostile input", f"{name}, {size:,} bytes", value, "ms",
                f"< {LIMIT_MS:g} ms" if size == full else "", value < LIMIT_MS if size == full else None)
            for size, value in zip(sizes, ms)]
    if copy is None:
        rows.append(Row("6 hostile input", f"{name}: time for 4x the input", growth, "x",
                        "<= 4x (linear)", growth <= 4 * GROWTH_SLACK, note=growth_note(growth, 4, GROWTH_SLACK)))
        return rows, {"sizes": sizes, "ms": ms}
    copied = ratio(samples[f"copy {full}"], samples[f"copy {sizes[0]}"])
    against = growth / copied
    rows += [Row("6 hostile input", f"{name}: time for 4x the input", growth, "x",
                 note=f"copying the subject once: {copied:.1f}x (the CPU cache)"),
             Row("6 hostile input", f"{name}: that growth / copying's growth", against, "x",
                 f"<= {GROWTH_SLACK:g}x (linear)", against <= GROWTH_SLACK,
                 note="linear" if against <= GROWTH_SLACK else "grows faster than reading the input")]
    return rows, {"sizes": sizes, "ms": ms, "copy_growth": copied}


def run(settings: Settings, quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    regex_rows, regex = _series(
        "matches (a+)+$ on a subject of a...a!", REGEX_POLICY,
        lambda n: _event("a" * (n - 1) + "!", "x@y.example"), SUBJECT_BYTES, settings, "CONTINUE",
        copy=lambda n: ("a" * (n - 1) + "!").encode)     # RE2 reads UTF-8: the subject is encoded once
    from_rows, quotes = _series(
        'from tests on a From of " characters', FROM_POLICY,
        lambda n: _event("hello", '"' * n), FROM_BYTES, settings, "CONTINUE")
    padded_rows, padded = _series(
        'the same, "..." then <boss@company.example>', FROM_POLICY,
        lambda n: _event("hello", '"' * (n - 24) + " <boss@company.example>"), FROM_BYTES, settings,
        "STOP_RULE_SET")
    chars, quotes_bytes = (12, 512) if quick else (BACKTRACK_CHARS, FROM_BYTES)
    contrast = _contrast(chars, quotes_bytes)
    rows = regex_rows + from_rows + padded_rows + [
        Row("6 hostile input", f"for contrast: Python re, (a+)+$ on {chars} a's and !",
            contrast["re_ms"], "ms", note="backtracking; doubles per extra character"),
        Row("6 hostile input", f'for contrast: email.headerregistry on {quotes_bytes:,} bytes of "',
            contrast["stdlib_ms"], "ms", note="why the engine uses a linear fallback")]
    address_rows, address_details = hostile_addresses.run(quick)
    loading_rows, loading = hostile_loading.run(settings, quick)
    return rows + address_rows + loading_rows, {"regex": regex, "from_quotes": quotes, "from_padded": padded,
                                                "contrast": contrast, "addresses": address_details,
                                                "loading": loading}


def _contrast(chars: int, quotes_bytes: int) -> dict[str, float]:
    """What the engine avoids, timed once each: a backtracking regex and the quadratic stdlib parser."""
    pattern, subject = re.compile(r"(a+)+$"), "a" * chars + "!"
    start = time.perf_counter()
    pattern.search(subject)
    re_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    HeaderRegistry()("from", '"' * quotes_bytes)
    stdlib_ms = (time.perf_counter() - start) * 1e3
    return {"re_ms": re_ms, "stdlib_ms": stdlib_ms}
