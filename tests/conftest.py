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
# `make test-fast`: the same properties, fewer examples (the full run keeps 200).
settings.register_profile("fast", max_examples=10, deadline=None,
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
    stamp = ROOT / ".venv" / ".installed"
    if stamp.exists():
        (dest / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
        # make must never reinstall into the linked .venv: pyproject.toml a second older than the stamp
        # (whole nanoseconds, since a float mtime can round past the stamp's and make it look newer)
        older = stamp.stat().st_mtime_ns - 1_000_000_000
        os.utime(dest / "pyproject.toml", ns=(older, older))
    return dest


# The full tier only (`make test` runs everything; `make test-fast` skips these): modules that start
# processes, build packages, run cfn-lint, moto or sieve-test, fuzz, or walk the whole corpus.
SLOW_MODULES = {
    "test_package.py", "test_template.py", "test_cli_e2e.py", "test_handler_sandbox.py",
    "test_handler_ssm.py", "test_benchmarks_smoke.py", "test_corpus_events.py",
    "test_addresses_corpus.py", "test_subject_filter.py",
    "test_fuzz_eml.py", "test_fuzz_evaluate.py", "test_hostile_policies.py",
    "test_sieve_differential.py", "test_spoofing.py",
    "test_precommit.py", "test_archive_s3.py", "test_streaming.py", "test_replay_template.py",
    "test_package_gate.py", "test_actionfunction.py", "test_handler_actions.py", "test_blocking_reads.py",
    "test_cdk.py", "test_tracing.py", "test_serve.py", "test_serve_clients.py", "test_deploy_parity.py",
    "test_deployable_policies.py",
}


# Single tests of the full tier only: each alone takes a second or more.
SLOW_TESTS = {
    "test_masking_a_hostile_megabyte_finishes_and_masks_everything",
    "test_a_list_used_by_many_tests_is_built_once_per_operator_and_field",
    "test_ignorables_are_exactly_unicodes_default_ignorable_code_points",
    "test_word_character_class_is_exactly_atext_plus_non_ascii_words",
    "test_over_40_mb_fails_too_large_and_sends_nothing", "test_over_40_mb_is_too_large",
    "test_every_documented_command_runs_as_shown", "test_the_docs_run_on_the_project_as_shipped",
    "test_a_block_that_hangs_is_killed_with_its_children",
}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`-m "not slow"` does not even import the slow modules (moto, boto3, the package builder)."""
    if config.getoption("markexpr") == "not slow" and collection_path.name in SLOW_MODULES:
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_MODULES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
