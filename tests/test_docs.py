"""Every command in the docs runs as written and prints what the docs show.

Each document's ```sh and ```console blocks run in order in a fresh copy of the project
(the project's `.venv` linked in, its `bin` first on PATH), with the files its `# file:`
blocks hold written first, as a reader following the page would. The conventions are
those of `tests/doc_blocks.py` (documented for readers in README.md, "Documented commands").
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, copy_project
from doc_blocks import Block, blocks, mismatch, transcript

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK_TIMEOUT = 120
END = "@@doc-command-ended@@"


def environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "PYTEST_", "POLICY_", "FORWARD_", "BOUNCE_", "ALLOWED_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", HOME=str(home),
               PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", LC_ALL="C.UTF-8")
    return env


def bash(script: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Exit code and output (standard error merged); a block that hangs is killed with its children."""
    with subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True) as process:
        try:
            output, _ = process.communicate(timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return -1, f"{output}\n(killed after {BLOCK_TIMEOUT} s)"
    return process.returncode, output


def run_sh(block: Block, cwd: Path, env: dict[str, str]) -> list[str]:
    code, output = bash("set -e -o pipefail\n" + block.body, cwd, env)
    if code != 0:
        return [f"{block.where}: the ```sh block exited {code}:\n{output}"]
    return []


def run_console(block: Block, cwd: Path, env: dict[str, str]) -> list[str]:
    """Each `$` command in one shell, its output cut out by an end marker carrying its exit code."""
    steps = transcript(block.body)
    script = "exec 2>&1\n" + "".join(
        f"{step.command}\n__rc=$?; printf '\\n{END} %d\\n' \"$__rc\"; (exit \"$__rc\")\n" for step in steps)
    _, output = bash(script, cwd, env)
    head, *ended = output.split(f"\n{END} ")
    if len(ended) != len(steps):
        return [f"{block.where}: the ```console block stopped after {len(ended)} of {len(steps)} "
                f"commands:\n{output}"]
    codes = [int(piece.partition("\n")[0]) for piece in ended]
    texts = [head, *(piece.partition("\n")[2] for piece in ended[:-1])]
    problems = []
    for step, text, code in zip(steps, texts, codes):
        text = text.removesuffix("\n")
        actual = text.split("\n") if text else []
        if code != 0 and not step.shows_exit_code:
            problems.append(f"{block.where}: `{step.command}` exited {code}:\n{text}")
        elif (wrong := mismatch(step.expected, actual)) is not None:
            problems.append(f"{block.where}: `{step.command}` does not print {wrong}\n--- it printed\n"
                            + "\n".join(actual) + "\n--- the doc shows\n" + "\n".join(step.expected))
    return problems


def run_document(doc: Path, tmp_path: Path) -> list[str]:
    copy = copy_project(tmp_path / "project")
    (tmp_path / "home").mkdir()
    env = environment(tmp_path / "home")
    problems = []
    for block in blocks(doc, ROOT):
        if block.file:
            target = copy / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body, encoding="utf-8")
        elif block.runs:
            runner = run_sh if block.lang == "sh" else run_console
            problems += runner(block, copy, env)
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_documented_command_runs_as_shown(doc: Path, tmp_path: Path) -> None:
    problems = run_document(doc, tmp_path)
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_block_that_is_not_run_says_why(doc: Path) -> None:
    for block in blocks(doc, ROOT):
        assert block.no_run_reason != "", f"{block.where}: `# not run by tests:` needs a reason after it"
        if block.lang == "console" and block.runs:
            transcript(block.body)   # raises on output before the first command
