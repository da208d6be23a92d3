"""Benchmark 4: how load+compile time and per-event time grow with the number of rules.

The generated rules cycle through the kinds the realistic policy uses (verdicts,
address lists, in_domain, subject contains / regex, headers, negations, a
cross-field test) with literals no event has, so every event is tried against
every rule: the worst case for evaluation.
"""
from __future__ import annotations

import math
from typing import Any

from engine import load_policy_text

from .distinct import Batches
from .events import EventSet
from .report import Row
from .timing import Settings, median, once, per_batch, ratio

SIZES = (10, 100, 1_000)
QUICK_SIZES = (10, 20, 40)
LOAD_TARGET_S = 1.0

KINDS = (
    "{{all: [{{spf: FAIL}}, {{dkim: GRAY}}]}}",
    "{{sender: [nobody{i}@nomatch.example, other{i}@nomatch.example]}}",
    "{{from.domain: {{in_domain: [nomatch{i}.example, x{i}.invalid]}}}}",
    "{{subject: {{contains: [zz-no-match-{i}, qq-{i}-never]}}}}",
    "{{subject: {{matches: 'no-match-{i}-[0-9]+x'}}}}",
    "{{header.X-Bench-{i}: {{exists: true}}}}",
    "{{all: [{{reply_to.domain: {{in: [r{i}.example]}}}}, {{to: {{not_equals: a{i}@nomatch.example}}}}]}}",
    "{{from.name_address: {{same_as: to.address}}, subject: {{starts_with: never-{i}}}}}",
)


def policy_text(rules: int) -> str:
    lines = ["version: 1", f"name: size-{rules}", "default: CONTINUE", "rules:"]
    for i in range(rules):
        lines += [f"  - name: rule-{i}", f"    when: {KINDS[i % len(KINDS)].format(i=i)}",
                  "    disposition: STOP_RULE_SET"]
    return "\n".join(lines) + "\n"


def _exponent(sizes: tuple[int, ...], values: list[float]) -> float:
    """Growth exponent k in value ~ size**k, between the two largest sizes."""
    return math.log(values[-1] / values[-2]) / math.log(sizes[-1] / sizes[-2])


def _exponent_note(k: float) -> str:
    """What a growth exponent says (1.1 allows for noise), read from the figure."""
    return "above linear" if k > 1.1 else "linear" if k > 0.9 else "below linear: fixed costs still count"


def run(settings: Settings, events: EventSet, quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    sizes = QUICK_SIZES if quick else SIZES
    texts = {n: policy_text(n) for n in sizes}
    load_s, policies = {}, {}
    batches = Batches(events.events, settings.copies)
    checked = events.events + batches.next()
    for n in sizes:
        load_s[n], policies[n] = once(lambda text=texts[n]: load_policy_text(text), settings)
        if any(policies[n].evaluate(e).rule is not None for e in checked):
            raise RuntimeError(f"a generated {n}-rule policy matched an event; the benchmark needs no match")
    samples = per_batch({str(n): policies[n].evaluate for n in sizes}, iter(batches), settings)
    eval_us = [median(samples[str(n)]) * 1e6 for n in sizes]
    load_k = _exponent(sizes, [load_s[n] for n in sizes])
    eval_k = math.log(ratio(samples[str(sizes[-1])], samples[str(sizes[-2])])) / math.log(sizes[-1] / sizes[-2])
    largest = sizes[-1]
    rows = [Row("4 policy size", f"load+compile, {n:,} rules", load_s[n] * 1e3, "ms",
                *((f"< {LOAD_TARGET_S * 1e3:g} ms", load_s[n] < LOAD_TARGET_S) if n == largest else ()))
            for n in sizes]
    rows.append(Row("4 policy size", f"load growth exponent ({sizes[-2]:,} -> {largest:,})", load_k, "",
                    note=_exponent_note(load_k) + "; one load per round, so noisier"))
    rows += [Row("4 policy size", f"evaluate, {n:,} rules, no match", us, "µs/event") for n, us in zip(sizes, eval_us)]
    rows.append(Row("4 policy size", f"evaluate growth exponent ({sizes[-2]:,} -> {largest:,})", eval_k, "",
                    "<= 1 (linear)", eval_k <= 1.1, note=_exponent_note(eval_k) + "; per-round ratio"))
    details = {"sizes": sizes, "load_s": load_s, "eval_us": dict(zip(sizes, eval_us)),
               "load_exponent": load_k, "eval_exponent": eval_k}
    return rows, details
