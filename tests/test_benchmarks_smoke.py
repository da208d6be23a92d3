"""`make bench` works end to end: every benchmark runs (one quick round), the table and JSON come out.

Nothing here asserts a time: the figures of a quick round mean nothing. What is
asserted is what the benchmark relies on: the engine and every contender make
the same decisions on the whole corpus before anything is timed.
"""
from __future__ import annotations

import json

import pytest

from benchmarks import evaluation, handwritten
from benchmarks.__main__ import main
from benchmarks.events import load_events


@pytest.mark.corpus
@pytest.mark.usefixtures("ses_events_dir", "eml_dir")
def test_every_benchmark_runs_and_reports(tmp_path, capsys):
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "latest.json").read_text())
    benchmarks = {row["benchmark"].split()[0] for row in data["rows"]}
    assert benchmarks == {"1", "2", "3", "4", "5", "6", "7", "8", "9"}
    for row in data["rows"]:
        assert row["measure"] in out
        assert row["value"] is not None or row["note"], row
        if row["target"]:
            assert isinstance(row["met"], bool), row
    evaluated = data["details"]["1+2"]
    assert evaluated["missing_sources"] == []
    assert sum(evaluated["decisions"].values()) == evaluated["events"] == len(load_events().events)
    assert len(evaluated["decisions"]) > 5          # the policy really decides, not one rule for all


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
        evaluation.check_agreement({"hand-written": handwritten.decide, "wrong": wrong}, events)


def test_bad_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "10"])
    assert exit_info.value.code == 2
