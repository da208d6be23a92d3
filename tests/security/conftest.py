"""Fixtures of the reliability and security suite: hang guards, corpus parametrization, `sieve-test`.

Nothing here may turn a missing tool or corpus into a silent pass: under
`CI=true` both fail the run, elsewhere they skip with the reason.
"""
from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest
from .pigeonhole import Pigeonhole


def absent(reason: str) -> None:
    """A tool or corpus the suite needs is missing: fail under CI, skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


class HangError(AssertionError):
    """A guarded block ran past its generous limit: a hang, reported as a failure."""


@contextlib.contextmanager
def _alarm(seconds: float, what: str) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        # signal.setitimer only works in the main thread; there the block simply runs unguarded.
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise HangError(f"{what} did not finish within {seconds:g} s (a hang, not a slow run)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def hang_guard() -> Callable[..., contextlib.AbstractContextManager[None]]:
    """`with hang_guard(60, "loading X"):` fails the test instead of stalling CI when X hangs.

    The limits are far above any normal run: they catch hangs, they do not measure speed.
    """
    return _alarm


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """An `eml_file` argument: one test per corpus message, ids = file names."""
    if "eml_file" in metafunc.fixturenames:
        folder = Path(metafunc.config.rootpath).parent / "shared" / "corpus" / "eml"
        files = sorted(folder.glob("*.eml")) or [folder / "<missing>"]
        metafunc.parametrize("eml_file", files, ids=[f.name for f in files])


@pytest.fixture(autouse=True)
def _corpus_present(request: pytest.FixtureRequest) -> None:
    """A parametrized corpus file that does not exist fails (CI) or skips: never a silent pass."""
    if "eml_file" in request.fixturenames:
        path = Path(request.getfixturevalue("eml_file"))
        if not path.is_file():
            absent(f"shared corpus missing: {path.parent}")


_REPORT = pytest.StashKey[collections.Counter]()


@pytest.fixture(scope="session")
def security_report(request: pytest.FixtureRequest) -> collections.Counter:
    """The suite's figures (fuzz examples, spoof cases, probes, ...), printed at the end of the run."""
    return request.config.stash.setdefault(_REPORT, collections.Counter())


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    report = config.stash.get(_REPORT, None)
    if report:
        terminalreporter.section("security suite figures")
        for key in sorted(report):
            terminalreporter.write_line(f"{key}: {report[key]}")
        if report["sieve probes"]:
            rate = 100 * report["sieve probes agreeing"] / report["sieve probes"]
            terminalreporter.write_line(f"sieve agreement rate: {rate:.2f}%")


@pytest.fixture(scope="session")
def pigeonhole() -> Iterator[Pigeonhole]:
    """`sieve-test` (Debian `dovecot-sieve`, installed by scripts/ci-system-deps.sh) in a private workspace."""
    executable = shutil.which("sieve-test")
    if executable is None:
        absent("sieve-test is not installed: run scripts/ci-system-deps.sh (Debian package dovecot-sieve)")
    tool = Pigeonhole(executable)
    try:
        yield tool
    finally:
        tool.close()
