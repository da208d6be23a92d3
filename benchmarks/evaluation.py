"""Benchmarks 1 and 2: the engine against hand-written code, the naive design and rule-engine.

Every figure is taken on distinct events (`benchmarks.distinct`): each timed pass
goes over copies of the events with addresses no earlier pass saw.

1. The operator policy (9 rules) against the simple function an operator writes
   (`benchmarks/simple.py`): the main figure.
2. The realistic policy (20 rules) against a careful function that parses addresses
   with the engine's parser (`benchmarks/handwritten.py`), the naive design
   (`find()` per path) and rule-engine.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

from engine import load_policy
from engine.mail.addresses import parse_addresses

from . import handwritten
from .distinct import Batches, blocked_senders
from .events import EventSet
from .naive import field_getters, load_naive
from .report import Row
from .ruleengine import RuleEnginePolicy, rule_engine
from .simple import SimpleFilter
from .timing import Settings, median, per_batch, ratio

POLICIES = Path(__file__).resolve().parent / "policies"
OPERATOR = POLICIES / "operator.yaml"
REALISTIC = POLICIES / "realistic.yaml"
TARGET, GOAL = 3.0, 2.0       # engine / simple hand-written (issue 15)
Decider = Callable[[Any], tuple[str, str | None, list[str]]]
# The named fields the realistic policy reads (header.* tests use the record's header index, not paths).
POLICY_FIELDS = ("virus", "spam", "dmarc", "dmarc_policy", "spf", "dkim", "sender", "from", "reply_to",
                 "subject", "recipients")


@contextlib.contextmanager
def operator_policy() -> Iterator[Path]:
    """The operator policy in a folder of its own, beside the blocked-sender list it reads."""
    with tempfile.TemporaryDirectory(prefix="ses-rules-bench-") as folder:
        path = Path(folder) / OPERATOR.name
        shutil.copyfile(OPERATOR, path)
        (path.parent / "blocked-senders.txt").write_text("\n".join(blocked_senders()) + "\n")
        yield path


def engine_decider(policy) -> Decider:
    def decide(event: Any) -> tuple[str, str | None, list[str]]:
        decision = policy.evaluate(event)
        return decision.disposition, decision.rule, decision.shadow
    return decide


def check_agreement(deciders: dict[str, Decider], events: list[Any], labels: list[str]) -> dict[str, int]:
    """Raise unless every decider makes the reference's decision on every event; count decisions by rule."""
    (reference_name, reference), *others = deciders.items()
    counts: dict[str, int] = {}
    for label, event in zip(labels, events, strict=True):
        expected = reference(event)
        for name, decide in others:
            got = decide(event)
            if got != expected:
                raise RuntimeError(f"{name} decides {got} but {reference_name} {expected} on {label}")
        key = f"{expected[0]} {expected[1] or '(default)'}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _agreed(deciders: dict[str, Decider], events: EventSet, batches: Batches) -> dict[str, int]:
    """Agreement on the events as they are and on one batch of distinct copies."""
    check_agreement(deciders, events.events, events.labels)
    labels = [f"{label} (copy {n})" for n in range(batches.copies) for label in events.labels]
    return check_agreement(deciders, batches.next(), labels)


def run(settings: Settings, events: EventSet) -> tuple[list[Row], dict[str, Any]]:
    rows, details = _operator(settings, events)
    more_rows, more = _realistic(settings, events)
    details.update(more)
    return rows + more_rows, details


def _operator(settings: Settings, events: EventSet) -> tuple[list[Row], dict[str, Any]]:
    """The main figure: the operator policy against the simple hand-written function."""
    with operator_policy() as path:
        policy = load_policy(path)
        simple = SimpleFilter(path.parent / "blocked-senders.txt")
    batches = Batches(events.events, settings.copies)
    decisions = _agreed({"engine": engine_decider(policy), "simple": simple.decide}, events, batches)
    # The main figure, and short samples: three times the rounds, so one noisy round moves no median.
    samples = per_batch({"engine": policy.evaluate, "simple": simple.decide}, iter(batches), settings.more(3))
    vs = ratio(samples["engine"], samples["simple"])
    rules = len(policy.rules)
    rows = [
        Row("1 evaluation", f"engine, operator policy ({rules} rules)", median(samples["engine"]) * 1e6, "µs/event"),
        Row("1 evaluation", "simple hand-written (lookups, .lower(), <...> regex, endswith)",
            median(samples["simple"]) * 1e6, "µs/event"),
        Row("1 evaluation", "engine / simple hand-written", vs, "x", f"<= {TARGET:g}x", vs <= TARGET,
            note=f"goal {GOAL:g}x {'met' if vs <= GOAL else 'not met'}"),
    ]
    details = {"operator": {"events_per_sample": batches.size, "decisions": decisions, "samples_s": samples}}
    return rows, details


def _realistic(settings: Settings, events: EventSet) -> tuple[list[Row], dict[str, Any]]:
    """The 20-rule policy against the careful function, the naive design and rule-engine."""
    policy = load_policy(REALISTIC)
    deciders: dict[str, Decider] = {
        "engine": engine_decider(policy),
        "hand-written": handwritten.decide,
        "naive (find() per path)": engine_decider(load_naive(REALISTIC)),
    }
    if rule_engine is not None:
        deciders["rule-engine"] = RuleEnginePolicy().decide
    batches = Batches(events.events, settings.copies)
    decisions = _agreed(deciders, events, batches)
    # Time policy.evaluate itself (the handler's call), not the tuple-building wrapper.
    contenders: dict[str, Callable[[Any], Any]] = dict(deciders)
    contenders["engine"] = policy.evaluate
    samples = per_batch(contenders, iter(batches), settings)
    us = {name: median(s) * 1e6 for name, s in samples.items()}
    vs_hand = ratio(samples["engine"], samples["hand-written"])
    vs_naive = ratio(samples["naive (find() per path)"], samples["engine"])
    rows = [
        Row("1 evaluation", f"engine, realistic policy ({len(policy.rules)} rules)", us["engine"], "µs/event"),
        Row("1 evaluation", "careful hand-written (the engine's address parser)", us["hand-written"], "µs/event"),
        Row("1 evaluation", "engine / careful hand-written", vs_hand, "x", f"<= {TARGET:g}x", vs_hand <= TARGET),
        *_parsing_alone(settings, batches),
        Row("2 naive design", "jsonpath_ng find() per path", us["naive (find() per path)"], "µs/event"),
        Row("2 naive design", "naive / engine (engine speed-up)", vs_naive, "x",
            note=_naive_note(us["naive (find() per path)"], us["engine"])),
        Row("2 naive design", "naive / careful hand-written (the ceiling)",
            ratio(samples["naive (find() per path)"], samples["hand-written"]), "x",
            note="no design that parses alike can beat hand-written code"),
    ]
    if rule_engine is None:
        rows.append(Row("2 naive design", "rule-engine", None, "", note="not installed (pip install rule-engine)"))
    else:
        vs_rule = ratio(samples["rule-engine"], samples["engine"])
        rows += [Row("2 naive design", f"rule-engine {rule_engine.__version__}, same rules", us["rule-engine"],
                     "µs/event"),
                 Row("2 naive design", "rule-engine / engine", vs_rule, "x")]
    rows += _lookups_alone(settings, batches)
    details = {"events_per_sample": batches.size, "missing_sources": events.missing, "decisions": decisions,
               "us_per_event": us, "samples_s": samples}
    return rows, details


def _naive_note(naive_us: float, engine_us: float) -> str:
    """Why the naive design is only so much slower, from the figures: everything but the lookups is
    the engine's own, so what find() adds is naive - engine, and a speed-up of 20x (an earlier
    round's target) would need the whole evaluation under a nineteenth of that."""
    added = naive_us - engine_us
    if added <= 0:
        return "find() adds nothing measurable here"
    return f"find() adds {added:.0f} µs/event; 20x would need the whole evaluation under {added / 19:.1f} µs"


def _lookups_alone(settings: Settings, batches: Batches) -> list[Row]:
    """The part of the naive design the engine replaces: every JSONPath lookup of the policy, alone."""
    direct, found = field_getters(POLICY_FIELDS)
    samples = per_batch({"direct": lambda ses: [get(ses) for get in direct],
                         "find": lambda ses: [get(ses) for get in found]},
                        (_ses_objects(b) for b in batches), settings)
    speedup = ratio(samples["find"], samples["direct"])
    label = f"{len(direct)} JSONPath lookups"
    return [Row("2 naive design", f"{label}: generated getters", median(samples["direct"]) * 1e6, "µs/event"),
            Row("2 naive design", f"{label}: find()", median(samples["find"]) * 1e6, "µs/event"),
            Row("2 naive design", f"{label}: find() / generated getters", speedup, "x",
                note="the lookups alone, without what both designs share")]


def _parsing_alone(settings: Settings, batches: Batches) -> list[Row]:
    """What both sides pay: one parse of every address string the policy reads (the engine's parser)."""
    direct, _ = field_getters(("sender", "from", "reply_to", "recipients"))

    def strings(batch: list[dict]) -> list[list[str]]:
        return [[v for get in direct for v in get(ses) if isinstance(v, str)] for ses in _ses_objects(batch)]

    samples = per_batch({"parse": lambda values: [parse_addresses(v) for v in values]},
                        (strings(b) for b in batches), settings)
    return [Row("1 evaluation", "of which address parsing alone (both sides)", median(samples["parse"]) * 1e6,
                "µs/event", note="sender, from, reply-to, recipients: one parse per string")]


def _ses_objects(events: list[dict]) -> list[dict]:
    """The `ses` object of each event's first record, where it has one (paths are evaluated on it)."""
    out = []
    for event in events:
        records = event.get("Records")
        record = records[0] if isinstance(records, list) and records else None
        if isinstance(record, dict) and isinstance(record.get("ses"), dict):
            out.append(record["ses"])
    return out
