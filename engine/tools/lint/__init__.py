"""Lint warnings for a policy that loads: mistakes the loader cannot call errors.

Lint is a list of passes over the loaded policy's compiled conditions, which carry
their positions (as a validator's passes run over a compiled tree): it never reads
the YAML again. Each warning has a stable code; a rule's `lint: {ignore: [CODE]}`
silences the codes reported on that rule.
"""
from __future__ import annotations

from typing import Callable, Iterator

from engine.lang.diagnostics import Diagnostic
from engine.policy import Policy
from engine.tools.lint import passes
from engine.tools.lint.paths import PathProblem, check_path

CODES: dict[str, str] = {
    "unreachable-rule": "an earlier enabled, enforcing rule always matches, so this rule is never tried",
    "never-matches": "the rule's condition can never hold, so the rule never decides",
    "unknown-path": "a JSONPath that cannot exist in an SES record",
    "spoofable-from": "a CONTINUE rule keyed on From-family headers without requiring dmarc: PASS",
    "spoofable-sender": "a CONTINUE rule keyed on the envelope sender without requiring spf: PASS",
    "negation-defeated-by-second-value": "a blocking rule built on a negation over several addresses: "
                                         "one more address defeats it (use where)",
    "from-without-match-all": "a CONTINUE rule that one of several From-family addresses satisfies "
                              "(use match: all)",
    "address-on-text-field": "an address literal compared with a field read as text (use an address part)",
    "unused-list": "a named list no rule uses",
    "unused-condition": "a named condition no rule uses",
    "unknown-lint-code": "a lint: {ignore: [...]} entry that is not a lint code",
}

PASSES: list[Callable[[Policy], Iterator[passes.Finding]]] = [
    passes.reachability,
    passes.unknown_paths,
    passes.spoofable,
    passes.second_values,
    passes.address_on_text,
    passes.unused,
    lambda policy: passes.ignore_codes(policy, CODES),
]


def lint(policy: Policy) -> list[Diagnostic]:
    """Warnings for a loaded policy, sorted by position, minus those its rules ignore."""
    ignored = {r.name: set(r.lint_ignore) for r in policy.rules}
    file = policy.file or "<string>"
    warnings = [Diagnostic(file, f.at.line, f.at.col, "warning", f.code, f.message, f.hint)
                for run in PASSES for f in run(policy)
                if not (f.rule and f.code in ignored.get(f.rule, set()))]
    return sorted(warnings, key=lambda d: (d.line, d.col, d.code))


__all__ = ["CODES", "PASSES", "PathProblem", "check_path", "lint"]
