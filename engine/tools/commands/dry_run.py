"""`ses-rules dry-run POLICY INPUT...`: evaluate a policy against events and messages, one row each."""
from __future__ import annotations

import argparse
from typing import Any, TextIO

from engine.decision import DISPOSITIONS
from engine.lang.diagnostics import Diagnostic
from engine.tools.explain import render_record
from engine.tools.inputs import read_inputs
from engine.tools.output import (
    EXIT_FINDING,
    EXIT_OK,
    SourceLines,
    diagnostic_lines,
    existing_file,
    load,
    rule_label,
    safe,
    table,
    write_json,
)

HELP = "evaluate a policy against events and .eml files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", type=existing_file)
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="Lambda SES event .json, SNS notification, .eml, a directory, or - for stdin")
    parser.add_argument("--explain", action="store_true", help="show how every rule and condition decided")


def run(args: argparse.Namespace, out: TextIO) -> int:
    policy, diagnostics = load(args.policy)
    if policy is None:
        return _load_failure(args, out, diagnostics)
    results = []
    for item in read_inputs(args.inputs):
        if item.event is None:
            results.append({"input": item.label, "disposition": None, "rule": None, "shadow": [],
                            "errors": [item.error or "unreadable"], "unreadable": True})
            continue
        decision = policy.evaluate(item.event, explain=args.explain)
        row = {"input": item.label, "disposition": decision.disposition, "rule": decision.rule,
               "shadow": list(decision.shadow), "errors": list(decision.errors)}
        if args.explain:
            row["records"] = decision.records
        results.append(row)
    summary: dict[str, int] = {d: 0 for d in reversed(DISPOSITIONS)}   # most restrictive first
    summary["unreadable"] = 0
    for row in results:
        summary["unreadable" if row.pop("unreadable", False) else row["disposition"]] += 1
    if args.format == "json":
        rows = [dict(row, records=[r.to_dict() for r in row["records"]]) if "records" in row else row
                for row in results]
        write_json(out, {"policy": {"name": policy.name, "revision": policy.revision},
                    "results": rows, "summary": summary})
    else:
        _dry_run_text(out, policy, results, summary, args.explain)
    return EXIT_FINDING if summary["unreadable"] else EXIT_OK


def _load_failure(args: argparse.Namespace, out: TextIO, diagnostics: list[Diagnostic]) -> int:
    if args.format == "json":
        write_json(out, {"policy": None, "diagnostics": [d.to_dict() for d in diagnostics]})
    else:
        sources = SourceLines()
        for d in diagnostics:
            out.write("\n".join(diagnostic_lines(d, sources)) + "\n")
        out.write(f"{diagnostics[0].file if diagnostics else 'policy'}: invalid, nothing evaluated\n")
    return EXIT_FINDING


def _dry_run_text(out: TextIO, policy: Any, results: list[dict[str, Any]], summary: dict[str, int],
                  explain: bool) -> None:
    out.write(f"policy {policy.name} (revision {policy.revision})\n")
    if explain:
        for row in results:
            out.write(f"\n== {safe(row['input'])}\n")
            if row["disposition"] is None:
                out.write(f"  unreadable: {safe(row['errors'][0])}\n")
                continue
            records = row.get("records") or []
            for n, record in enumerate(records, 1):
                if len(records) > 1:
                    out.write(f"  record {n}:\n")
                out.write("\n".join(render_record(record, "    " if len(records) > 1 else "  ")) + "\n")
            if not records:
                out.write("  " + safe("; ".join(row["errors"])) + f"\n  => {row['disposition']}: on_error applied\n")
        out.write("\n")
    rows = []
    for row in results:
        if row["disposition"] is None:
            rows.append([safe(row["input"]), "UNREADABLE", "-", "-", safe(row["errors"][0])])
        else:
            rows.append([safe(row["input"]), row["disposition"], rule_label(row["rule"], row["errors"]),
                         ",".join(row["shadow"]) or "-", safe("; ".join(row["errors"]))])
    out.write("\n".join(line.rstrip() for line in table(["INPUT", "DISPOSITION", "RULE", "SHADOW", "NOTE"], rows)))
    total = len(results)
    counts = ", ".join(f"{k} {v}" for k, v in summary.items() if v or k != "unreadable")
    out.write(f"\n\n{total} input{'s' if total != 1 else ''}: {counts}\n")
