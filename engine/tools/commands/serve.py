"""`ses-rules serve POLICY`: a local SMTP server that decides each message as the Lambda function would.

Any mail client (swaks, smtplib, a mail program) sends to it; each message becomes the SES
event SES would send, is decided, printed (one row, flushed) and has its actions run locally
(`engine.tools.localbackend`); `CONTINUE` mail is delivered to ``--maildir``. The SMTP side
lives in `engine.tools.smtpserver` and is imported only here, so the other commands never load
aiosmtpd (the `cli` extra).
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from engine.mail.sesevent import VERDICT_FIELDS, normalize_fields
from engine.policy import Policy
from engine.suggest import hint_for
from engine.tools.localbackend import LocalBackend, open_maildir
from engine.tools.output import EXIT_FINDING, SourceLines, UsageError, diagnostic_lines, existing_file, load
from engine.tools.policywatch import PolicyFile
from engine.tools.servereport import JsonLines, TextLines
from engine.tools.serving import Receiver, local_setup

HELP = "a local SMTP server that decides every message it receives with the policy, as SES would"
DEFAULT_LISTEN = "127.0.0.1:2525"
VERDICT_NAMES = (*VERDICT_FIELDS, "dmarc_policy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", type=existing_file)
    parser.add_argument("--listen", type=_listen, default=DEFAULT_LISTEN, metavar="HOST:PORT",
                        help=f"where to listen (default {DEFAULT_LISTEN}; port 0 picks a free one); "
                             "loopback only unless --allow-remote")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --listen address other machines can reach")
    parser.add_argument("--maildir", type=Path, metavar="DIR",
                        help="deliver CONTINUE mail to this Maildir; actions write under it too")
    parser.add_argument("--relay", type=_relay, metavar="HOST:PORT",
                        help="send forwards to this SMTP server (default: written to the Forwarded folder)")
    parser.add_argument("--verdict", action="append", type=_verdict, default=[], metavar="NAME=STATUS",
                        help=f"a verdict every message gets ({', '.join(VERDICT_NAMES)}; default PASS, "
                             "marked assumed); repeatable")
    parser.add_argument("--watch", action="store_true",
                        help="reload the policy when its file changes (a bad edit keeps the last good one)")


def _address(text: str, lowest_port: int) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not lowest_port <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (port {lowest_port} to 65535; "
                                         "an IPv6 address in brackets, [::1]:2525)")
    return host, int(port)


def _listen(text: str) -> tuple[str, int]:
    return _address(text, 0)


def _relay(text: str) -> tuple[str, int]:
    return _address(text, 1)


def _verdict(text: str) -> tuple[str, str]:
    name, sep, status = text.partition("=")
    name = name.strip().lower().replace("-", "_")
    if not sep or name not in VERDICT_NAMES:
        hint = hint_for(name, VERDICT_NAMES) if sep else None
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=STATUS with NAME one of {', '.join(VERDICT_NAMES)}"
                                         + (f" ({hint})" if hint else ""))
    return name, status.strip()


def _verdicts(pairs: list[tuple[str, str]]) -> dict[str, str]:
    try:
        return normalize_fields(dict(pairs))
    except ValueError as exc:
        raise UsageError(f"--verdict {exc}") from None


def _check_listen(host: str, port: int, allow_remote: bool) -> None:
    """Loopback only unless asked: anyone who reaches the port can make this machine forward mail."""
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except socket.gaierror as exc:
        raise UsageError(f"--listen {host}: {exc.strerror}") from None
    outside = sorted(a for a in found if not ipaddress.ip_address(a.partition("%")[0]).is_loopback)
    if outside and not allow_remote:
        raise UsageError(f"--listen {host} is reachable from other machines ({', '.join(outside)}); "
                         "use 127.0.0.1 or ::1, or add --allow-remote")


def run(args: argparse.Namespace, out: TextIO) -> int:
    verdicts = _verdicts(args.verdict)
    host, port = args.listen
    _check_listen(host, port, args.allow_remote)
    try:
        from engine.tools import smtpserver
    except ImportError as exc:
        sys.stderr.write(f"ses-rules serve: needs aiosmtpd ({exc}); install the cli extra: "
                         "pip install 'ses-rules[cli]'\n")
        return EXIT_FINDING
    policy, diagnostics = load(args.policy)
    if policy is None:
        for d in diagnostics:
            sys.stderr.write("\n".join(diagnostic_lines(d, SourceLines())) + "\n")
        sys.stderr.write(f"ses-rules serve: {args.policy} does not load; nothing served\n")
        return EXIT_FINDING
    folder = args.maildir or Path(tempfile.mkdtemp(prefix="ses-rules-serve-"))
    if args.maildir:
        try:
            open_maildir(args.maildir)
        except OSError as exc:
            raise UsageError(f"--maildir {args.maildir}: {exc.strerror or exc}") from None
    watched = PolicyFile(Path(args.policy), policy)
    setup = local_setup(os.environ)
    receiver = Receiver(watched.current, verdicts, LocalBackend(folder, args.relay), setup, args.maildir)
    report = JsonLines(out) if args.format == "json" else TextLines(out)
    server = smtpserver.Server(host, port, receiver, watched, report.row, watch=args.watch)
    for line in _banner(args, policy, verdicts, folder, setup.forward_from):
        server.say(line)
    try:
        return asyncio.run(smtpserver.run(server))
    except OSError as exc:
        server.say(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        return EXIT_FINDING


def _banner(args: argparse.Namespace, policy: Policy, verdicts: dict[str, str], folder: Path,
            forward_from: str) -> list[str]:
    """What the server will do, said once at start (on standard error: rows own standard output)."""
    name, revision = policy.name, policy.revision
    assumed = [v for v in VERDICT_FIELDS if v not in verdicts]
    given = ", ".join(f"{k}={v}" for k, v in verdicts.items())
    lines = [f"policy {name} (revision {revision}) from {args.policy}" + (", watched" if args.watch else ""),
             "verdicts " + "; ".join(filter(None, [given and f"set: {given}",
                                                    assumed and f"assumed PASS: {', '.join(assumed)}"]))]
    if args.maildir:
        lines.append(f"CONTINUE mail is delivered to the Maildir {args.maildir}; actions write under it")
    else:
        lines.append(f"no --maildir: mail is not delivered; actions write under {folder}")
    where = f"relayed to {args.relay[0]}:{args.relay[1]}" if args.relay else f"written to {folder / '.Forwarded'}"
    lines.append(f"forwards are {where}, sent as {forward_from} unless the action names `from`"
                 + (" (FORWARD_FROM is not set)" if "unset.invalid" in forward_from else ""))
    return lines
