"""`ses-rules dry-run POLICY INPUT...`: evaluate a policy against events and messages, one row each.

Rows are printed as inputs are decided, in input order, while later ones are still read
(``--jobs`` at a time: S3 objects, files); a progress bar goes to standard error when it is a
terminal. ``--only``, ``--rule`` and ``--summary`` choose what is printed; the summary always
counts every input.
"""
from __future__ import annotations

import argparse
from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import Any, TextIO

from engine.decision import DISPOSITIONS
from engine.lang.diagnostics import Diagnostic
from engine.policy import Policy
from engine.replay.pool import ordered_map
from engine.replay.rows import dry_row
from engine.suggest import hint_for
from engine.tools.inputs import Source, plan_inputs
from engine.tools.output import (
    EXIT_FINDING,
    EXIT_OK,
    SourceLines,
    UsageError,
    diagnostic_lines,
    existing_file,
    load,
    write_json,
)
from engine.tools.progress import Progress
from engine.tools.render import render_forwards
from engine.tools.rowstream import JsonReport, TextReport

HELP = "evaluate a policy against events, .eml files, folders and S3 archives"
LOOKAHEAD = 1000          # inputs planned before the first row: column widths, the bar's total
ONLY = (*DISPOSITIONS, "UNREADABLE")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", type=existing_file)
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="Lambda SES event .json, SNS notification, .eml, a directory, "
                             "s3://BUCKET/PREFIX, or - for stdin")
    parser.add_argument("--explain", action="store_true", help="show how every rule and condition decided")
    add_jobs(parser)
    parser.add_argument("--only", action="append", type=str.upper, choices=ONLY, metavar="DISPOSITION",
                        help=f"print only rows with this outcome ({', '.join(ONLY)}); repeatable")
    parser.add_argument("--rule", action="append", metavar="NAME",
                        help="print only rows this rule decided or matched as a shadow rule; repeatable")
    parser.add_argument("--summary", action="store_true", help="print the counts only, no rows")
    parser.add_argument("--render", metavar="DIR", type=Path,
                        help="write each message a forward would send, byte for byte, to DIR/<input>.<n>.eml")


def add_jobs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=_jobs, default=16, metavar="N",
                        help="inputs read at a time (default 16)")


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 1 to 256")
    return value


def run(args: argparse.Namespace, out: TextIO) -> int:
    policy, diagnostics = load(args.policy)
    if policy is None:
        return _load_failure(args, out, diagnostics)
    shown = _filter(args, policy)
    head, total, sources = lookahead(plan_inputs(args.inputs, jobs=args.jobs))
    decide = partial(_decide, policy=policy, explain=args.explain, render=args.render)
    summary: dict[str, int] = {d: 0 for d in reversed(DISPOSITIONS)}   # most restrictive first
    summary.update(unreadable=0, skipped=0)
    printed = 0
    with Progress(out, total) as progress:
        report = _report(args, progress, policy, [s.label for s in head])
        report.start()
        for row in ordered_map(decide, chain(head, sources), args.jobs):
            progress.step()
            summary[_outcome(row)] += 1
            if "skipped" not in row and shown(row) and not args.summary:
                report.row(row)
                printed += 1
        filtered = args.only or args.rule
        report.finish(summary, printed if filtered and not args.summary else None)
    return EXIT_FINDING if summary["unreadable"] else EXIT_OK


def lookahead(sources: Any) -> tuple[list[Source], int | None, Any]:
    """The first inputs planned now; the total when they are all there is."""
    head = list(islice(sources, LOOKAHEAD))
    return head, (len(head) if len(head) < LOOKAHEAD else None), sources


def _decide(source: Source, policy: Policy, explain: bool, render: Path | None = None) -> dict[str, Any]:
    item = source.load()
    if item.skipped:
        return {"input": item.label, "skipped": item.skipped}
    row = dry_row(item, policy, explain)
    if render is not None and item.raw is not None and item.event is not None and row.get("actions"):
        row["rendered"] = render_forwards(item.raw, item.label, item.event, row["actions"], render)
    return row


def _outcome(row: dict[str, Any]) -> str:
    if "skipped" in row:
        return "skipped"
    return "unreadable" if row.pop("unreadable", False) else row["disposition"]


def _filter(args: argparse.Namespace, policy: Policy) -> Any:
    """A predicate for the rows ``--only`` and ``--rule`` let through."""
    names = [rule.name for rule in policy.rules]
    for name in args.rule or ():
        if name not in names:
            hint = hint_for(name, names)
            raise UsageError(f"--rule {name}: no such rule in {policy.name}" + (f" ({hint})" if hint else ""))
    only, rules = set(args.only or ()), set(args.rule or ())

    def shown(row: dict[str, Any]) -> bool:
        outcome = row["disposition"] or "UNREADABLE"
        if only and outcome not in only:
            return False
        return not rules or row["rule"] in rules or bool(rules.intersection(row["shadow"]))
    return shown


def _report(args: argparse.Namespace, progress: Progress, policy: Policy, labels: list[str]) -> Any:
    if args.format == "json":
        return JsonReport(progress, policy, rows=not args.summary)
    return TextReport(progress, policy, labels, args.explain and not args.summary, rows=not args.summary)


def _load_failure(args: argparse.Namespace, out: TextIO, diagnostics: list[Diagnostic]) -> int:
    if args.format == "json":
        write_json(out, {"policy": None, "diagnostics": [d.to_dict() for d in diagnostics]})
    else:
        sources = SourceLines()
        for d in diagnostics:
            out.write("\n".join(diagnostic_lines(d, sources)) + "\n")
        out.write(f"{diagnostics[0].file if diagnostics else 'policy'}: invalid, nothing evaluated\n")
    return EXIT_FINDING
