"""The replay worker: one Distributed Map batch of archived messages through two policies.

`examples/sam/replay.yaml` lists the archive prefix with Step Functions' S3 item reader,
batches the keys and invokes `handler.replay_handler` with::

    {"Items": [{"Key": "..."}, ...],
     "BatchInput": {"Bucket": ARCHIVE_BUCKET, "OldBundle": "s3://...", "NewBundle": "s3://...",
                    "OldRevision": "...", "NewRevision": "...", "ResultsPrefix": "s3://.../"}}

Each object becomes the same `diff` row the CLI computes (engine.replay.rows); the batch's rows
go to one JSON-lines object under ResultsPrefix (engine.replay.results), which
`ses-rules diff --results` summarises. Bundles are loaded once per execution environment and
their revisions checked (engine.replay.bundle). A bad batch input or bundle raises, so the map
run fails loudly instead of writing rows nobody should trust.
"""
from __future__ import annotations

from typing import Any

from engine.policy import Policy
from engine.replay import archive, results
from engine.replay.bundle import BundleError, load_bundle
from engine.replay.pool import ordered_map
from engine.replay.rows import diff_row

JOBS = 8                                       # objects fetched at a time in one invocation
REQUIRED = ("Bucket", "OldBundle", "NewBundle", "ResultsPrefix")

_policies: dict[tuple[str, str | None], Policy] = {}   # (bundle URL, expected revision) -> policy


class BatchError(ValueError):
    """A batch event this worker cannot run: the message names what is missing."""


def run_batch(event: Any, s3: Any = None) -> dict[str, Any]:
    """Decide one batch, write its rows, answer a small summary for the map's result."""
    batch, keys = _read_event(event)
    s3 = s3 or archive.client(JOBS)
    old = _policy(s3, batch["OldBundle"], batch.get("OldRevision"))
    new = _policy(s3, batch["NewBundle"], batch.get("NewRevision"))
    refs = [archive.ObjectRef(batch["Bucket"], key) for key in keys]
    rows = list(ordered_map(lambda ref: diff_row(archive.fetch(s3, ref), old, new), refs, JOBS))
    bucket, prefix = archive.parse_url(batch["ResultsPrefix"])
    key = results.batch_key(prefix, keys)
    body = results.encode(_identity(old), _identity(new), rows)
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson")
    return {"results": f"s3://{bucket}/{key}", "rows": len(rows),
            "changed": sum(1 for row in rows if row.get("changed")),
            "unreadable": sum(1 for row in rows if "error" in row)}


def _read_event(event: Any) -> tuple[dict[str, Any], list[str]]:
    batch = event.get("BatchInput") if isinstance(event, dict) else None
    items = event.get("Items") if isinstance(event, dict) else None
    if not isinstance(batch, dict) or not isinstance(items, list):
        raise BatchError("expected a Distributed Map batch: {\"Items\": [...], \"BatchInput\": {...}} "
                         "(an ItemBatcher with BatchInput, see examples/sam/replay.yaml)")
    missing = [name for name in REQUIRED if not isinstance(batch.get(name), str) or not batch[name]]
    if missing:
        raise BatchError(f"BatchInput lacks {', '.join(missing)}")
    keys = [item.get("Key") if isinstance(item, dict) else item for item in items]
    if not all(isinstance(key, str) and key for key in keys):
        raise BatchError("every item must be an S3 listing entry with a Key (the S3 item reader's)")
    return batch, keys


def _policy(s3: Any, url: str, expected: str | None) -> Policy:
    cached = _policies.get((url, expected))
    if cached is not None:
        return cached
    bucket, key = archive.parse_url(url)
    data, error = archive.read_object(s3, archive.ObjectRef(bucket, key))
    if error is not None:
        raise BundleError(f"{url}: {error}")
    policy = load_bundle(data, expected, origin=url)
    _policies[(url, expected)] = policy
    return policy


def _identity(policy: Policy) -> dict[str, str]:
    return {"name": policy.name, "revision": policy.revision}
