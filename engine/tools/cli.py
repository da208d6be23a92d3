"""The `ses-rules` command (docs/cli.md): argument parsing over the command table, nothing more.

Exit codes: 0 ok, 1 a finding (invalid policy, failed test, unreadable input),
2 a usage error. Nothing here decides anything about mail; the engine does.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, TextIO

from engine.tools.commands import COMMANDS
from engine.tools.output import EXIT_FINDING, EXIT_USAGE, UsageError

# Commands that print a report take --format.
FORMATTED = ("validate", "dry-run", "test", "serve")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("ses-rules")
    except PackageNotFoundError:   # run from a source tree that was never installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ses-rules", description="Validate, lint, dry-run and test SES rule-engine policies.",
        epilog="Exit codes: 0 ok, 1 a finding (invalid policy, failed test, unreadable input), 2 usage error.")
    parser.add_argument("--version", action="version", version=f"ses-rules {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    for name, module in COMMANDS.items():
        sub = commands.add_parser(name, parents=[fmt] if name in FORMATTED else [], help=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run one command; returns the exit code and never lets a traceback reach the user."""
    out = out or sys.stdout
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # argparse already printed usage or help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    run: Callable[[argparse.Namespace, TextIO], int] = args.run
    try:
        return run(args, out)
    except UsageError as exc:
        sys.stderr.write(f"ses-rules {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:   # output piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FINDING
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug must still end in one clear line, not a traceback
        sys.stderr.write(f"ses-rules {args.command}: internal error: {type(exc).__name__}: {exc}\n")
        return EXIT_FINDING
