"""`ses-rules` end to end: the installed console script in a subprocess, against the shared corpus."""
from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import CORPUS, corpus_files, need
from engine import load_policy

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("ses-rules")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "engine"]
SHIPPED = sorted([*ROOT.glob("policies/*.yaml"), *ROOT.glob("examples/policies/*.yaml")])
DEFAULT = ROOT / "policies" / "default.yaml"


def ses_rules(*args: str, command: list[str] = COMMAND, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*command, *args], input=stdin, capture_output=True, cwd=ROOT, timeout=120)


@pytest.fixture(scope="module")
def converted() -> dict[Path, subprocess.CompletedProcess]:
    """`ses-rules event --eml` for every corpus message, run a few at a time (one process each)."""
    paths = sorted((CORPUS / "eml").glob("*.eml"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(paths, pool.map(lambda p: ses_rules("event", "--eml", str(p)), paths)))


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_files("eml", "*.eml"))
def test_every_corpus_message_converts_to_an_event_that_evaluates(path: Path, converted) -> None:
    need(path)
    done = converted[path]
    assert done.returncode == 0, done.stderr.decode()
    event = json.loads(done.stdout)
    [record] = event["Records"]
    assert record["eventSource"] == "aws:ses" and set(record["ses"]) >= {"mail", "receipt"}
    decision = load_policy(DEFAULT).evaluate(event)
    assert decision.errors == [] and decision.disposition in ("CONTINUE", "STOP_RULE", "STOP_RULE_SET")


@pytest.mark.corpus
def test_dry_run_over_the_corpus_events_has_one_readable_row_per_file(ses_events_dir: Path) -> None:
    done = ses_rules("dry-run", "--format", "json", str(DEFAULT), str(ses_events_dir))
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    data = json.loads(done.stdout)
    files = sorted(ses_events_dir.rglob("*.json"))
    assert [r["input"] for r in data["results"]] == [f"{ses_events_dir}/{f.relative_to(ses_events_dir)}"
                                                    for f in files]
    assert data["summary"]["unreadable"] == 0 and sum(data["summary"].values()) == len(files)
    assert all(r["errors"] == [] for r in data["results"]), [r for r in data["results"] if r["errors"]]
    sns = [r for r in data["results"] if "sns_body" in r["input"]]
    assert len(sns) == 2, "the SNS captures are recognised, not unreadable"


@pytest.mark.corpus
def test_dry_run_explain_text_over_the_corpus(ses_events_dir: Path) -> None:
    done = ses_rules("dry-run", "--explain", str(DEFAULT), str(ses_events_dir))
    out = done.stdout.decode()
    assert done.returncode == 0 and done.stderr == b""
    assert out.count("\n== ") == len(list(ses_events_dir.rglob("*.json")))
    assert "rule drop-virus (STOP_RULE_SET): no match" in out


@pytest.mark.parametrize("policy", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_make_demo_runs_every_shipped_policy_over_the_examples(policy: Path) -> None:
    done = ses_rules("dry-run", str(policy.relative_to(ROOT)), "examples/events/")
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    assert "UNREADABLE" not in done.stdout.decode()


def test_shipped_policies_are_clean_under_strict_lint() -> None:
    done = ses_rules("validate", "--strict", *(str(p.relative_to(ROOT)) for p in SHIPPED))
    assert done.returncode == 0, done.stdout.decode()


def test_the_projects_policy_tests_pass_through_the_console_script() -> None:
    cases = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "cases").glob("*.yaml"))
    done = ses_rules("test", "--coverage", *cases)
    assert done.returncode == 0, done.stdout.decode()
    assert done.stdout.decode().endswith(" passed, 0 failed\n")


@pytest.mark.parametrize("args, code", [
    (["nonsense"], 2), (["validate", "--bogus", "policies/default.yaml"], 2), (["validate", "nope.yaml"], 2),
    (["dry-run", "nope.yaml", "examples/events/"], 2), (["dry-run", "policies/default.yaml", "nope.json"], 1),
    (["validate", "policies/default.yaml"], 0),
])
def test_exit_codes_and_no_traceback(args: list[str], code: int) -> None:
    done = ses_rules(*args)
    assert done.returncode == code
    assert b"Traceback" not in done.stdout + done.stderr


def test_python_dash_m_engine_is_the_same_cli() -> None:
    done = ses_rules("dry-run", "--format", "json", "policies/default.yaml", "-",
                     command=[sys.executable, "-m", "engine"],
                     stdin=(ROOT / "examples" / "events" / "virus-fail.json").read_bytes())
    assert done.returncode == 0
    assert json.loads(done.stdout)["results"][0]["rule"] == "drop-virus"


def test_output_piped_into_a_closed_reader_ends_quietly() -> None:
    """`ses-rules dry-run --explain ... | head`: far more output than a pipe holds, reader gone early."""
    args = ["dry-run", "--explain", "policies/default.yaml", *["examples/events/"] * 20]
    proc = subprocess.Popen([*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    proc.stdout.read(10)
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert err == b"" and proc.returncode == 1
