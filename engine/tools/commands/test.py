"""`ses-rules test TESTFILE...`: run YAML policy tests, optionally with coverage."""
from __future__ import annotations

import argparse
from typing import Any, TextIO

from engine.tools.explain import render_record
from engine.tools.output import EXIT_FINDING, EXIT_OK, SourceLines, diagnostic_lines, existing_file, write_json
from engine.tools.policytest import coverage, run_test_file

HELP = "run YAML policy tests"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("testfiles", nargs="+", metavar="TESTFILE", type=existing_file)
    parser.add_argument("--coverage", action="store_true", help="list rules and named conditions no case exercised")
    parser.add_argument("--min-coverage", type=_percent, metavar="PCT", help="fail when coverage is below PCT")


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 100")
    return value


def run(args: argparse.Namespace, out: TextIO) -> int:
    results = [run_test_file(path) for path in args.testfiles]
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    reports = coverage(results) if args.coverage or args.min_coverage is not None else []
    low = [c for c in reports if args.min_coverage is not None and c.percent < args.min_coverage]
    if args.format == "json":
        data: dict[str, Any] = {"files": [_filewrite_json(r) for r in results], "passed": passed, "failed": failed}
        if reports:
            data["coverage"] = [c.to_dict() for c in reports]
        if args.min_coverage is not None:
            data["min_coverage"] = args.min_coverage
        write_json(out, data)
    else:
        _test_text(out, results, reports, args.min_coverage)
        out.write(f"{passed} passed, {failed} failed\n")
    return EXIT_FINDING if failed or low else EXIT_OK


def _filewrite_json(result: Any) -> dict[str, Any]:
    policy = result.policy
    return {"file": result.file, "policy": {"file": result.policy_file, "name": policy.name,
                                            "revision": policy.revision} if policy else None,
            "errors": [str(e) for e in result.errors], "cases": [c.to_dict() for c in result.cases]}


def _test_text(out: TextIO, results: list[Any], reports: list[Any], minimum: float | None) -> None:
    sources = SourceLines()
    for result in results:
        for error in result.errors:
            out.write("ERROR " + "\n".join(diagnostic_lines(error, sources)) + "\n")
        for case in result.cases:
            if case.passed:
                continue
            out.write(f"FAIL {result.file}:{case.line}: {case.name}\n")
            for error in case.errors:
                out.write("  " + "\n  ".join(diagnostic_lines(error, sources)) + "\n")
            for problem in case.problems:
                out.write(f"  {problem}\n")
            for n, record in enumerate(case.decision.records if case.decision else [], 1):
                out.write(f"  record {n}:\n" + "\n".join(render_record(record, "    ")) + "\n")
    for report in reports:
        out.write(f"coverage {report.policy_file}: {len(report.covered)} of {report.total} exercised "
                  f"({report.percent:.0f}%)\n")
        for kind, name in report.missing:
            out.write(f"  not exercised: {kind} {name}\n")
        if minimum is not None and report.percent < minimum:
            out.write(f"  below --min-coverage {minimum:g}%\n")
