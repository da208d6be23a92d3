"""`ses-rules event`: print a Lambda SES event built from flags or from a raw message."""
from __future__ import annotations

import argparse
import sys
from typing import TextIO

from engine.files import read_regular
from engine.mail.fields import DMARC_POLICIES, VERDICTS
from engine.mail.sesevent import (
    ADDRESS_FIELDS,
    EVENT_FIELDS,
    HEADER_FIELDS,
    VERDICT_FIELDS,
    build_event,
    event_from_eml,
    normalize_fields,
)
from engine.tools.output import EXIT_FINDING, EXIT_OK, UsageError, write_json

HELP = "print a Lambda SES event built from flags or an .eml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per event field; the header-backed ones come from the field registry."""
    for name in ADDRESS_FIELDS:
        spec = HEADER_FIELDS.get(name)
        parser.add_argument(_flag(name), action="append", metavar="ADDRESS",
                            help=f"{spec.header} header (repeatable)" if spec else "envelope RCPT TO (repeatable)")
    for name, spec in HEADER_FIELDS.items():
        if not spec.is_address:
            parser.add_argument(_flag(name), metavar="TEXT", help=f"{spec.header} header")
    parser.add_argument("--sender", metavar="ADDRESS", help="envelope MAIL FROM")
    for verdict in VERDICT_FIELDS:
        parser.add_argument(_flag(verdict), type=str.upper, choices=VERDICTS, help="default PASS")
    parser.add_argument("--dmarc-policy", type=str.lower, choices=DMARC_POLICIES,
                        help="with --dmarc FAIL (default none)")
    parser.add_argument("--header", action="append", type=_header, metavar="NAME:VALUE", help="repeatable")
    parser.add_argument("--eml", metavar="FILE", help="derive the event from a raw message (- for stdin)")


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _header(text: str) -> str:
    if ":" not in text or not text.split(":", 1)[0].strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME:VALUE")
    return text


def run(args: argparse.Namespace, out: TextIO) -> int:
    fields = {name: getattr(args, name) for name in EVENT_FIELDS if name != "eml"}
    if args.dmarc_policy and args.dmarc != "FAIL":
        raise UsageError("--dmarc-policy: SES reports a DMARC policy only when DMARC fails; "
                         "add --dmarc FAIL")
    try:
        fields = normalize_fields(fields)
    except ValueError as exc:   # flags that contradict each other (--dmarc-policy without --dmarc FAIL)
        raise UsageError(str(exc)) from None
    if args.eml is None:
        write_json(out, build_event(fields))
        return EXIT_OK
    try:
        event = event_from_eml(_read_eml(args.eml), fields)
    except ValueError as exc:   # the file is not a mail message
        sys.stderr.write(f"ses-rules event: {args.eml}: {exc}\n")
        return EXIT_FINDING
    write_json(out, event)
    return EXIT_OK


def _read_eml(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return read_regular(path)            # a FIFO is refused, not waited on
    except FileNotFoundError:
        raise UsageError(f"--eml {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"--eml {path}: {exc.strerror or exc}") from None
