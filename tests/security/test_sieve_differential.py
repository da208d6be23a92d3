"""Differential test: Dovecot Pigeonhole (`sieve-test`, RFC 5228) against the `.eml` -> event -> policy
pipeline, on every message of the shared corpus.

Per message, both sides answer the same probes (sieve_probes.py): `address :domain :is` and
`:localpart` on From, `address :all` / `:domain` on To and Cc, address counts, `header :contains
"subject"` on the decoded subject, and `exists`. Every disagreement must be named in
sieve/differences.yaml with the SES behaviour that requires it, and every named difference must
still occur, so the table can neither hide a regression nor go stale. Differences the table calls
`defect-*` are pipeline bugs: their messages xfail, and fail as soon as the bug is fixed so the
entry gets removed.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine import load_policy_text
from engine.mail.addresses import parse_addresses, parse_literal
from engine.mail.sesevent import event_from_eml
from .pigeonhole import Pigeonhole
from .sieve_probes import (Probe, build_probes, extraction_script, pipeline_view, policy_answers, probe_policy,
                          probe_script, sieve_answers, sieve_view)

TABLE = yaml.safe_load((Path(__file__).parent / "sieve" / "differences.yaml").read_text(encoding="utf-8"))
REASONS: dict[str, str] = TABLE["reasons"]
NAMED: dict[str, dict[str, str]] = TABLE["messages"] or {}
EML = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "eml"


def _is_address(text: str) -> bool:
    return parse_literal(text) is not None


def compare(path: Path, tool: Pigeonhole) -> list[tuple[Probe, bool, bool]]:
    """(probe, Sieve's answer, the pipeline's answer) for every probe of one message."""
    data = path.read_bytes()
    event = event_from_eml(data)
    ours = pipeline_view(event, parse_addresses)
    theirs = sieve_view(tool.run(extraction_script(), data, name=path.stem))
    probes = build_probes(theirs, ours, _is_address)
    sieve_yes = sieve_answers(tool.run(probe_script(probes), data, name=path.stem))
    decision = load_policy_text(probe_policy(probes)).evaluate(event)
    assert decision.errors == [], decision.errors
    policy_yes = policy_answers(decision.shadow)
    return [(p, i in sieve_yes, i in policy_yes) for i, p in enumerate(probes)]


def test_sieve_test_runs_unprivileged(pigeonhole: Pigeonhole) -> None:
    """The harness itself: a probe that must hold, and one that must not, on a two-line message."""
    message = b"From: Boss <BOSS@Company.EXAMPLE>\r\nSubject: =?utf-8?q?caf=C3=A9_menu?=\r\n\r\nbody\r\n"
    script = "\n".join([
        'require ["vnd.dovecot.debug"];',
        'if address :domain :is "from" "company.example" { debug_log "yes"; }',
        'if header :contains "subject" "café" { debug_log "decoded"; }',
        'if exists "cc" { debug_log "no"; }',
    ])
    assert pigeonhole.run(script, message) == ["yes", "decoded"]


def test_named_differences_are_well_formed(eml_dir: Path) -> None:
    messages = {p.name for p in eml_dir.glob("*.eml")}
    for name, probes in NAMED.items():
        assert name in messages, f"differences.yaml names {name}, which is not in the corpus"
        for probe_id, reason in probes.items():
            assert reason in REASONS, f"{name} {probe_id}: unknown reason {reason!r}"
    assert set(REASONS) == {r for probes in NAMED.values() for r in probes.values()}, "unused reasons"


def test_message_agrees_with_pigeonhole(eml_file: Path, pigeonhole: Pigeonhole, hang_guard, security_report) -> None:
    with hang_guard(300, f"probing {eml_file.name}"):
        results = compare(eml_file, pigeonhole)
    named = NAMED.get(eml_file.name, {})
    differing = {p.id: (sieve, ours) for p, sieve, ours in results if sieve != ours}
    unexplained = [f"  {pid}: sieve={s} pipeline={o}" for pid, (s, o) in differing.items() if pid not in named]
    stale = [f"  {pid}" for pid in named if pid not in differing]
    defects = sorted({named[pid] for pid in differing if named.get(pid, "").startswith("defect-")})
    security_report["sieve messages"] += 1
    security_report["sieve probes"] += len(results)
    security_report["sieve probes agreeing"] += len(results) - len(differing)
    for pid in differing:
        if pid in named:
            security_report[f"sieve difference ({named[pid]})"] += 1
    assert not unexplained and not stale, (
        f"{eml_file.name}:\n"
        + ("disagreements not named in sieve/differences.yaml:\n" + "\n".join(unexplained) + "\n" if unexplained else "")
        + ("named differences that no longer occur:\n" + "\n".join(stale) if stale else ""))
    if defects:
        pytest.xfail(f"known pipeline defect(s), reported: {', '.join(defects)}")
