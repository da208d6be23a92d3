"""`ses-rules bundle POLICY`: the policy resolved for the replay worker (text, list files, environment)."""
from __future__ import annotations

import argparse
import json
from typing import TextIO

from engine.lang.diagnostics import PolicyError
from engine.replay.bundle import make_bundle
from engine.tools.output import EXIT_FINDING, EXIT_OK, SourceLines, diagnostic_lines, existing_file

HELP = "print a policy as a resolved bundle for the replay worker (examples/sam/replay.yaml)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", type=existing_file)


def run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        bundle = make_bundle(args.policy)
    except PolicyError as exc:
        for d in exc.errors:
            out.write("\n".join(diagnostic_lines(d, SourceLines())) + "\n")
        out.write(f"{args.policy}: invalid, no bundle\n")
        return EXIT_FINDING
    out.write(json.dumps(bundle, ensure_ascii=False, indent=1) + "\n")
    return EXIT_OK
