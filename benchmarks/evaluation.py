"""Benchmarks 1 and 2: the realistic policy against hand-written code, the naive design and rule-engine."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from engine import load_policy
from engine.mail.addresses import parse_addresses

from . import handwritten
from .events import EventSet
from .naive import field_getters, load_naive
from .report import Row
from .ruleengine import RuleEnginePolicy, rule_engine
from .timing import Settings, median, per_item, ratio

POLICY = Path(__file__).resolve().parent / "policies" / "realistic.yaml"
Decider = Callable[[dict], tuple[str, str | None, list[str]]]
# The named fields the realistic policy reads (header.* tests use the record's header index, not paths).
POLICY_FIELDS = ("virus", "spam", "dmarc", "dmarc_policy", "spf", "dkim", "sender", "from", "reply_to",
                 "subject", "recipients")


def _engine_decider(policy) -> Decider:
    def decide(event: dict) -> tuple[str, str | None, list[str]]:
        decision = policy.evaluate(event)
        return decision.disposition, decision.rule, decision.shadow
    return decide


def check_agreement(deciders: dict[str, Decider], events: EventSet) -> dict[str, int]:
    """Raise unless every decider makes the reference's decision on every event; count decisions by rule."""
    (reference_name, reference), *others = deciders.items()
    counts: dict[str, int] = {}
    for label, event in zip(events.labels, events.events, strict=True):
        expected = reference(event)
        for name, decide in others:
            got = decide(event)
            if got != expected:
                raise RuntimeError(f"{name} decides {got} but {reference_name} {expected} on {label}")
        key = f"{expected[0]} {expected[1] or '(default)'}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def run(settings: Settings, events: EventSet) -> tuple[list[Row], dict[str, Any]]:
    policy = load_policy(POLICY)
    deciders: dict[str, Decider] = {
        "engine": _engine_decider(policy),
        "hand-written": handwritten.decide,
        "naive (find() per path)": _engine_decider(load_naive(POLICY)),
    }
    if rule_engine is not None:
        deciders["rule-engine"] = RuleEnginePolicy().decide
    decisions = check_agreement(deciders, events)

    # Time policy.evaluate itself (the handler's call), not the tuple-building wrapper.
    contenders: dict[str, Callable[[Any], Any]] = dict(deciders)
    contenders["engine"] = policy.evaluate
    samples = per_item(contenders, events.events, settings)
    us = {name: median(s) * 1e6 for name, s in samples.items()}
    n = len(events.events)
    vs_hand = ratio(samples["engine"], samples["hand-written"])
    vs_naive = ratio(samples["naive (find() per path)"], samples["engine"])
    rows = [
        Row("1 evaluation", f"engine, 20-rule policy ({n} events)", us["engine"], "µs/event"),
        Row("1 evaluation", "hand-written, same decisions", us["hand-written"], "µs/event"),
        Row("1 evaluation", "engine / hand-written", vs_hand, "x", "<= 3x", vs_hand <= 3),
        *_parsing_alone(settings, events),
        Row("2 naive design", "jsonpath_ng find() per path", us["naive (find() per path)"], "µs/event"),
        Row("2 naive design", "naive / engine (engine speed-up)", vs_naive, "x", ">= 20x", vs_naive >= 20),
        Row("2 naive design", "naive / hand-written (the ceiling)", ratio(samples["naive (find() per path)"],
                                                                        samples["hand-written"]), "x",
            note="no design that parses alike can beat hand-written code"),
    ]
    if rule_engine is None:
        rows.append(Row("2 naive design", "rule-engine", None, "", note="not installed (pip install rule-engine)"))
    else:
        vs_rule = ratio(samples["rule-engine"], samples["engine"])
        rows += [Row("2 naive design", f"rule-engine {rule_engine.__version__}, same rules", us["rule-engine"],
                     "µs/event"),
                 Row("2 naive design", "rule-engine / engine", vs_rule, "x")]
    rows += _lookups_alone(settings, events)
    details = {"events": n, "missing_sources": events.missing, "decisions": decisions,
               "us_per_event": us, "samples_s": samples}
    return rows, details


def _lookups_alone(settings: Settings, events: EventSet) -> list[Row]:
    """The part of the naive design the engine replaces: every JSONPath lookup of the policy, alone."""
    direct, found = field_getters(POLICY_FIELDS)
    records = _ses_objects(events)
    samples = per_item({"direct": lambda ses: [get(ses) for get in direct],
                        "find": lambda ses: [get(ses) for get in found]}, records, settings)
    speedup = ratio(samples["find"], samples["direct"])
    label = f"{len(direct)} JSONPath lookups"
    return [Row("2 naive design", f"{label}: generated getters", median(samples["direct"]) * 1e6, "µs/event"),
            Row("2 naive design", f"{label}: find()", median(samples["find"]) * 1e6, "µs/event"),
            Row("2 naive design", f"{label}: find() / generated getters", speedup, "x",
                note="the lookups alone, without what both designs share")]


def _parsing_alone(settings: Settings, events: EventSet) -> list[Row]:
    """What both sides pay: one parse of every address string the policy reads (the engine's parser)."""
    direct, _ = field_getters(("sender", "from", "reply_to", "recipients"))
    strings = [[v for get in direct for v in get(ses) if isinstance(v, str)] for ses in _ses_objects(events)]
    samples = per_item({"parse": lambda values: [parse_addresses(v) for v in values]}, strings, settings)
    return [Row("1 evaluation", "of which address parsing alone (both sides)", median(samples["parse"]) * 1e6,
                "µs/event", note="sender, from, reply-to, recipients: one parse per string")]


def _ses_objects(events: EventSet) -> list[dict]:
    """The `ses` object of each event's first record, where it has one (paths are evaluated on it)."""
    out = []
    for event in events.events:
        records = event.get("Records")
        record = records[0] if isinstance(records, list) and records else None
        if isinstance(record, dict) and isinstance(record.get("ses"), dict):
            out.append(record["ses"])
    return out
