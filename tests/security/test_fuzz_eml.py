"""Fuzzing `.eml` input: mutated corpus messages through `ses-rules event --eml`.

A message is whatever bytes a stranger sends. The command must answer with a valid Lambda SES
event, or with one clean error line (exit 1) -- never a traceback and never an "internal error".
The event it prints must then evaluate without errors: it is an SES receiving record.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import load_policy
from engine.tools.cli import main
from engine.mail.sesevent import event_from_eml

pytestmark = pytest.mark.fuzz

EML = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "eml"
MESSAGES = [p.read_bytes() for p in sorted(EML.glob("*.eml"))]
POLICY = load_policy(Path(__file__).parent / "fuzz_policy.yaml")
FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

HEADER_LINES = [
    b"From: \"boss@company.example\" <attacker@evil.example>", b"From: =?utf-8?b?Ym9zc0A+LCA8?= <x@y>",
    b"From: " + b'"' * 9000, b"To: " + b"a@b, " * 3000, b"Subject: =?x-unknown?q?=ff=fe?=",
    b"Subject: =?utf-8?b?" + b"A" * 5000 + b"?=", b"Date: Mon, 99 Foo 99999 99:99:99 +9999",
    b"Cc: undisclosed-recipients:;", b"Reply-To: a@b@<c@d>", b"X-Long: " + b"x" * 20000,
    b"Return-Path: <>", b"Sender: \xff\xfe\x00", b": no name", b"From  : spaced@colon.example",
    b" continuation without header", b"Message-ID: <" + b"<" * 1000 + b">",
]


@st.composite
def mutated_message(draw: st.DrawFn) -> bytes:
    """A corpus message with byte edits, inserted hostile header lines, or a cut."""
    data = bytearray(draw(st.sampled_from(MESSAGES)))
    for _ in range(draw(st.integers(1, 5))):
        pos = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["bytes", "header", "delete", "cut", "duplicate-line"]))
        if action == "bytes":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=40))
        elif action == "header":
            data[0:0] = draw(st.sampled_from(HEADER_LINES)) + draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
        elif action == "delete":
            del data[pos:pos + draw(st.integers(1, 200))]
        elif action == "cut":
            del data[pos:]
        else:
            end = data.find(b"\n", pos)
            line = data[pos:end + 1 if end >= 0 else len(data)]
            data[pos:pos] = line * draw(st.integers(1, 50))
    return bytes(data)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-eml")


def run_event_command(data: bytes, workdir: Path, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    path = workdir / "message.eml"
    path.write_bytes(data)
    out = io.StringIO()
    code = main(["event", "--eml", str(path)], out=out)
    return code, out.getvalue(), capsys.readouterr().err


def check_answer(code: int, stdout: str, stderr: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    if code == 0:
        event = json.loads(stdout)
        decision = POLICY.evaluate(event)
        assert decision.errors == [], decision.errors
    else:
        assert code == 1, (code, stderr)
        lines = stderr.strip().split("\n")
        assert len(lines) == 1 and lines[0].startswith("ses-rules event: "), stderr


def test_corpus_loaded(eml_dir: Path) -> None:
    assert len(MESSAGES) == len(list(eml_dir.glob("*.eml"))) > 0


@FIXTURE_OK
@given(data=mutated_message())
def test_event_from_mutated_eml(data: bytes, eml_dir: Path, workdir: Path, capsys, security_report) -> None:
    check_answer(*run_event_command(data, workdir, capsys))
    security_report["fuzz examples: mutated .eml"] += 1


@FIXTURE_OK
@given(data=st.one_of(st.binary(max_size=2000), st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_event_from_random_bytes(data: bytes, workdir: Path, capsys, security_report) -> None:
    check_answer(*run_event_command(data, workdir, capsys))
    security_report["fuzz examples: random bytes as .eml"] += 1


@FIXTURE_OK
@given(data=mutated_message())
def test_event_from_eml_raises_only_valueerror(data: bytes, eml_dir: Path, security_report) -> None:
    """The library contract (engine.mail.sesevent): bad input is a ValueError with a message, nothing else."""
    try:
        event = event_from_eml(data)
    except ValueError as exc:
        assert str(exc)
    else:
        assert event["Records"][0]["eventSource"] == "aws:ses"
    security_report["fuzz examples: event_from_eml raises only ValueError"] += 1


def test_console_script_prints_no_traceback(eml_file: Path, tmp_path: Path) -> None:
    """The installed entry point, as a user runs it, on each corpus message cut in half and garbled."""
    data = eml_file.read_bytes()
    path = tmp_path / "cut.eml"
    path.write_bytes(data[: len(data) // 2] + b"\r\n\xff\xfe=?utf-8?q?\x00" + data[: len(data) // 3])
    proc = subprocess.run([sys.executable, "-m", "engine", "event", "--eml", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    check_answer(proc.returncode, proc.stdout, proc.stderr)
