"""Nothing a policy or a command line names can make a read block (issue 10 item 4, SPEC 3.6).

`open()` on a FIFO waits for a writer; `/proc/self/fd/1` is standard output, a pipe
under Lambda and in these tests. Each case runs in a subprocess with a timeout, so
a read that blocks fails the test instead of hanging it; each must answer at once.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.files import NotRegularFile, OutsideFolder, inside, read_regular

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "engine"]
EVENT = ROOT / "examples" / "events" / "virus-fail.json"
TIMEOUT = 60        # a blocked read never returns; a working one takes a second
POLICY = "version: 1\nrules:\n  - {name: r, when: {virus: FAIL}, disposition: STOP_RULE_SET}\n"


def run(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*args], capture_output=True, text=True, cwd=cwd, timeout=TIMEOUT,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def list_policy(folder: Path, name: str) -> Path:
    path = folder / "policy.yaml"
    path.write_text(f"version: 1\nlists:\n  b: {{file: {name}}}\nrules:\n"
                    "  - {name: r, when: {sender: {in: {list: b}}}, disposition: STOP_RULE_SET}\n")
    return path


def test_read_regular_refuses_a_fifo_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(NotRegularFile, match="FIFO"):
        read_regular(tmp_path / "fifo")
    with pytest.raises(NotRegularFile, match="directory"):
        read_regular(tmp_path)
    with pytest.raises(NotRegularFile, match="character device"):
        read_regular("/dev/null")
    (tmp_path / "f.txt").write_bytes(b"x" * 10)
    assert read_regular(tmp_path / "f.txt", limit=3) == b"xxxx"     # limit + 1: the caller sees "too large"


def test_inside_follows_symlinks_and_stays_in_the_folder(tmp_path):
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "a.txt").write_text("x\n")
    (tmp_path / "alias.txt").symlink_to(tmp_path / "lists" / "a.txt")
    (tmp_path / "out.txt").symlink_to("/etc/hostname")
    assert inside(tmp_path, "alias.txt") == (tmp_path / "lists" / "a.txt").resolve()
    for name in ("out.txt", "/etc/hostname", "../x", "lists/../../x", "/proc/self/environ"):
        with pytest.raises(OutsideFolder):
            inside(tmp_path, name)


def test_validate_with_a_fifo_list_file(tmp_path):
    os.mkfifo(tmp_path / "blocked.txt")
    done = run(*COMMAND, "validate", str(list_policy(tmp_path, "blocked.txt")))
    assert done.returncode == 1 and "[list-file]" in done.stdout and "FIFO" in done.stdout, done.stdout


def test_validate_with_a_fifo_as_the_policy(tmp_path):
    os.mkfifo(tmp_path / "policy.yaml")
    done = run(*COMMAND, "validate", str(tmp_path / "policy.yaml"))
    assert done.returncode == 1 and "cannot read policy" in done.stdout and "FIFO" in done.stdout, done.stdout


def test_dry_run_gives_a_fifo_named_eml_its_row_and_goes_on(tmp_path):
    (tmp_path / "policy.yaml").write_text(POLICY)
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.json").write_bytes(EVENT.read_bytes())
    os.mkfifo(inputs / "b.eml")
    (inputs / "c.json").write_bytes(EVENT.read_bytes())
    done = run(*COMMAND, "dry-run", "--format", "json", str(tmp_path / "policy.yaml"), str(inputs))
    assert done.returncode == 1, done.stderr
    rows = {Path(r["input"]).name: r for r in json.loads(done.stdout)["results"]}
    assert rows["a.json"]["disposition"] == rows["c.json"]["disposition"] == "STOP_RULE_SET"
    assert rows["b.eml"]["disposition"] is None and "FIFO" in rows["b.eml"]["errors"][0]


def test_test_command_with_a_fifo_test_file_and_eml(tmp_path):
    (tmp_path / "policy.yaml").write_text(POLICY)
    os.mkfifo(tmp_path / "m.eml")
    (tmp_path / "t.yaml").write_text("policy: policy.yaml\ncases:\n  - {name: c, eml: m.eml, expect: CONTINUE}\n")
    os.mkfifo(tmp_path / "fifo.yaml")
    done = run(*COMMAND, "test", str(tmp_path / "t.yaml"), str(tmp_path / "fifo.yaml"))
    assert done.returncode == 1 and done.stdout.count("FIFO") == 2, done.stdout
    assert done.stdout.rstrip().endswith("0 passed, 2 failed")


def test_event_eml_fifo(tmp_path):
    os.mkfifo(tmp_path / "m.eml")
    done = run(*COMMAND, "event", "--eml", str(tmp_path / "m.eml"))
    assert done.returncode == 2 and "FIFO" in done.stderr


HANDLER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import handler
print(json.dumps(handler.lambda_handler(json.load(open(sys.argv[2])), None)))
"""


@pytest.mark.parametrize("name", ["/proc/self/fd/1", "stdout-link.txt", "fifo.txt"])
def test_the_handler_with_stdout_a_pipe_does_not_block_on_a_list_file(tmp_path, name):
    """`{file: /proc/self/fd/1}` read standard output, a pipe: the handler hung until its timeout."""
    (tmp_path / "stdout-link.txt").symlink_to("/proc/self/fd/1")
    os.mkfifo(tmp_path / "fifo.txt")
    policy = list_policy(tmp_path, name)
    done = run(sys.executable, "-c", HANDLER, str(ROOT), str(EVENT),
               env={"POLICY_FILE": str(policy), "POLICY_SSM_PARAMETER": "", "POWERTOOLS_METRICS_DISABLED": "1"})
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines[-1] == {"disposition": "CONTINUE"}, done.stdout + done.stderr   # ON_ERROR: no policy loaded
    failed = next(line for line in lines if line.get("message") == "policy load failed")
    assert "[list-file]" in json.dumps(failed) or "list file" in json.dumps(failed)
