"""`dry-run --render DIR`: the exact bytes each planned forward would send, written as files.

No AWS call: the stored message is the input itself, the identity is the
action's `from`, else FORWARD_FROM from the environment, else a placeholder
the output names.
"""
from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Any

from engine.actions.forwarding import Forward, Loop, TooLarge, rewrite

PLACEHOLDER_FROM = "forward-from@unset.invalid"   # FORWARD_FROM unset: the rendering still shows the rewrite
MAX_NAME = 200


def safe_name(label: str) -> str:
    """A file name from an input label: no folder separators, no `..`, no control characters."""
    text = "".join(c for c in label if unicodedata.category(c)[0] != "C")
    text = text.replace("\\", "/").replace("..", "_")
    text = "_".join(part for part in text.split("/") if part).lstrip(".")
    return text[-MAX_NAME:] or "input"


def render_forwards(raw: bytes, label: str, event: dict[str, Any], actions: list[dict[str, Any]],
                    folder: Path, environ: Any = os.environ) -> list[dict[str, Any]]:
    """One entry per planned forward: the file written, or why nothing was."""
    mail = (event.get("Records") or [{}])[0].get("ses", {}).get("mail", {})
    rendered = []
    forwards = [a for a in actions if a["type"] == "forward"]
    for number, action in enumerate(forwards, 1):
        identity = action.get("from") or environ.get("FORWARD_FROM") or PLACEHOLDER_FROM
        spec = Forward(identity, action.get("recipients", []), action.get("subject_prefix"),
                       list((action.get("headers") or {}).items()))
        entry: dict[str, Any] = {"rule": action["rule"], "to": action["to"], "from": identity}
        try:
            data = rewrite(raw, spec, envelope_sender=str(mail.get("source") or ""))
        except Loop:
            entry["outcome"] = "skipped: loop"
        except TooLarge:
            entry["outcome"] = "failed: too large"
        else:
            path = folder / f"{safe_name(label)}.{number}.eml"
            folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            entry["file"] = str(path)
        rendered.append(entry)
    return rendered
