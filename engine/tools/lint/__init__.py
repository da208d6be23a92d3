"""Lint warnings for a policy that loads: mistakes the loader cannot call errors.

Lint is a list of passes over the loaded policy's compiled conditions, which carry
their positions (as a validator's passes run over a compiled tree): it never reads
the YAML again. Each warning has a stable code; a rule's `lint: {ignore: [CODE]}`
silences the codes reported on that rule.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Callable, Iterator

from engine.lang.diagnostics import Diagnostic
from engine.policy import Policy
from engine.tools.lint import actions, passes
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
    **actions.CODES,
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
# Passes that also read the environment `validate` runs in (the deployment's ALLOWED_* settings).
ENVIRONMENT_PASSES: list[Callable[[Policy, Mapping[str, str] | None], Iterator[passes.Finding]]] = [
    actions.action_findings,
]


def lint(policy: Policy, environ: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """Warnings for a loaded policy, sorted by position, minus those its rules ignore;
    `environ`: where the deployment's ALLOWED_* settings may be (validate's environment)."""
    ignored = {r.name: set(r.lint_ignore) for r in policy.rules}
    file = policy.file or "<string>"
    findings = [f for run in PASSES for f in run(policy)]
    findings += [f for run in ENVIRONMENT_PASSES for f in run(policy, environ)]
    warnings = [Diagnostic(file, f.at.line, f.at.col, "warning", f.code, f.message, f.hint)
                for f in findings if not (f.rule and f.code in ignored.get(f.rule, set()))]
    return sorted(warnings, key=lambda d: (d.line, d.col, d.code))


__all__ = ["CODES", "ENVIRONMENT_PASSES", "PASSES", "PathProblem", "check_path", "lint"]
