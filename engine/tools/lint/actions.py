"""Lint for actions: bounces that also deliver, and actions the deployment's allow-lists refuse.

`validate` passes its environment: when the `ALLOWED_*` settings are there, an
action outside them is reported now rather than skipped in production.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping

from engine.actions.backend import Reach
from engine.actions.registry import ACTION_TYPES
from engine.conditions import Pos
from engine.policy import Policy
from engine.tools.lint.passes import Finding

CODES = {
    "bounce-without-recipients": "a bounce without `recipients` in a CONTINUE or routing rule: "
                                 "the same mail is bounced and delivered",
    "action-not-allowed": "an action the ALLOWED_* settings in the environment would skip",
}


def action_findings(policy: Policy, environ: Mapping[str, str] | None) -> Iterator[Finding]:
    reach = Reach.from_env(environ or {})
    for rule in policy.rules:
        for plan in rule.actions:
            at = Pos(plan.line, plan.col)
            if plan.type == "bounce" and plan.recipients is None and rule.disposition in (None, "CONTINUE"):
                yield Finding(at, "bounce-without-recipients",
                              f"rule {rule.name!r} bounces every recipient but lets the mail go on",
                              "add recipients: {not_in: {list: mailboxes}}, or decide STOP_RULE_SET", rule.name)
            if reach.configured:
                action = {"rule": rule.name, "type": plan.type, **plan.arguments}
                for refusal in reach.refusals(ACTION_TYPES[plan.type].reaches(action)):
                    yield Finding(at, "action-not-allowed", f"{plan.type} in rule {rule.name!r}: {refusal}; "
                                  "the action function will skip it (skipped: not allowed)",
                                  "add it to the deployment's setting, or change the action", rule.name)
