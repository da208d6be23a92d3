"""`.pre-commit-hooks.yaml` with the real `pre-commit` tool, on a temporary repository of policies.

The project is copied into a fresh git repository (so the hooks file as it is now is what
pre-commit reads) and `pre-commit try-repo` installs it the way a user's pre-commit would:
a virtual environment with `pip install` of the project. That install is done once.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("pyproject.toml", "README.md", "handler.py", "engine", ".pre-commit-hooks.yaml")
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull}
TIMEOUT = 400
GOOD_TEST = "policy: policies/good.yaml\ncases:\n  - name: virus\n    event: {virus: FAIL}\n    expect: STOP_RULE_SET\n"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60,
                   env={**os.environ, **GIT_ENV})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("precommit")
    project = base / "project"
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            project.mkdir(exist_ok=True)
            shutil.copy2(src, project / name)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "hooks under test")
    user = base / "user"
    (user / "policies").mkdir(parents=True)
    shutil.copy2(ROOT / "policies" / "default.yaml", user / "policies" / "good.yaml")
    (user / "policies" / "bad.yaml").write_text("version: 1\nrules:\n  - name: a\n    disposition: STOPP\n")
    (user / "good.test.yaml").write_text(GOOD_TEST)
    (user / "bad.test.yaml").write_text(GOOD_TEST.replace("STOP_RULE_SET", "CONTINUE"))
    (user / "notes.yaml").write_text("not: a policy\n")
    git(user, "init", "-q")
    git(user, "add", "-A")
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(base / "cache")}
    return project, user, env


def try_repo(setup, hook: str, *files: str) -> subprocess.CompletedProcess:
    project, user, env = setup
    return subprocess.run([str(PRE_COMMIT), "try-repo", str(project), hook, "--files", *files], cwd=user,
                          env=env, capture_output=True, text=True, timeout=TIMEOUT)


@pytest.mark.timeout(TIMEOUT + 60)
def test_validate_hook_passes_a_good_policy_and_fails_a_broken_one(setup):
    good = try_repo(setup, "ses-rules-validate", "policies/good.yaml", "notes.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ses-rules validate" in good.stdout and "Passed" in good.stdout
    bad = try_repo(setup, "ses-rules-validate", "policies/good.yaml", "policies/bad.yaml")
    assert bad.returncode == 1 and "Failed" in bad.stdout
    assert "policies/bad.yaml:4:18: error:" in bad.stdout and "STOPP" in bad.stdout
    outside = try_repo(setup, "ses-rules-validate", "notes.yaml")     # not under policies/: not a policy
    assert outside.returncode == 0 and "(no files to check)" in outside.stdout


@pytest.mark.timeout(TIMEOUT + 60)
def test_test_hook_runs_policy_tests(setup):
    good = try_repo(setup, "ses-rules-test", "good.test.yaml", "policies/good.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "1 passed, 0 failed" in good.stdout or "Passed" in good.stdout
    bad = try_repo(setup, "ses-rules-test", "bad.test.yaml")
    assert bad.returncode == 1 and "Failed" in bad.stdout and "0 passed, 1 failed" in bad.stdout
