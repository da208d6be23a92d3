"""The replay worker's results: JSON lines under a results prefix, one object per batch.

Each object starts with a header line naming both policies (``{"format", "version", "old",
"new", "rows"}``) and holds one `diff` row per input, in the batch's key order. Its key is
derived from the batch's input keys, so a retried batch overwrites its own object and never
adds a second copy. `diff --results` reads them back: every header must name the same
revisions, or the prefix mixes runs and nothing is summarised.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

from engine.replay import archive
from engine.replay.pool import ordered_map

FORMAT = "ses-rules-replay"
VERSION = 1
SUFFIX = ".jsonl"


class ResultsError(Exception):
    """Results that cannot be summarised: none, unreadable, or from different policies."""


def batch_key(prefix: str, keys: Sequence[str]) -> str:
    """Where a batch's rows go: the same batch, retried, lands on the same key."""
    digest = hashlib.sha256("\0".join(keys).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{prefix}{digest}{SUFFIX}"


def encode(old: dict[str, Any], new: dict[str, Any], rows: Sequence[dict[str, Any]]) -> bytes:
    head = {"format": FORMAT, "version": VERSION, "old": old, "new": new, "rows": len(rows)}
    lines = [json.dumps(head, ensure_ascii=False)] + [json.dumps(row, ensure_ascii=False) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def decode(label: str, data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One results object: its header and rows; ``ResultsError`` when it is not one."""
    try:
        lines = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    except (UnicodeDecodeError, ValueError) as exc:
        raise ResultsError(f"{label}: not JSON lines: {exc}") from None
    head = lines[0] if lines else None
    if not isinstance(head, dict) or head.get("format") != FORMAT or head.get("version") != VERSION:
        raise ResultsError(f"{label}: not a replay results object (no {FORMAT} header line)")
    rows = lines[1:]
    if head.get("rows") != len(rows) or not all(isinstance(r, dict) and "input" in r for r in rows):
        raise ResultsError(f"{label}: holds {len(rows)} rows, its header says {head.get('rows')} (cut short?)")
    return head, rows


def read_results(s3: Any, url: str, jobs: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every results object under ``url``, fetched ``jobs`` at a time, checked to be of one run."""
    bucket, prefix = archive.parse_url(url)
    refs = (ref for ref in archive.list_objects(s3, bucket, prefix) if ref.key.endswith(SUFFIX))
    first: dict[str, Any] | None = None
    found = False
    for ref, (data, error) in ordered_map(lambda r: (r, archive.read_object(s3, r)), refs, jobs):
        if error is not None:
            raise ResultsError(f"{ref.label}: {error}")
        head, rows = decode(ref.label, data)
        first = first or head
        if (head["old"], head["new"]) != (first["old"], first["new"]):
            raise ResultsError(f"{ref.label}: rows of {_names(head)}, but others here are of "
                               f"{_names(first)}: one results prefix per run")
        found = True
        yield head, rows
    if not found:
        raise ResultsError(f"{url}: no {SUFFIX} results objects under this prefix")


def _names(head: dict[str, Any]) -> str:
    return " -> ".join(f"{side.get('name')} ({side.get('revision')})" for side in (head["old"], head["new"]))
