"""Read `dry-run` inputs: whatever form an SES message arrives in, one Lambda SES event each.

Accepted (docs/cli.md, "dry-run"): a Lambda SES event (`.json`, with or without a byte-order mark); an SES
receiving notification as SNS delivers it (the object with ``notificationType: Received``, the
SNS envelope ``{"Type": "Notification", "Message": "<json>"}``, or an SNS Lambda event whose
records wrap one); a raw message (`.eml`, through ``engine.mail.sesevent.event_from_eml``); a
directory (its `.json` and `.eml` files, recursively, sorted by relative path); ``-`` (standard
input, JSON or raw mail, sniffed); ``s3://BUCKET/PREFIX`` (every object under the prefix, in
key order, as a raw message: ``engine.replay.archive``).

A file whose name ends neither in `.json` nor `.eml` is sniffed like standard input: JSON when
its first non-blank character is ``{`` or ``[``, a raw message otherwise.

Inputs are planned before they are read: ``plan_inputs`` yields a ``Source`` (label, and how to
read it) per input at once, walking directories and listing archives lazily, so a command can
read many at a time (``engine.replay.pool``) and print rows while the rest are read.

Public API: ``Input``, ``Source``, ``plan_inputs(args, stdin=None, jobs=16)``,
``read_inputs(args, stdin=None)``, ``read_input(label, data, kind)`` and ``to_lambda_event(obj)``
(the conversion alone, for callers that already hold JSON).
"""
from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from engine.files import read_regular
from engine.mail.sesevent import lambda_event
from engine.replay import archive
from engine.replay.rows import Input, from_message

SUFFIXES = {".json": "json", ".eml": "eml"}
_BOM = b"\xef\xbb\xbf"
A_POLICY = ("a policy, not a message or an event: dry-run takes one policy, then inputs; "
            "did you mean diff, to compare two policies?")
A_YAML_FILE = "a YAML file, not a message (.eml) or an SES event (.json)"
MAX_SNIFF = 64 * 1024        # a policy's keys are near its top; a large message is not scanned whole
_POLICY_KEYS = re.compile(rb"^(version|rules)[ \t]*:", re.MULTILINE)

__all__ = ["Input", "Source", "plan_inputs", "read_inputs", "read_input", "to_lambda_event"]


@dataclass(frozen=True)
class Source:
    """An input not read yet: its label, and how to read it (safe to call on any thread)."""

    label: str
    load: Callable[[], Input]


def read_inputs(args: Sequence[str], stdin: BinaryIO | None = None) -> Iterator[Input]:
    """One ``Input`` per file, per file inside a directory, or for ``-``; never raises for bad input."""
    return (source.load() for source in plan_inputs(args, stdin, jobs=1))


def plan_inputs(args: Sequence[str], stdin: BinaryIO | None = None, jobs: int = 16) -> Iterator[Source]:
    """A ``Source`` per input, in order; directories are walked and archives listed as they come."""
    s3: list[Any] = []                      # one client for every s3:// argument, made on first use
    for arg in args:
        if arg == "-":
            yield _stdin_source(stdin)
        elif arg.startswith("s3://"):
            yield from _plan_archive(arg, s3, jobs)
        elif Path(arg).is_dir():
            yield from _plan_directory(arg, Path(arg))
        else:
            yield Source(arg, partial(_read_file, arg, Path(arg)))


def read_input(label: str, data: bytes, kind: str) -> Input:
    """An input from bytes: ``kind`` is ``json``, ``eml`` or ``sniff``."""
    if label.lower().endswith((".yaml", ".yml")) and kind != "json":
        return Input(label, None, A_POLICY if _is_policy(data) else A_YAML_FILE)
    if kind == "sniff":
        kind = "json" if data.removeprefix(_BOM).lstrip()[:1] in (b"{", b"[") else "eml"
    if kind == "eml":
        item = from_message(label, data)
        return Input(label, None, A_POLICY) if item.event is None and _is_policy(data) else item
    try:
        return Input(label, _from_json(data))
    except ValueError as exc:
        return Input(label, None, str(exc))


def _failed(label: str, error: str) -> Source:
    return Source(label, partial(Input, label, None, error))


def _stdin_source(stdin: BinaryIO | None) -> Source:
    """Standard input is read at once, in order: only one reader can have it."""
    try:
        data = (stdin if stdin is not None else sys.stdin.buffer).read()
    except (OSError, ValueError) as exc:  # closed or unreadable standard input
        return _failed("-", f"cannot read standard input: {exc}")
    return Source("-", partial(read_input, "-", data, "sniff"))


def _plan_archive(url: str, s3: list[Any], jobs: int) -> Iterator[Source]:
    """Every object under an S3 prefix, in key order; a prefix that cannot be listed is one row."""
    try:
        bucket, prefix = archive.parse_url(url)
        if not s3:
            s3.append(archive.client(jobs))
        found = False
        for ref in archive.list_objects(s3[0], bucket, prefix):
            found = True
            yield Source(ref.label, partial(archive.fetch, s3[0], ref))
    except (ValueError, archive.ArchiveError) as exc:
        yield _failed(url, str(exc))
        return
    if not found:
        yield _failed(url, "no objects under this prefix")


def to_lambda_event(obj: Any) -> dict:
    """A Lambda SES event from any accepted JSON form; ``ValueError`` says why not."""
    if not isinstance(obj, dict):
        raise ValueError(f"not an SES event: the JSON is {_kind(obj)}, not an object")
    if "Records" in obj:
        return _from_records(obj["Records"])
    if obj.get("Type") == "Notification" and "Message" in obj:
        return _from_notification(_json_text(obj["Message"], "the SNS Message"))
    if "Type" in obj and "TopicArn" in obj:
        raise ValueError(f"an SNS {obj['Type']!r} message, not an SES notification")
    if "notificationType" in obj:
        return _from_notification(obj)
    raise ValueError("not an SES event: expected a Lambda event {\"Records\": [...]}, an SES "
                     "notification (notificationType: Received) or an SNS envelope")


def _plan_directory(arg: str, root: Path) -> Iterator[Source]:
    """Every `.json` and `.eml` below ``root``, sorted by relative path, labelled ``arg/rel``."""
    found = []
    for folder, _, files in os.walk(root, followlinks=False):
        for name in files:
            path = Path(folder, name)
            if path.suffix.lower() in SUFFIXES:
                found.append(path.relative_to(root).as_posix())
    if not found:
        yield _failed(arg, "no .json or .eml files in this directory")
    prefix = arg if arg.endswith(("/", os.sep)) else arg + "/"
    for rel in sorted(found):
        yield Source(prefix + rel, partial(_read_file, prefix + rel, root / rel))


def _read_file(label: str, path: Path) -> Input:
    try:
        data = read_regular(path)           # a FIFO named b.eml is refused, not waited on
    except FileNotFoundError:
        return Input(label, None, "no such file")
    except OSError as exc:
        return Input(label, None, f"cannot read: {exc.strerror or exc}")
    return read_input(label, data, SUFFIXES.get(path.suffix.lower(), "sniff"))


def _is_policy(data: bytes) -> bool:
    """Text with the top-level `version:` and `rules:` keys of a policy (read when it is no message)."""
    return {m.group(1) for m in _POLICY_KEYS.finditer(data[:MAX_SNIFF])} == {b"version", b"rules"}


def _from_json(data: bytes) -> dict:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start}): not a JSON event") from None
    return to_lambda_event(_json_text(text))


def _json_text(text: Any, what: str | None = None) -> Any:
    """Parsed JSON; ``what`` names JSON nested in a string (the SNS Message) in errors."""
    prefix = f"{what}: " if what else ""
    if not isinstance(text, str):
        raise ValueError(f"{prefix}expected a JSON string, not {_kind(text)}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{prefix}invalid JSON at line {exc.lineno}, column {exc.colno}: "
                         f"{exc.msg}") from None
    except RecursionError:
        raise ValueError(f"{prefix}invalid JSON: nested too deeply") from None


def _from_records(records: Any) -> dict:
    """A Lambda event: SES records stay as they are, SNS records are unwrapped."""
    if not isinstance(records, list) or not records:
        raise ValueError("not an SES event: Records must be a non-empty list")
    result = []
    for index, record in enumerate(records):
        source = record.get("EventSource") if isinstance(record, dict) else None
        if source == "aws:sns":
            sns = record.get("Sns")
            message = sns.get("Message") if isinstance(sns, dict) else None
            try:
                result.extend(_from_notification(_json_text(message, "the SNS Message"))["Records"])
            except ValueError as exc:
                raise ValueError(f"Records[{index}]: {exc}") from None
        elif isinstance(record, dict) and record.get("eventSource") == "aws:ses":
            result.append(record)
        else:
            raise ValueError(f"Records[{index}] is neither an SES record (eventSource aws:ses) "
                             "nor an SNS record (EventSource aws:sns)")
    return {"Records": result}


def _from_notification(notification: Any) -> dict:
    """An SES receiving notification as the record the Lambda action would have sent."""
    if not isinstance(notification, dict):
        raise ValueError(f"not an SES notification: {_kind(notification)}, not an object")
    kind = notification.get("notificationType")
    if kind != "Received":
        raise ValueError(f"an SES {kind!r} notification, not a receiving (Received) notification")
    for key in ("mail", "receipt"):
        if not isinstance(notification.get(key), dict):
            raise ValueError(f"SES notification without a {key} object")
    return lambda_event({"mail": notification["mail"], "receipt": notification["receipt"]})


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")
