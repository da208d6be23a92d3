"""The CLI's commands: one module each, with `HELP`, `add_arguments(parser)` and `run(args, out) -> int`.

A new command is one module here and one row in `COMMANDS`.
"""
from __future__ import annotations

from types import ModuleType

from engine.tools.commands import bundle, diff, dry_run, event, schema, serve, test, validate

# name -> module, in the order `--help` lists them.
COMMANDS: dict[str, ModuleType] = {
    "validate": validate,
    "dry-run": dry_run,
    "diff": diff,
    "test": test,
    "event": event,
    "schema": schema,
    "bundle": bundle,
    "serve": serve,
}
