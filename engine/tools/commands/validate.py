"""`ses-rules validate POLICY...`: load, lint, report every diagnostic."""
from __future__ import annotations

import argparse
import os
from typing import Any, TextIO

from engine.tools.lint import lint
from engine.tools.output import (
    EXIT_FINDING,
    EXIT_OK,
    SourceLines,
    diagnostic_lines,
    existing_file,
    load,
    write_json,
)

HELP = "load and lint policies"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policies", nargs="+", metavar="POLICY", type=existing_file)
    parser.add_argument("--strict", action="store_true", help="lint warnings fail too (exit 1)")


def run(args: argparse.Namespace, out: TextIO) -> int:
    files = []
    for path in args.policies:
        policy, diagnostics = load(path)
        if policy is not None:
            diagnostics = lint(policy, environ=os.environ)
        errors = [d for d in diagnostics if d.severity == "error"]
        valid = not errors and not (args.strict and diagnostics)
        files.append({"file": path, "valid": valid, "diagnostics": diagnostics})
    if args.format == "json":
        write_json(out, {"files": [dict(f, diagnostics=[d.to_dict() for d in f["diagnostics"]]) for f in files]})
    else:
        sources = SourceLines()
        for f in files:
            for d in f["diagnostics"]:
                out.write("\n".join(diagnostic_lines(d, sources)) + "\n")
            out.write(f"{f['file']}: {_validity(f, args.strict)}\n")
    return EXIT_OK if all(f["valid"] for f in files) else EXIT_FINDING


def _validity(entry: dict[str, Any], strict: bool) -> str:
    diagnostics = entry["diagnostics"]
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    counts = ", ".join(f"{n} {what}{'s' if n != 1 else ''}" for n, what in ((errors, "error"), (warnings, "warning")) if n)
    if errors:
        return f"invalid: {counts}"
    if warnings and strict:
        return f"invalid under --strict: {counts}"
    return f"valid, {counts}" if counts else "valid"
