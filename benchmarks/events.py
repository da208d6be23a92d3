"""The events every evaluation benchmark runs over: the shared corpus and the project's examples."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.tools.inputs import read_inputs

ROOT = Path(__file__).resolve().parent.parent
SOURCES = (ROOT.parent / "shared" / "corpus" / "ses-events",   # SES and SNS fixtures
           ROOT.parent / "shared" / "corpus" / "eml",          # raw messages, converted by event_from_eml
           ROOT / "examples" / "events")


@dataclass(frozen=True)
class EventSet:
    events: list[dict]
    labels: list[str]
    missing: list[str]          # sources not found (the shared corpus outside a full checkout)


def load_events() -> EventSet:
    """Every readable event of every source present; unreadable inputs are an error, not a skip."""
    events, labels, missing = [], [], []
    for source in SOURCES:
        if not source.is_dir():
            missing.append(str(source))
            continue
        for item in read_inputs([str(source)]):
            if item.event is None:
                raise RuntimeError(f"benchmark input {item.label} cannot be read: {item.error}")
            events.append(item.event)
            labels.append(item.label)
    if not events:
        raise RuntimeError("no benchmark events found")
    return EventSet(events, labels, missing)
