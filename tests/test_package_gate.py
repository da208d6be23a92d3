"""`make package` refuses to build when a shipped policy does not load or its policy tests fail.

Each case breaks a policy in a temporary copy of the project and runs the copy's own
`scripts/package.py`: it must stop before installing anything, say why, and write no zip.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("engine", "handler.py", "policies", "scripts", "tests/cases", "examples/policies")


def package_script(root: Path):
    spec = importlib.util.spec_from_file_location("package_gate", root / "scripts" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in COPIED:
        src, dst = ROOT / name, tmp_path / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return tmp_path


def build(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(root / "scripts" / "package.py"), "--out", str(root / "out.zip")],
                          cwd=root, capture_output=True, text=True, timeout=240)


def test_the_shipped_policies_pass_the_gate():
    script = package_script(ROOT)
    ran = script.check_policies(ROOT)
    assert "tests/cases/default.yaml" in ran      # and only tests of policies/, however many an operator added
    assert {script.tested_policy(ROOT / t).parent for t in ran} == {ROOT / "policies"}


def test_a_policy_that_does_not_load_stops_the_build(copy):
    policy = copy / "policies" / "default.yaml"
    policy.write_text(policy.read_text().replace("disposition: STOP_RULE_SET", "disposition: STOPP", 1))
    result = build(copy)
    assert result.returncode == 1
    assert "a shipped policy does not load; not building" in result.stderr
    assert "default.yaml:" in result.stderr and "STOPP" in result.stderr
    assert not (copy / "out.zip").exists()


def test_a_policy_whose_tests_fail_stops_the_build(copy):
    policy = copy / "policies" / "default.yaml"
    policy.write_text(policy.read_text().replace("when: {virus: FAIL}", "when: {virus: GRAY}"))
    result = build(copy)
    assert result.returncode == 1
    assert "the policy tests of a shipped policy fail; not building" in result.stderr
    assert "FAIL" in result.stderr and "infected mail is dropped" in result.stderr
    assert not (copy / "out.zip").exists()
