"""`ses-rules serve` rows as they are decided: a line of text each (with what its actions did), or JSON lines.

A JSON line is the `dry-run` result row plus `smtp: {mail_from, rcpt_tos, peer}`, `outcomes`
(one per planned action, in order: `type`, `rule`, `outcome`, `effects`) when it had actions,
and `delivered` (the Maildir file) when it was delivered. Every row is flushed when written.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TextIO

from engine.actions.registry import preview
from engine.tools.output import rule_label, safe

MAX_RECIPIENTS_SHOWN = 3
INDENT = "    "


class JsonLines:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def row(self, row: dict[str, Any], subject: str | None = None) -> None:
        self.out.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.out.flush()


class TextLines:
    """`HH:MM:SS  DISPOSITION  RULE  <MAIL FROM> -> RCPT TO  "Subject"  id`, then one line per action and delivery."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def row(self, row: dict[str, Any], subject: str | None = None) -> None:
        lines = [_head(row, subject)]
        for number, outcome in enumerate(row.get("outcomes") or []):
            lines.append(INDENT + _outcome_line(row["actions"][number], outcome))
        if row.get("delivered"):
            lines.append(INDENT + f"delivered: {safe(row['delivered'])}")
        self.out.write("".join(line + "\n" for line in lines))
        self.out.flush()


def _head(row: dict[str, Any], subject: str | None) -> str:
    smtp = row["smtp"]
    recipients = smtp["rcpt_tos"]
    shown = ", ".join(recipients[:MAX_RECIPIENTS_SHOWN])
    if len(recipients) > MAX_RECIPIENTS_SHOWN:
        shown += f" (+{len(recipients) - MAX_RECIPIENTS_SHOWN} more)"
    if row["disposition"] is None:
        decided = f"{'UNREADABLE':<13}  {safe(row['errors'][0])}"
    else:
        decided = f"{row['disposition']:<13}  {rule_label(row['rule'], row['errors'])}"
        if row["shadow"]:
            decided += f" (shadow: {', '.join(row['shadow'])})"
        if row["errors"]:
            decided += f" (errors: {safe('; '.join(row['errors']))})"
    title = f'  "{subject}"' if subject is not None else ""
    return (f"{datetime.now():%H:%M:%S}  {decided}  <{safe(smtp['mail_from'])}> -> {safe(shown)}"
            f"{safe(title)}  {row['input']}")


def _outcome_line(action: dict[str, Any], outcome: dict[str, Any]) -> str:
    line = f"{preview(action)} ({action['rule']}): {outcome['outcome']}"
    if outcome.get("detail"):
        line += f" ({outcome['detail']})"
    for effect in outcome.get("effects") or []:
        line += "; " + effect_text(effect)
    return safe(line)


def effect_text(effect: dict[str, Any]) -> str:
    """One local effect as a person reads it."""
    if effect.get("call"):
        body = {k: v for k, v in effect.items() if k not in ("effect", "call")}
        return f"would call {effect['call']} (not sent): {json.dumps(body, ensure_ascii=False)}"
    if effect.get("to"):
        return (f"relayed to {effect['to']} as {effect['mail_from']} -> {', '.join(effect['rcpt_tos'])} "
                f"({effect['bytes']} bytes)")
    target = f" as {effect['mail_from']} -> {', '.join(effect['rcpt_tos'])}" if "rcpt_tos" in effect else ""
    return f"written to {effect['file']}{target}"
