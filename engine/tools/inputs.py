"""Read `dry-run` inputs: whatever form an SES message arrives in, one Lambda SES event each.

Accepted (spec section 6): a Lambda SES event (`.json`, with or without a byte-order mark); an SES
receiving notification as SNS delivers it (the object with ``notificationType: Received``, the
SNS envelope ``{"Type": "Notification", "Message": "<json>"}``, or an SNS Lambda event whose
records wrap one); a raw message (`.eml`, through ``engine.mail.sesevent.event_from_eml``); a
directory (its `.json` and `.eml` files, recursively, sorted by relative path); ``-`` (standard
input, JSON or raw mail, sniffed).

A file whose name ends neither in `.json` nor `.eml` is sniffed like standard input: JSON when
its first non-blank character is ``{`` or ``[``, a raw message otherwise.

Public API: ``Input``, ``read_inputs(args, stdin=None)``, ``read_input(label, data, kind)`` and
``to_lambda_event(obj)`` (the conversion alone, for callers that already hold JSON).
"""
from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from engine.files import read_regular
from engine.mail.sesevent import event_from_eml, lambda_event

SUFFIXES = {".json": "json", ".eml": "eml"}
_BOM = b"\xef\xbb\xbf"
A_POLICY = ("a policy, not a message or an event: dry-run takes one policy, then inputs; "
            "did you mean diff, to compare two policies?")
A_YAML_FILE = "a YAML file, not a message (.eml) or an SES event (.json)"
MAX_SNIFF = 64 * 1024        # a policy's keys are near its top; a large message is not scanned whole
_POLICY_KEYS = re.compile(rb"^(version|rules)[ \t]*:", re.MULTILINE)


@dataclass
class Input:
    """One row of a dry run: the event to evaluate, or why there is none."""

    label: str
    event: dict | None
    error: str | None = None


def read_inputs(args: Sequence[str], stdin: BinaryIO | None = None) -> Iterator[Input]:
    """One ``Input`` per file, per file inside a directory, or for ``-``; never raises for bad input."""
    for arg in args:
        if arg == "-":
            try:
                data = (stdin if stdin is not None else sys.stdin.buffer).read()
            except (OSError, ValueError) as exc:  # closed or unreadable standard input
                yield Input("-", None, f"cannot read standard input: {exc}")
                continue
            yield read_input("-", data, "sniff")
            continue
        path = Path(arg)
        if path.is_dir():
            yield from _read_directory(arg, path)
        else:
            yield _read_file(arg, path)


def read_input(label: str, data: bytes, kind: str) -> Input:
    """An input from bytes: ``kind`` is ``json``, ``eml`` or ``sniff``."""
    yaml_file = label.lower().endswith((".yaml", ".yml"))
    if yaml_file and kind != "json":
        return Input(label, None, A_POLICY if _is_policy(data) else A_YAML_FILE)
    if kind == "sniff":
        kind = "json" if data.removeprefix(_BOM).lstrip()[:1] in (b"{", b"[") else "eml"
    try:
        event = _from_json(data) if kind == "json" else event_from_eml(data)
    except ValueError as exc:
        return Input(label, None, A_POLICY if kind == "eml" and _is_policy(data) else str(exc))
    return Input(label, event)


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


def _read_directory(arg: str, root: Path) -> Iterator[Input]:
    """Every `.json` and `.eml` below ``root``, sorted by relative path, labelled ``arg/rel``."""
    found = []
    for folder, _, files in os.walk(root, followlinks=False):
        for name in files:
            path = Path(folder, name)
            if path.suffix.lower() in SUFFIXES:
                found.append(path.relative_to(root).as_posix())
    if not found:
        yield Input(arg, None, "no .json or .eml files in this directory")
    prefix = arg if arg.endswith(("/", os.sep)) else arg + "/"
    for rel in sorted(found):
        yield _read_file(prefix + rel, root / rel)


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
