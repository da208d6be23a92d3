"""Every command in the docs runs as written and prints what the docs show.

Each document's ```sh and ```console blocks run in order in a fresh copy of the project
(the project's `.venv` linked in, its `bin` first on PATH), with the files its `# file:`
blocks hold written first, as a reader following the page would. The conventions are
those of `tests/doc_blocks.py` (documented for readers in README.md, "Documented commands").
"""
from __future__ import annotations

import ast
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import hypothesis
import pytest
import yaml

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


def bash(script: str, cwd: Path, env: dict[str, str], timeout: float = BLOCK_TIMEOUT) -> tuple[int, str]:
    """Exit code and output (standard error merged); a block that hangs is killed with its children."""
    with subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return -1, f"{output}\n(killed after {timeout} s)"
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


def as_shipped(copy: Path) -> Path:
    """The project as shipped: an operator's own policies (`policies/` files the examples' table
    does not list) and their tests are left out, since the docs add `policies/prod.yaml` themselves."""
    examples = yaml.safe_load((copy / "examples" / "events" / "expected.yaml").read_text(encoding="utf-8"))
    own = {p.resolve() for p in (copy / "policies").glob("*.yaml") if f"policies/{p.name}" not in examples}
    spec = importlib.util.spec_from_file_location("package_for_docs", copy / "scripts" / "package.py")
    package = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    tests = [t for t in (copy / "tests" / "cases").glob("*.yaml") if package.tested_policy(t) in own]
    for path in [*own, *tests]:
        path.unlink()
    return copy


def run_document(doc: Path, tmp_path: Path) -> list[str]:
    copy = as_shipped(copy_project(tmp_path / "project"))
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


# What users read cites no section of a document they do not have (the team's contract,
# ../shared/SPEC.md, is not shipped): everything but the tests, which may.
FOREIGN_CITATION = re.compile(r"\bSPEC\b|\b[Ss]pec(?:ification)?\s+(?:section\s+)?\d|\b[Tt]he spec(?:ification)?\b")
NOT_SHIPPED = {"tests", ".venv", ".git", "build", "dist", "__pycache__", ".pytest_cache", ".hypothesis",
               "results", "cdk.out", "node_modules"}


def shipped_text() -> list[Path]:
    files = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in NOT_SHIPPED and not d.endswith(".egg-info"))
        files += [Path(folder) / name for name in sorted(names)]
    return files


def test_what_users_read_cites_no_spec_outside_the_repository() -> None:
    citations = []
    for path in shipped_text():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        citations += [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()}"
                      for m in FOREIGN_CITATION.finditer(text)]
    assert len(shipped_text()) > 100 and any(p.name == "cli.md" for p in shipped_text())
    assert citations == [], "say it in the project's own words, or point at its docs:\n" + "\n".join(citations)


@pytest.mark.parametrize("text", ["as SPEC 3.7 says", "(spec section 6)", "Spec section 3.4.",
                                  "choices where the spec leaves room", "../shared/SPEC.md"])
def test_the_citation_check_sees_each_form(text: str) -> None:
    assert FOREIGN_CITATION.search(text)


@pytest.mark.parametrize("text", ["spec = Forward(identity)", "_SPECIALS", "TimeToLiveSpecification",
                                  "spec.is_address"])
def test_the_citation_check_leaves_code_alone(text: str) -> None:
    assert not FOREIGN_CITATION.search(text)


# --- the conventions themselves ------------------------------------------------------------

def block(lang: str, body: str) -> Block:
    return Block("doc.md", 1, lang, body)


def test_a_console_block_is_commands_and_their_output() -> None:
    steps = transcript("$ ses-rules event --from a@b.example \\\n    --subject hi\n{\n}\n$ false\n$ echo $?\n1\n")
    assert [s.command for s in steps] == ["ses-rules event --from a@b.example \\\n    --subject hi", "false", "echo $?"]
    assert [s.expected for s in steps] == [["{", "}"], [], ["1"]]
    assert [s.shows_exit_code for s in steps] == [False, True, False]
    with pytest.raises(ValueError, match="output before the first"):
        transcript("hello\n$ echo hello\n")


def test_fences_markers_and_indented_blocks(tmp_path: Path) -> None:
    (tmp_path / "d.md").write_text("text\n\n```yaml\n# file: p.yaml\nversion: 1\n```\n\n1. step\n\n"
                                   "   ```sh\n   # not run by tests: deploys\n   aws s3 ls\n   ```\n"
                                   "```sh\n# not run by tests:\nx\n```\n")
    found = blocks(tmp_path / "d.md", tmp_path)
    assert [(b.line, b.lang, b.file, b.no_run_reason, b.runs) for b in found] == [
        (3, "yaml", "p.yaml", None, False), (10, "sh", None, "deploys", False), (14, "sh", None, "", False)]
    assert found[1].body == "# not run by tests: deploys\naws s3 ls\n"


@pytest.mark.parametrize("shown, printed, wrong", [
    (["a", "...", "d"], ["a", "b", "c", "d"], None),
    (["a", "...", "b"], ["a", "b"], None),                                   # `...` may stand for nothing
    (["  ...", "z"], ["x", "y", "z"], None),                                 # indented `...` too
    (["policy p (revision 630dc040b4c9)"], ["policy p (revision 93e58ebc62b6)  "], None),
    (["a", "c"], ["a", "b"], "line 2 of the shown output: 'c'"),
    (["a"], ["a", "b"], "the output goes on after the last line shown (end it with `...`?)"),
    (["revision of 630dc040b4c9x"], ["revision of 93e58ebc62b6x"], "line 1 of the shown output: 'revision of 630dc040b4c9x'"),
])
def test_output_is_compared_line_by_line_with_elisions(shown, printed, wrong) -> None:
    assert mismatch(shown, printed) == wrong


def test_a_console_command_that_fails_unannounced_is_reported(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert run_console(block("console", "$ echo hi\nhi\n$ false\n$ echo $?\n1\n"), tmp_path, env) == []
    problems = run_console(block("console", "$ echo hi; false\nhi\n"), tmp_path, env)
    assert len(problems) == 1 and "`echo hi; false` exited 1" in problems[0]
    problems = run_console(block("console", "$ echo hello\nhi\n"), tmp_path, env)
    assert "does not print line 1 of the shown output: 'hi'" in problems[0] and "hello" in problems[0]


def test_an_sh_block_stops_at_its_first_failing_command(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert run_sh(block("sh", "echo ok > f\ncat f\n"), tmp_path, env) == []
    problems = run_sh(block("sh", "ls no-such-file\ntouch later\n"), tmp_path, env)
    assert len(problems) == 1 and "exited 2" in problems[0] and not (tmp_path / "later").exists()


def test_a_block_that_hangs_is_killed_with_its_children(tmp_path: Path) -> None:
    code, output = bash("sleep 60 & echo $! > pid; wait", tmp_path, environment(tmp_path), timeout=1)
    assert code == -1 and "(killed after 1 s)" in output
    pid = int((tmp_path / "pid").read_text())
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the block's child {pid} outlived it")


def test_the_docs_run_on_the_project_as_shipped(tmp_path: Path) -> None:
    copy = copy_project(tmp_path / "project")
    if not (copy / "policies" / "prod.yaml").exists():      # an operator's checkout may have its own
        subprocess.run(["make", "-s", "new-policy", "NAME=prod"], cwd=copy, check=True, capture_output=True, timeout=60)
    as_shipped(copy)
    assert not (copy / "policies" / "prod.yaml").exists() and not (copy / "tests" / "cases" / "prod.yaml").exists()
    assert (copy / "policies" / "default.yaml").exists() and (copy / "tests" / "cases" / "default.yaml").exists()


def fuzz_tests(folder: Path) -> list[str]:
    """The Hypothesis tests (decorated with `given`) of a test folder."""
    found = []
    for path in sorted(folder.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Call) and getattr(d.func, "id", None) == "given" for d in node.decorator_list):
                found.append(f"{path.name}::{node.name}")
    return found


def test_security_doc_states_the_fuzz_figures_make_test_runs() -> None:
    count = len(fuzz_tests(ROOT / "tests" / "security"))
    per_test = hypothesis.settings.get_profile("ci").max_examples
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    text = " ".join((ROOT / "docs" / "security.md").read_text(encoding="utf-8").split())
    assert f"{per_test} examples for each of the suite's {words[count]} fuzz tests, {count * per_test:,} in all" in text
