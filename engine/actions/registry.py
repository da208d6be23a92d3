"""The action types, one row each: arguments, runner, preview, and what it reaches.

To add an action type: one row here (its arguments' kinds come from
`engine.actions.arguments`), its runner in `engine.actions.runners`, a test, a
line in docs/policy-language.md. The loader, the JSON Schema, dry-run, the
allow-lists and the action function all read this table.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.actions import runners
from engine.actions.arguments import KINDS, Kind
from engine.actions.backend import RunContext
from engine.actions.job import Job

Action = dict[str, Any]   # resolved: {"rule", "type", ...arguments, "recipients": [acted for]}


@dataclass(frozen=True)
class Argument:
    name: str
    kind: Kind
    required: bool
    doc: str


@dataclass(frozen=True)
class ActionType:
    name: str
    doc: str
    arguments: tuple[Argument, ...]
    run: Callable[[Action, Job, RunContext], str]
    preview: Callable[[Action], str]
    reaches: Callable[[Action], list[tuple[str, str]]]   # (Reach field, value) the policy named

    def argument(self, name: str) -> Argument | None:
        return next((a for a in self.arguments if a.name == name), None)


def _arg(name: str, kind: str, doc: str, required: bool = False) -> Argument:
    return Argument(name, KINDS[kind], required, doc)


_RECIPIENTS = _arg("recipients", "test", "a test on one address: the recipients acted for are those of "
                   "receipt.recipients it holds for (default: all)")


def _forward_preview(a: Action) -> str:
    via = f" from {a['from']}" if a.get("from") else ""
    return f"forward to {', '.join(a['to'])}{via}"


def _bounce_preview(a: Action) -> str:
    return f"bounce {a['status']} for {', '.join(a.get('recipients') or [])}"


def _store_preview(a: Action) -> str:
    return f"store s3://{a.get('bucket') or '$MAIL_BUCKET'}/{a['prefix']}"


def _notify_preview(a: Action) -> str:
    return f"notify {a['topic'].rpartition(':')[2]}"


def _forward_reaches(a: Action) -> list[tuple[str, str]]:
    named = [("identities", a["from"])] if a.get("from") else []
    return named + [("forward_domains", to) for to in a["to"]]


def _optional(a: Action, *pairs: tuple[str, str]) -> list[tuple[str, str]]:
    return [(field, a[key]) for field, key in pairs if a.get(key)]


ACTION_TYPES: dict[str, ActionType] = {t.name: t for t in (
    ActionType("forward", "send the stored message on, header block rewritten (SES v2 raw send)", (
        _arg("to", "addresses", "where to send it: addresses or {list: NAME}", required=True),
        _arg("from", "address", "the SES-verified identity it is sent as (default: FORWARD_FROM)"),
        _arg("subject_prefix", "text", "text put before the subject"),
        _arg("headers", "headers", "X- headers to set, replacing headers of the same name"),
        _RECIPIENTS,
    ), runners.forward, _forward_preview, _forward_reaches),
    ActionType("bounce", "SES SendBounce to the envelope sender, for the recipients acted for", (
        _arg("status", "status", "RFC 3463 status, e.g. 5.1.1", required=True),
        _arg("message", "text", "the explanation the bounce carries", required=True),
        _arg("sender", "address", "the bounce's sender, an SES-verified identity (default: BOUNCE_SENDER)"),
        _RECIPIENTS,
    ), runners.bounce, _bounce_preview, lambda a: _optional(a, ("identities", "sender"))),
    ActionType("store", "copy the stored message to bucket/prefix + messageId, with policy, revision and rule "
               "as object metadata", (
        _arg("prefix", "prefix", "relative key prefix, e.g. quarantine/", required=True),
        _arg("bucket", "bucket", "the bucket (default: MAIL_BUCKET, the archive)"),
        _arg("kms_key", "kms_key", "a KMS key ARN to encrypt the copy with"),
    ), runners.store, _store_preview, lambda a: _optional(a, ("buckets", "bucket"), ("kms_keys", "kms_key"))),
    ActionType("notify", "publish a JSON summary of the message and decision to an SNS topic", (
        _arg("topic", "topic", "the SNS topic ARN", required=True),
    ), runners.notify, _notify_preview, lambda a: [("topics", a["topic"])]),
)}


def preview(action: Action) -> str:
    """One line for dry-run: what the action would do."""
    return ACTION_TYPES[action["type"]].preview(action)
