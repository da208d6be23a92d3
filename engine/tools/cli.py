"""The `ses-rules` command (SPEC section 6): a thin layer of argument parsing and rendering.

Exit codes: 0 ok, 1 a finding (invalid policy, failed test, unreadable input),
2 a usage error. Nothing here decides anything about mail; the engine does.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

from engine.decision import DISPOSITIONS
from engine.lang.diagnostics import Diagnostic, PolicyError
from engine.lang.loader import load_policy
from engine.mail.fields import DMARC_POLICIES, VERDICTS
from engine.tools.inputs import read_inputs
from engine.tools.lint import lint
from engine.tools.policytest import coverage, run_test_file
from engine.tools.schema import policy_schema
from engine.mail.sesevent import build_event, event_from_eml, normalize_fields

EXIT_OK, EXIT_FINDING, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A command line that cannot run: reported like argparse's own errors, exit 2."""


# --- arguments --------------------------------------------------------------------

def _existing_file(text: str) -> str:
    """An argparse type: a path that must exist and be a file (else a usage error, exit 2)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a directory, not a file")
    return text


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 100")
    return value


def _header(text: str) -> str:
    if ":" not in text or not text.split(":", 1)[0].strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME:VALUE")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ses-rules", description="Validate, lint, dry-run and test SES rule-engine policies.",
        epilog="Exit codes: 0 ok, 1 a finding (invalid policy, failed test, unreadable input), 2 usage error.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")

    validate = commands.add_parser("validate", parents=[fmt], help="load and lint policies")
    validate.add_argument("policies", nargs="+", metavar="POLICY", type=_existing_file)
    validate.add_argument("--strict", action="store_true", help="lint warnings fail too (exit 1)")
    validate.set_defaults(run=cmd_validate)

    dry = commands.add_parser("dry-run", parents=[fmt], help="evaluate a policy against events and .eml files")
    dry.add_argument("policy", metavar="POLICY", type=_existing_file)
    dry.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="Lambda SES event .json, SNS notification, .eml, a directory, or - for stdin")
    dry.add_argument("--explain", action="store_true", help="show how every rule and condition decided")
    dry.set_defaults(run=cmd_dry_run)

    test = commands.add_parser("test", parents=[fmt], help="run YAML policy tests")
    test.add_argument("testfiles", nargs="+", metavar="TESTFILE", type=_existing_file)
    test.add_argument("--coverage", action="store_true", help="list rules and named conditions no case exercised")
    test.add_argument("--min-coverage", type=_percent, metavar="PCT", help="fail when coverage is below PCT")
    test.set_defaults(run=cmd_test)

    event = commands.add_parser("event", help="print a Lambda SES event built from flags or an .eml")
    for flag in ("from", "to", "cc", "reply-to", "recipient"):
        event.add_argument(f"--{flag}", action="append", metavar="ADDRESS", help="repeatable")
    event.add_argument("--subject")
    event.add_argument("--sender", metavar="ADDRESS", help="envelope MAIL FROM")
    for verdict in ("spf", "dkim", "dmarc", "spam", "virus"):
        event.add_argument(f"--{verdict}", type=str.upper, choices=VERDICTS, help="default PASS")
    event.add_argument("--dmarc-policy", type=str.lower, choices=DMARC_POLICIES,
                       help="with --dmarc FAIL (default none)")
    event.add_argument("--header", action="append", type=_header, metavar="NAME:VALUE", help="repeatable")
    event.add_argument("--eml", metavar="FILE", help="derive the event from a raw message (- for stdin)")
    event.set_defaults(run=cmd_event)

    schema = commands.add_parser("schema", help="print the JSON Schema of the policy language")
    schema.set_defaults(run=cmd_schema)
    return parser


# --- output helpers ---------------------------------------------------------------

def _json(out: TextIO, data: Any) -> None:
    out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def table(headers: list[str], rows: Iterable[list[str]]) -> list[str]:
    """Left-aligned columns; the last column is not padded."""
    rows = [headers] + [list(r) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
    return ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] if len(r) > 1 else r[0]
            for r in rows]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _safe(text: str) -> str:
    """Text for a terminal: control characters (an ESC in a file name or an error) shown escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _rule_label(rule: str | None, errors: list[str]) -> str:
    if rule:
        return rule
    return "(on_error)" if errors else "(default)"


def _load(path: str) -> tuple[Any, list[Diagnostic]]:
    """The policy, or the diagnostics that say why it did not load (unreadable files included)."""
    try:
        return load_policy(path), []
    except PolicyError as exc:
        return None, exc.errors


def _diagnostic_line(d: Diagnostic) -> str:
    return f"{d} [{d.code}]"


# --- explain traces -----------------------------------------------------------------

def render_record(record: dict[str, Any], indent: str = "  ") -> list[str]:
    """One record's trace as an operator reads it: each rule tried, each condition, the outcome."""
    lines = []
    for step in record.get("trace") or []:
        mode = ", shadow" if step.get("mode") == "shadow" else ""
        outcome = "matched" if step.get("held") else "no match"
        lines.append(f"{indent}rule {step['rule']} ({step.get('disposition')}{mode}): {outcome}")
        if step.get("condition") is None:
            lines.append(f"{indent}  [yes] no `when`: always matches")
        else:
            lines.extend(_render_condition(step["condition"], indent + "  "))
    errors = record.get("errors") or []
    lines.extend(f"{indent}error: {_safe(error)}" for error in errors)
    outcome = record.get("disposition")
    if record.get("rule"):
        lines.append(f"{indent}=> {outcome}: rule {record['rule']} decided")
    elif errors:
        lines.append(f"{indent}=> {outcome}: on_error applied")
    else:
        lines.append(f"{indent}=> {outcome}: no rule decided, the policy default applied")
    if record.get("shadow"):
        lines.append(f"{indent}   shadow rules that matched: {', '.join(record['shadow'])}")
    return lines


def _mark(node: dict[str, Any]) -> str:
    return "[yes]" if node.get("held") else "[no] "


def _render_condition(node: dict[str, Any], indent: str) -> list[str]:
    """A condition trace node (see engine/compiler.py `explain`) and its children."""
    deeper = indent + "      "
    if "test" in node:
        checks = ", ".join(f"{c['op']} {_values_text(c.get('arg'))} ({'yes' if c.get('held') else 'no'})"
                           for c in node.get("checks", []))
        every = " (match: all, every value must)" if node.get("match") == "all" else ""
        return [f"{indent}{_mark(node)} {node['test']} saw {_values_text(node.get('values'))}{every}: {checks}"]
    for key in ("all", "any"):
        if key in node:
            lines = [f"{indent}{_mark(node)} {key} of:"]
            for child in node[key]:
                lines.extend(_render_condition(child, deeper))
            return lines
    if "not" in node:
        return [f"{indent}{_mark(node)} not:"] + _render_condition(node["not"], deeper)
    if "condition" in node:
        return [f"{indent}{_mark(node)} condition {node['condition']}:"] + _render_condition(node["then"], deeper)
    return [f"{indent}{_mark(node)} {_values_text(node)}"]


def _values_text(values: Any) -> str:
    if values == []:
        return "nothing"
    text = json.dumps(values, ensure_ascii=False)
    return text if len(text) <= 200 else text[:197] + "..."


# --- validate ---------------------------------------------------------------------

def cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    files = []
    for path in args.policies:
        policy, diagnostics = _load(path)
        if policy is not None:
            diagnostics = lint(policy)
        errors = [d for d in diagnostics if d.severity == "error"]
        valid = not errors and not (args.strict and diagnostics)
        files.append({"file": path, "valid": valid, "diagnostics": diagnostics})
    if args.format == "json":
        _json(out, {"files": [dict(f, diagnostics=[d.to_dict() for d in f["diagnostics"]]) for f in files]})
    else:
        for f in files:
            for d in f["diagnostics"]:
                out.write(_diagnostic_line(d) + "\n")
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


# --- dry-run ----------------------------------------------------------------------

def cmd_dry_run(args: argparse.Namespace, out: TextIO) -> int:
    policy, diagnostics = _load(args.policy)
    if policy is None:
        return _load_failure(args, out, diagnostics)
    results = []
    for item in read_inputs(args.inputs):
        if item.event is None:
            results.append({"input": item.label, "disposition": None, "rule": None, "shadow": [],
                            "errors": [item.error or "unreadable"], "unreadable": True})
            continue
        decision = policy.evaluate(item.event, explain=args.explain).to_dict()
        row = {"input": item.label, **{k: decision[k] for k in ("disposition", "rule", "shadow", "errors")}}
        if args.explain:
            row["records"] = decision["records"]
        results.append(row)
    summary: dict[str, int] = {d: 0 for d in reversed(DISPOSITIONS)}   # most restrictive first
    summary["unreadable"] = 0
    for row in results:
        summary["unreadable" if row.pop("unreadable", False) else row["disposition"]] += 1
    if args.format == "json":
        _json(out, {"policy": {"name": policy.name, "revision": policy.revision},
                    "results": results, "summary": summary})
    else:
        _dry_run_text(out, policy, results, summary, args.explain)
    return EXIT_FINDING if summary["unreadable"] else EXIT_OK


def _load_failure(args: argparse.Namespace, out: TextIO, diagnostics: list[Diagnostic]) -> int:
    if args.format == "json":
        _json(out, {"policy": None, "diagnostics": [d.to_dict() for d in diagnostics]})
    else:
        for d in diagnostics:
            out.write(_diagnostic_line(d) + "\n")
        out.write(f"{diagnostics[0].file if diagnostics else 'policy'}: invalid, nothing evaluated\n")
    return EXIT_FINDING


def _dry_run_text(out: TextIO, policy: Any, results: list[dict[str, Any]], summary: dict[str, int],
                  explain: bool) -> None:
    out.write(f"policy {policy.name} (revision {policy.revision})\n")
    if explain:
        for row in results:
            out.write(f"\n== {_safe(row['input'])}\n")
            if row["disposition"] is None:
                out.write(f"  unreadable: {_safe(row['errors'][0])}\n")
                continue
            records = row.get("records") or []
            for n, record in enumerate(records, 1):
                if len(records) > 1:
                    out.write(f"  record {n}:\n")
                out.write("\n".join(render_record(record, "    " if len(records) > 1 else "  ")) + "\n")
            if not records:
                out.write("  " + _safe("; ".join(row["errors"])) + f"\n  => {row['disposition']}: on_error applied\n")
        out.write("\n")
    rows = []
    for row in results:
        if row["disposition"] is None:
            rows.append([_safe(row["input"]), "UNREADABLE", "-", "-", _safe(row["errors"][0])])
        else:
            rows.append([_safe(row["input"]), row["disposition"], _rule_label(row["rule"], row["errors"]),
                         ",".join(row["shadow"]) or "-", _safe("; ".join(row["errors"]))])
    out.write("\n".join(line.rstrip() for line in table(["INPUT", "DISPOSITION", "RULE", "SHADOW", "NOTE"], rows)))
    total = len(results)
    counts = ", ".join(f"{k} {v}" for k, v in summary.items() if v or k != "unreadable")
    out.write(f"\n\n{total} input{'s' if total != 1 else ''}: {counts}\n")


# --- test -------------------------------------------------------------------------

def cmd_test(args: argparse.Namespace, out: TextIO) -> int:
    results = [run_test_file(path) for path in args.testfiles]
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    reports = coverage(results) if args.coverage or args.min_coverage is not None else []
    low = [c for c in reports if args.min_coverage is not None and c.percent < args.min_coverage]
    if args.format == "json":
        data: dict[str, Any] = {"files": [_file_json(r) for r in results], "passed": passed, "failed": failed}
        if reports:
            data["coverage"] = [c.to_dict() for c in reports]
        if args.min_coverage is not None:
            data["min_coverage"] = args.min_coverage
        _json(out, data)
    else:
        _test_text(out, results, reports, args.min_coverage)
        out.write(f"{passed} passed, {failed} failed\n")
    return EXIT_FINDING if failed or low else EXIT_OK


def _file_json(result: Any) -> dict[str, Any]:
    policy = result.policy
    return {"file": result.file, "policy": {"file": result.policy_file, "name": policy.name,
                                            "revision": policy.revision} if policy else None,
            "errors": result.errors, "cases": [c.to_dict() for c in result.cases]}


def _test_text(out: TextIO, results: list[Any], reports: list[Any], minimum: float | None) -> None:
    for result in results:
        for error in result.errors:
            out.write(f"ERROR {error}\n")
        for case in result.cases:
            if case.passed:
                continue
            out.write(f"FAIL {result.file}:{case.line}: {case.name}\n")
            for problem in case.problems:
                out.write(f"  {problem}\n")
            for n, record in enumerate(case.decision.to_dict()["records"] if case.decision else [], 1):
                out.write(f"  record {n}:\n" + "\n".join(render_record(record, "    ")) + "\n")
    for report in reports:
        out.write(f"coverage {report.policy_file}: {len(report.covered)} of {report.total} exercised "
                  f"({report.percent:.0f}%)\n")
        for kind, name in report.missing:
            out.write(f"  not exercised: {kind} {name}\n")
        if minimum is not None and report.percent < minimum:
            out.write(f"  below --min-coverage {minimum:g}%\n")


# --- event, schema ----------------------------------------------------------------

def cmd_event(args: argparse.Namespace, out: TextIO) -> int:
    fields = {name: getattr(args, name) for name in
              ("from", "to", "cc", "reply_to", "recipient", "subject", "sender", "spf", "dkim", "dmarc",
               "dmarc_policy", "spam", "virus", "header")}
    try:
        fields = normalize_fields(fields)
    except ValueError as exc:   # flags that contradict each other (--dmarc-policy without --dmarc FAIL)
        raise UsageError(str(exc)) from None
    if args.eml is None:
        _json(out, build_event(fields))
        return EXIT_OK
    try:
        event = event_from_eml(_read_eml(args.eml), fields)
    except ValueError as exc:   # the file is not a mail message
        sys.stderr.write(f"ses-rules event: {args.eml}: {exc}\n")
        return EXIT_FINDING
    _json(out, event)
    return EXIT_OK


def _read_eml(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"--eml {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"--eml {path}: {exc.strerror or exc}") from None


def cmd_schema(args: argparse.Namespace, out: TextIO) -> int:
    _json(out, policy_schema())
    return EXIT_OK


# --- entry point ------------------------------------------------------------------

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
