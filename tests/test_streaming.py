"""dry-run and diff print rows while later inputs are still being read; a bar only on a terminal.

Order is tested without timing: reading one input is held until the test opens a gate, so rows
before it must already be out, and rows after it must not be. (A named pipe would be the natural
slow input, but inputs are opened without blocking and a FIFO is refused: security issue 10.)
"""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.replay.pool import WINDOW_PER_JOB, ordered_map

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = str(ROOT / "policies" / "default.yaml")
EVENTS = ROOT / "examples" / "events"
TIMEOUT = 60


def message(n: int) -> bytes:
    return f"From: user{n}@x.example\r\nTo: a@corp.example\r\nSubject: {n}\r\n\r\nbody\r\n".encode()


# The CLI, with the read of any file named m3.eml held until the file GATE exists.
GATED_CLI = """
import os, sys, time
from engine.files import read_regular
from engine.tools import cli, inputs

def held(path, limit=None):
    while os.path.basename(path) == "m3.eml" and not os.path.exists(os.environ["GATE"]):
        time.sleep(0.01)
    return read_regular(path, limit)

inputs.read_regular = held
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("command", [["dry-run", DEFAULT], ["diff", "--format", "csv", DEFAULT, DEFAULT]])
def test_rows_come_out_in_order_while_a_later_input_is_still_being_read(tmp_path, command):
    for n in (1, 2, 4):
        (tmp_path / f"m{n}.eml").write_bytes(message(n))
    (tmp_path / "m3.eml").write_bytes(message(3))
    gate = tmp_path.parent / f"{tmp_path.name}.gate"
    proc = subprocess.Popen([sys.executable, "-c", GATED_CLI, *command, str(tmp_path)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "GATE": str(gate)})
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "m2.eml" in line:
            break                                   # m3 is blocked: m2's row is out already
    assert not any("m4.eml" in line for line in seen)   # m4 is read, but waits for m3
    assert proc.poll() is None                       # the run is still going on
    gate.touch()                                     # unblock m3
    rest, err = proc.communicate(timeout=TIMEOUT)
    names = [name for line in seen + rest.splitlines() for name in ("m1", "m2", "m3", "m4")
             if f"{name}.eml" in line]
    assert names == ["m1", "m2", "m3", "m4"], err


def run_on_a_terminal(argv: list[str]) -> tuple[int, str, str]:
    """stdout piped, stderr a pseudo-terminal: what the user sees on the terminal."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "engine", *argv], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=child, text=True)
    os.close(child)
    chunks = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:                          # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=TIMEOUT)
    os.close(main)
    return proc.returncode, out, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.timeout(TIMEOUT)
def test_a_progress_bar_goes_to_standard_error_only_on_a_terminal():
    code, out, terminal = run_on_a_terminal(["dry-run", DEFAULT, str(EVENTS)])
    assert code == 0
    total = f"/{sum(1 for p in EVENTS.rglob('*') if p.suffix in ('.json', '.eml'))} ["
    assert total in terminal and "inputs" in terminal      # tqdm's bar, with the total
    assert total not in out and out.startswith("policy default")
    piped = subprocess.run([sys.executable, "-m", "engine", "dry-run", DEFAULT, str(EVENTS)], cwd=ROOT,
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert piped.returncode == 0 and piped.stderr == ""


def test_ordered_map_keeps_order_and_a_bounded_window():
    started = []

    def work(n: int) -> int:
        started.append(n)
        return n * n
    results = ordered_map(work, range(1000), jobs=4)
    assert next(results) == 0
    assert max(started) < 4 * WINDOW_PER_JOB + 1     # nothing far ahead is fetched early
    assert list(results) == [n * n for n in range(1, 1000)]
    assert list(ordered_map(work, [], jobs=4)) == [] and list(ordered_map(work, [3], jobs=1)) == [9]
