"""`make bench` works end to end: every benchmark runs (one quick round), the table and JSON come out.

Nothing here asserts a time: the figures of a quick round mean nothing. What is
asserted is what the benchmark relies on: the engine and every contender make
the same decisions on the whole corpus before anything is timed.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks import default_filter, evaluation, handwritten
from benchmarks.__main__ import NAMES, main
from benchmarks.distinct import Batches, copy_event
from benchmarks.events import load_events
from benchmarks.report import Row, growth_note, load_before, save_before, table
from benchmarks.simple import SimpleFilter
from engine import load_policy

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.corpus
@pytest.mark.usefixtures("ses_events_dir", "eml_dir")
def test_every_benchmark_runs_and_reports(tmp_path, capsys):
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "latest.json").read_text())
    benchmarks = {row["benchmark"].split()[0] for row in data["rows"]}
    assert benchmarks == set(NAMES)
    for row in data["rows"]:
        assert row["measure"] in out
        assert row["value"] is not None or row["note"], row
        if row["target"]:
            assert isinstance(row["met"], bool), row
    evaluated = data["details"]["1+2"]
    assert evaluated["missing_sources"] == []
    for decided in (evaluated, evaluated["operator"]):
        assert sum(decided["decisions"].values()) == decided["events_per_sample"] == len(load_events().events)
        assert len(decided["decisions"]) > 5          # the policy really decides, not one rule for all


@pytest.mark.corpus
@pytest.mark.usefixtures("ses_events_dir")
def test_disagreeing_contender_stops_the_benchmark():
    events = load_events()
    first = events.labels[0]

    def wrong(event: dict):
        disposition, rule, shadow = handwritten.decide(event)
        if event is events.events[0]:
            disposition = "STOP_RULE" if disposition == "CONTINUE" else "CONTINUE"
        return disposition, rule, shadow

    with pytest.raises(RuntimeError, match=first):
        evaluation.check_agreement({"hand-written": handwritten.decide, "wrong": wrong}, events.events, events.labels)


@pytest.mark.corpus
@pytest.mark.usefixtures("ses_events_dir", "eml_dir")
def test_simple_function_decides_like_the_operator_policy_on_distinct_events():
    """The SPEC 8 baseline is only a baseline if it makes the engine's decisions, copies included."""
    events = load_events()
    with evaluation.operator_policy() as path:
        policy = load_policy(path)
        simple = SimpleFilter(path.parent / "blocked-senders.txt")
    batches = Batches(events.events, 12)      # copy 5 comes from blocked senders
    labels = [f"{label} (copy {n})" for n in range(12) for label in events.labels]
    decisions = evaluation.check_agreement({"engine": evaluation.engine_decider(policy), "simple": simple.decide},
                                           batches.next(), labels)
    assert {"STOP_RULE_SET drop-blocked-sender", "CONTINUE allow-partner-tickets", "CONTINUE allow-alerts",
            "STOP_RULE hold-unauthenticated", "STOP_RULE hold-mass-mail"} <= set(decisions)


def test_default_filter_decides_like_the_default_policy():
    """The cold-start baseline makes the decisions of the policy the handler loads."""
    policy = load_policy(ROOT / "policies" / "default.yaml")
    seen = set()
    for path in sorted((ROOT / "examples" / "events").glob("*.json")):
        event = json.loads(path.read_text(encoding="utf-8-sig"))
        decision = policy.evaluate(event)
        if decision.errors:
            continue                                # not an SES record: the policy's on_error
        assert default_filter.decide(event) == decision.disposition, path.name
        seen.add(decision.rule)
    assert {None, "drop-virus", "drop-spam", "drop-dmarc-reject"} <= seen


def test_distinct_copies_have_addresses_of_their_own():
    event = {"Records": [{"eventSource": "aws:ses", "ses": {
        "mail": {"source": "a@x.example", "commonHeaders": {"from": ['"b@y.example" <b@y.example>']}},
        "receipt": {"recipients": ["c@corp.example"]}}}]}
    template = json.dumps(event)
    first, second = copy_event(template, 1), copy_event(template, 2)
    mail = second["Records"][0]["ses"]["mail"]
    assert first["Records"][0]["ses"]["mail"]["source"] == "a-b1@x.example"
    assert mail["commonHeaders"]["from"] == ['"b-b2@y.example" <b-b2@y.example>']   # still equal to each other
    assert second["Records"][0]["ses"]["receipt"]["recipients"] == ["c-b2@corp.example"]
    assert copy_event(template, 15)["Records"][0]["ses"]["mail"]["source"].endswith("@bulk-mailer.example")
    batches = Batches([event], copies=3)
    seen = [e["Records"][0]["ses"]["mail"]["source"] for e in batches.next() + batches.next()]
    assert len(seen) == len(set(seen)) == 6                                          # no batch repeats another


def test_notes_follow_the_figures():
    """Issue 16 item 3: a note is read from its figure, never fixed in advance."""
    assert growth_note(8.36, 4) .startswith("faster than linear")
    assert growth_note(3.9, 4) == "linear"
    assert "fixed costs" in growth_note(1.2, 4)


def test_the_naive_design_note_is_read_from_the_figures():
    assert evaluation._naive_note(190.0, 57.0) == "find() adds 133 µs/event; 20x would need the whole evaluation under 7.0 µs"
    assert evaluation._naive_note(50.0, 57.0) == "find() adds nothing measurable here"


def test_before_figures_are_printed_beside_the_row(tmp_path):
    row = Row("1 evaluation", "engine / simple", 2.5, "x", "<= 3x", True)
    save_before([row], tmp_path / "before.json")
    before = load_before(tmp_path / "before.json")
    assert before == {"1 evaluation: engine / simple": 2.5}
    later = Row("1 evaluation", "engine / simple", 1.9, "x", "<= 3x", True)
    line = table([later], before).splitlines()[-1]
    assert re.search(r"\|\s*2\.50x\s*\|\s*1\.90x\s*\|\s*<= 3x", line), line


def test_bad_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "99"])
    assert exit_info.value.code == 2
