"""Benchmark 10: how per-event cost grows with the record (headers, recipients, header length).

Evaluation must be linear in the record's size (docs/performance.md, "Scaling"). Each series
times one policy on generated events at a small and a large size, every sample on distinct events
(the size's addresses numbered per copy); the growth is the per-round ratio of the
two, against the ratio of the sizes (linear), and the per-item cost shows what one
more header, recipient or mailbox costs.

* headers: an event with N `X-Filler-k` headers besides its own, a policy testing
  two header names (the header index is built once per record);
* recipients: N envelope recipients `user<k>@corp.example`; past 16 KB of address text
  in a record (its budget, docs/policy-language.md) parsing takes the linear routes;
* header length: one From header of N mailboxes `"Name k" <user.k@example.com>`;
  past 1,000 characters a string skips the reference parser;
* linear fallback: the same with a comment in each mailbox (`"Name k" (team k) <...>`), a
  form the fast path declines: past 1,000 characters the linear fallback reads it.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

from engine import load_policy_text

from .report import Row, growth_note
from .timing import Settings, median, per_batch, ratio

HEADERS_POLICY = """version: 1
rules:
  - name: spam-flag
    when: {header.X-Spam-Flag: YES}
    disposition: STOP_RULE_SET
  - name: bulk
    mode: shadow
    when: {header.Precedence: [bulk, list, junk]}
    disposition: STOP_RULE
"""
RECIPIENTS_POLICY = """version: 1
rules:
  - name: mass-mail
    when: {recipients: {count: {gt: 100000}}}
    disposition: STOP_RULE
  - name: not-for-us
    when: {recipients.domain: {not_in_domain: [corp.example]}}
    disposition: STOP_RULE
"""
FROM_POLICY = """version: 1
rules:
  - name: blocked
    when: {from: [boss@company.example, ceo@company.example]}
    disposition: STOP_RULE_SET
  - name: spoof
    when: {from.name_address: {exists: true, not_same_as: from.address}}
    disposition: STOP_RULE_SET
"""


def _event(n: int, *, headers: list[dict] | None = None, recipients: list[str] | None = None,
           from_: str | None = None) -> dict:
    mail = {"source": f"sender-{n}@partner.example", "messageId": f"scaling-{n}",
            "headers": [{"name": "From", "value": from_ or f"s-{n}@partner.example"},
                        {"name": "Subject", "value": "hello"}, *(headers or [])],
            "commonHeaders": {"from": [from_ or f"s-{n}@partner.example"], "subject": "hello"}}
    receipt = {"recipients": recipients or [f"support-{n}@corp.example"], "spfVerdict": {"status": "PASS"}}
    return {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {"mail": mail, "receipt": receipt}}]}


def _headers(size: int, n: int) -> dict:
    return _event(n, headers=[{"name": f"X-Filler-{k}", "value": f"value {k} of copy {n}"} for k in range(size)])


def _recipients(size: int, n: int) -> dict:
    return _event(n, recipients=[f"user{k}-{n}@corp.example" for k in range(size)])


def _from(size: int, n: int) -> dict:
    return _event(n, from_=", ".join(f'"Name {k}" <user.{k}-{n}@example.com>' for k in range(size)))


def _from_commented(size: int, n: int) -> dict:
    return _event(n, from_=", ".join(f'"Name {k}" (team {k}) <user.{k}-{n}@example.com>' for k in range(size)))


@dataclass(frozen=True)
class Series:
    label: str             # what grows
    unit: str              # one of it
    units: str             # several
    policy: str
    make: Callable[[int, int], dict]     # (size, copy number) -> event
    sizes: tuple[int, int]
    quick_sizes: tuple[int, int]
    describe: Callable[[int], str] = str


SERIES = (
    Series("headers", "header", "headers", HEADERS_POLICY, _headers, (20, 2_000), (5, 50), lambda n: f"{n:,} headers"),
    Series("recipients", "recipient", "recipients", RECIPIENTS_POLICY, _recipients, (100, 1_000), (5, 50),
           lambda n: f"{n:,} recipients ({n * 22 / 1024:,.1f} KB)"),
    Series("header length", "mailbox", "mailboxes", FROM_POLICY, _from, (12, 120), (2, 20),
           lambda n: f"a From of {n:,} mailboxes ({n * 38 / 1000:,.1f} KB)"),
    Series("linear fallback", "mailbox", "mailboxes", FROM_POLICY, _from_commented, (30, 300), (30, 60),
           lambda n: f"a From of {n:,} mailboxes with comments ({n * 44 / 1000:,.1f} KB)"),
)


def _batches(make: Callable[[int, int], dict], size: int, count: int) -> Iterator[list[dict]]:
    n = 0
    while True:
        yield [make(size, k) for k in range(n, n + count)]
        n += count


def _alternating(first: Iterator[list[dict]], second: Iterator[list[dict]]) -> Iterator[list[dict]]:
    while True:
        yield next(first)
        yield next(second)


def run(settings: Settings, quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    details: dict[str, Any] = {}
    for series in SERIES:
        small, large = series.quick_sizes if quick else series.sizes
        policy = load_policy_text(series.policy)
        count = max(20, 40_000 // large) if not quick else 2
        # Both sizes in every round (the growth is a median of per-round ratios, as everywhere):
        # per_batch hands each contender of a round the next batch, so the batches alternate.
        timed = per_batch({"small": policy.evaluate, "large": policy.evaluate},
                          _alternating(_batches(series.make, small, count), _batches(series.make, large, count)),
                          settings)
        samples = {small: timed["small"], large: timed["large"]}
        growth = ratio(samples[large], samples[small])
        inputs = large / small
        per_item = {size: median(samples[size]) * 1e6 / size for size in (small, large)}
        rows += [Row("10 record size", f"{series.describe(size)}", median(samples[size]) * 1e6, "µs/event",
                     note=f"{per_item[size]:.3g} µs per {series.unit}") for size in (small, large)]
        rows.append(Row("10 record size", f"{series.label}: time for {inputs:g}x the {series.units}", growth, "x",
                        f"<= {inputs:g}x (linear)", growth <= inputs * 1.25, note=growth_note(growth, inputs)))
        details[series.label] = {"sizes": [small, large], "samples_s": samples}
    return rows, details
