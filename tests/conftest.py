"""Shared fixtures: where the shared corpus lives, and how its absence is treated."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
EXAMPLES = ROOT / "examples"

settings.register_profile("ci", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def corpus_path(sub: str) -> Path:
    """The shared corpus folder `sub`; under CI a missing corpus fails, elsewhere it skips."""
    path = CORPUS / sub
    if not path.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared corpus missing: {path}")
        pytest.skip(f"shared corpus missing: {path}")
    return path


def corpus_files(sub: str, pattern: str) -> list:
    """Parametrize values for every corpus file; one failing/skipping param when the corpus is missing.

    Use as ``@pytest.mark.parametrize("path", corpus_files("eml", "*.eml"))`` and call
    ``need(path)`` first in the test.
    """
    files = sorted((CORPUS / sub).glob(pattern))
    if not files:
        return [pytest.param(CORPUS / sub / "<missing>", id="missing-corpus")]
    return [pytest.param(f, id=f.name) for f in files]


def need(path: Path) -> Path:
    """Fail (CI) or skip (elsewhere) when a corpus file parametrized above is missing."""
    corpus_path(path.parent.name)
    return path


@pytest.fixture
def ses_events_dir() -> Path:
    return corpus_path("ses-events")


@pytest.fixture
def eml_dir() -> Path:
    return corpus_path("eml")


COPY_IGNORES = (".venv", ".git", "build", "dist", "__pycache__", ".pytest_cache", ".hypothesis",
                "*.egg-info", "results", "cdk.out", "node_modules")


def copy_project(dest: Path) -> Path:
    """The project as a reader's checkout at `dest`: sources copied, the installed `.venv` linked."""
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(*COPY_IGNORES), symlinks=True)
    if (ROOT / ".venv").is_dir():
        (dest / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    return dest
