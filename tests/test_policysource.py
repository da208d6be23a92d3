"""engine.aws.policysource: the source table, last-good, and what a new kind of source takes (one row)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.aws import policysource
from engine.aws.policysource import SOURCES, FileProvider, PolicySource, SourceKind
from engine.aws.settings import Settings


class Recorder:
    """Stands in for the Powertools Logger and Metrics: remembers what was logged and counted."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict]] = []
        self.metrics: list[str] = []

    def info(self, message: str, extra: dict) -> None:
        self.lines.append(("info", message, extra))

    def error(self, message: str, extra: dict) -> None:
        self.lines.append(("error", message, extra))

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.metrics.append(name)


class MemoryProvider:
    """A remote store in memory, read like a Powertools provider."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.reads = 0

    def get(self, name: str, max_age: int | None = None, transform: Any = None, force_fetch: bool = False,
            **options: Any) -> str:
        self.reads += 1
        return self.texts[name]


def policy_text(name: str) -> str:
    return f"version: 1\nname: {name}\nrules: []\n"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(policysource, "_clock", lambda: now[0])
    return now


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> MemoryProvider:
    """A third kind of source, added as one row of the table, tried before the file."""
    provider = MemoryProvider()
    row = SourceKind("memory", lambda settings: "/policy", lambda settings: provider, True, "memory store", {})
    monkeypatch.setattr(policysource, "SOURCES", {"memory": row, **SOURCES})
    return provider


def settings(tmp_path: Path, ssm: str = "") -> Settings:
    bundled = tmp_path / "bundled.yaml"
    bundled.write_text(policy_text("bundled"))
    return Settings(ssm_parameter=ssm, policy_file=bundled, on_error="CONTINUE", log_addresses="masked",
                    trace_rate=0.0, max_age=300, policy_environ=None)


def test_a_new_source_is_one_row_of_the_table(tmp_path: Path, memory: MemoryProvider, clock: list[float]) -> None:
    memory.texts["/policy"] = policy_text("remote")
    log = Recorder()
    source = PolicySource(settings(tmp_path), log, log)  # type: ignore[arg-type]
    assert source.current().name == "remote" and source.origin == "memory:/policy"
    memory.texts["/policy"] = policy_text("newer")
    clock[0] += 299
    assert source.current().name == "remote" and memory.reads == 1     # not before max_age
    clock[0] += 2
    assert source.current().name == "newer"


def test_the_last_good_policy_stays_when_a_new_text_does_not_load(tmp_path: Path, memory: MemoryProvider,
                                                                   clock: list[float]) -> None:
    memory.texts["/policy"] = policy_text("good")
    log = Recorder()
    source = PolicySource(settings(tmp_path), log, log)  # type: ignore[arg-type]
    assert source.current().name == "good"
    memory.texts["/policy"] = "version: 2\nrules: []\n"
    clock[0] += 301
    assert source.current().name == "good"
    [(level, message, extra)] = [line for line in log.lines if line[0] == "error"]
    assert (message, extra["reason"], extra["kept_policy"]["name"]) == ("policy load failed",
                                                                       "the policy does not load", "good")
    assert log.metrics == ["PolicyLoadFailures"]


def test_an_unreadable_remote_source_at_cold_start_falls_back_to_the_file(tmp_path: Path, memory: MemoryProvider,
                                                                         clock: list[float]) -> None:
    log = Recorder()
    source = PolicySource(settings(tmp_path), log, log)  # type: ignore[arg-type]
    assert source.current().name == "bundled" and source.origin.startswith("file:")
    assert [extra["reason"] for level, _, extra in log.lines if level == "error"] == ["cannot read the memory store"]


def test_the_file_provider_reads_text_and_says_why_it_cannot(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_bytes(b"\xef\xbb\xbfversion: 1\n")
    assert FileProvider().get(str(tmp_path / "p.yaml")) == "version: 1\n"
    with pytest.raises(OSError, match="cannot read policy"):
        FileProvider().get(str(tmp_path / "absent.yaml"))


def test_the_table_lists_ssm_before_the_file() -> None:
    assert list(SOURCES) == ["ssm", "file"]
    assert SOURCES["ssm"].remote and not SOURCES["file"].remote
