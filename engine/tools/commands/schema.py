"""`ses-rules schema`: the JSON Schema of the policy language, generated from the registries."""
from __future__ import annotations

import argparse
from typing import TextIO

from engine.tools.output import EXIT_OK, write_json
from engine.tools.schema import policy_schema

HELP = "print the JSON Schema of the policy language"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No arguments."""


def run(args: argparse.Namespace, out: TextIO) -> int:
    write_json(out, policy_schema())
    return EXIT_OK
