"""`ses-rules diff OLD NEW INPUT...`: which mails a policy change would treat differently.

Both policies decide every input (events, `.eml`, folders, `s3://` archives, as `dry-run`
reads them); the report groups fate transitions, deciding-rule changes and action changes.
`--results s3://...` summarises the rows the replay worker (`handler.replay_handler`) wrote
instead, exactly as if the same objects had been diffed here.

Exit codes: with ``--fail-on TOKENS``, 1 exactly when a listed token occurred, else 0;
without it, 1 when an input could not be read, else 0; 2 for a usage error.
"""
from __future__ import annotations

import argparse
import sys
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any, TextIO

from engine.policy import Policy
from engine.replay import archive
from engine.replay.pool import ordered_map
from engine.replay.results import ResultsError, read_results
from engine.replay.rows import diff_row
from engine.replay.summary import DiffSummary, parse_fail_on
from engine.tools.commands.dry_run import add_jobs, lookahead
from engine.tools.diffreport import CsvRows, write_text
from engine.tools.inputs import Source, plan_inputs
from engine.tools.output import EXIT_FINDING, EXIT_OK, SourceLines, UsageError, diagnostic_lines, load, write_json
from engine.tools.progress import Progress

HELP = "show which inputs two policies decide differently"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="OLD NEW INPUT",
                        help="the old policy, the new policy, then inputs as dry-run takes them")
    parser.add_argument("--results", metavar="s3://BUCKET/PREFIX",
                        help="summarise the replay worker's rows instead (OLD NEW optional: checked)")
    parser.add_argument("--format", choices=("text", "json", "csv"), default="text",
                        help="output format (default text)")
    parser.add_argument("--limit", type=_limit, default=10, metavar="N",
                        help="inputs listed per group (default 10, 0 for all)")
    parser.add_argument("--fail-on", metavar="TOKENS",
                        help="exit 1 when one occurs: FROM->TO transitions (a disposition or *), "
                             "rules, actions, unreadable; comma-separated")
    add_jobs(parser)


def _limit(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (0 for all)")
    return int(text)


def run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        tokens = parse_fail_on(args.fail_on) if args.fail_on is not None else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.results:
        summary = _from_results(args, out)
    else:
        summary = _local(args, out)
    if summary is None:
        return EXIT_FINDING
    if args.format == "json":
        write_json(out, summary.to_dict())
    elif args.format == "text":
        write_text(out, summary)
    return _exit_code(summary, tokens)


def _exit_code(summary: DiffSummary, tokens: list[str] | None) -> int:
    if tokens is None:
        return EXIT_FINDING if summary.unreadable else EXIT_OK
    failed = summary.failures(tokens)
    if failed:
        sys.stderr.write(f"ses-rules diff: failing on {', '.join(failed)}\n")
    return EXIT_FINDING if failed else EXIT_OK


def _policies(paths: list[str], out: TextIO) -> tuple[Policy, Policy] | None:
    loaded = []
    for path in paths:
        policy, diagnostics = load(path)
        if policy is None:
            for d in diagnostics:
                out.write("\n".join(diagnostic_lines(d, SourceLines())) + "\n")
            out.write(f"{path}: invalid, nothing compared\n")
            return None
        loaded.append(policy)
    return loaded[0], loaded[1]


def _local(args: argparse.Namespace, out: TextIO) -> DiffSummary | None:
    if len(args.paths) < 3:
        raise UsageError("expected OLD NEW INPUT... (or --results s3://...)")
    _exist(args.paths[:2])
    policies = _policies(args.paths[:2], out)
    if policies is None:
        return None
    old, new = policies
    summary = DiffSummary(_identity(old), _identity(new), args.limit)
    head, total, sources = lookahead(plan_inputs(args.paths[2:], jobs=args.jobs))
    csv_rows = CsvRows(out) if args.format == "csv" else None
    with Progress(out, total) as progress:
        for row in ordered_map(partial(_row, old=old, new=new), chain(head, sources), args.jobs):
            progress.step()
            summary.add(row)
            if csv_rows:
                csv_rows.row(row)
    return summary


def _row(source: Source, old: Policy, new: Policy) -> dict[str, Any]:
    return diff_row(source.load(), old, new)


def _from_results(args: argparse.Namespace, out: TextIO) -> DiffSummary | None:
    if len(args.paths) not in (0, 2):
        raise UsageError("with --results, give no INPUT (and OLD NEW only to check the revisions)")
    if args.format == "csv":
        raise UsageError("--results summarises: use --format text or json")
    _exist(args.paths)
    expected = _policies(args.paths, out) if args.paths else None
    if args.paths and expected is None:
        return None
    summary = DiffSummary({}, {}, args.limit)
    try:
        s3 = archive.client(args.jobs)
        batches = read_results(s3, args.results, args.jobs)
        summary.add_in_any_order(row for head, rows in _checked(batches, summary, expected) for row in rows)
    except (ValueError, archive.ArchiveError, ResultsError) as exc:
        out.write(f"ses-rules diff: {exc}\n")
        return None
    return summary


def _checked(batches: Any, summary: DiffSummary, expected: tuple[Policy, Policy] | None) -> Any:
    """The batches, once their header names the policies given (when given)."""
    for head, rows in batches:
        summary.old, summary.new = head["old"], head["new"]
        if expected and (head["old"], head["new"]) != tuple(_identity(p) for p in expected):
            raise ResultsError(f"the results are of {head['old']} -> {head['new']}, not of the "
                               "policies given")
        yield head, rows


def _identity(policy: Policy) -> dict[str, str]:
    return {"name": policy.name, "revision": policy.revision}


def _exist(paths: list[str]) -> None:
    for path in paths:
        if not Path(path).is_file():
            raise UsageError(f"{path}: no such policy file")
