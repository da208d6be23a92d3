"""The lint passes: each reads the loaded policy and yields findings, nothing else.

A pass is a function `(policy) -> Iterator[Finding]`; `engine.tools.lint.PASSES`
lists them in order. A finding names the rule whose `lint: {ignore: [...]}` may
silence it (None for lists and named conditions).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from engine.conditions import Pos, Test, WhereTest
from engine.mail.fields import AddressSource
from engine.policy import Policy, Rule
from engine.suggest import did_you_mean
from engine.tools.lint import facts


@dataclass
class Finding:
    at: Pos
    code: str
    message: str
    hint: str | None = None
    rule: str | None = None       # the rule whose lint.ignore can silence it


_BLOCKING = ("STOP_RULE", "STOP_RULE_SET")
_FROM_FAMILY = {"from", "sender_header", "reply_to", "header.from", "header.sender", "header.reply-to"}
_SENDER_FAMILY = {"sender", "return_path", "header.return-path"}
_FROM_PATHS = re.compile(r"^\$\.mail\.commonHeaders\.(from|sender|replyTo|\['reply-to'\]|\[\"reply-to\"\])")
_SENDER_PATHS = re.compile(r"^\$\.mail\.(source|commonHeaders\.returnPath)(?![\w-])")
# An allow rule keyed on these families needs this verdict to PASS, or anyone can pass it.
_SPOOFABLE = {
    "from": ("dmarc", "spoofable-from", "anyone can write any From header"),
    "sender": ("spf", "spoofable-sender", "the envelope sender is only checked by SPF"),
}
# Literals that look like one address: compared whole with a header's text they never match it.
_ADDRESS_LIKE = re.compile(r"[^\s@<>]*@[^\s@<>.]+(?:\.[^\s@<>.]+)+")
_WHOLE_TEXT_OPS = ("equals", "in", "starts_with", "ends_with", "glob")


def _enforcing(policy: Policy, disposition: tuple[str, ...]) -> Iterator[Rule]:
    return (r for r in policy.rules if r.enabled and r.mode == "enforce" and r.disposition in disposition)


def reachability(policy: Policy) -> Iterator[Finding]:
    blocker: Rule | None = None
    for rule in policy.rules:
        if not rule.enabled:
            continue
        truth = facts.truth(rule.condition)
        if blocker:
            yield Finding(rule.name_at, "unreachable-rule",
                          f"rule {rule.name!r} is never tried: rule {blocker.name!r} (line {blocker.line}) always "
                          "matches", "move this rule above it, or give that rule a `when`", rule.name)
        elif truth is False:
            yield Finding(rule.name_at, "never-matches", f"rule {rule.name!r} can never match: its condition never "
                          "holds", "check the paths and operators of its `when`", rule.name)
        if truth is True and rule.mode == "enforce" and rule.disposition is not None and blocker is None:
            blocker = rule      # a routing rule (actions, no disposition) blocks nothing


def unknown_paths(policy: Policy) -> Iterator[Finding]:
    owners = [(r.condition, r.name) for r in policy.rules] + [(c, None) for c in policy.conditions.values()]
    for condition, rule in owners:
        for test in facts.tests_in(condition):
            problem = facts.path_problem(test)
            if problem:
                yield Finding(test.source.at or test.at, "unknown-path", problem.message, problem.hint, rule)


def _family(test: Test) -> str | None:
    label = test.source.label
    if facts.is_path_test(test):
        return "from" if _FROM_PATHS.match(label) else "sender" if _SENDER_PATHS.match(label) else None
    base = test.source.form.base.lower()
    return "from" if base in _FROM_FAMILY else "sender" if base in _SENDER_FAMILY else None


def spoofable(policy: Policy) -> Iterator[Finding]:
    for rule in _enforcing(policy, ("CONTINUE",)):
        for test, positive, guards in facts.selections(rule.condition):
            spoof = _SPOOFABLE.get(_family(test) or "")
            if spoof is None or spoof[0] in guards or not facts.selects(test, positive):
                continue
            verdict, code, why = spoof
            yield Finding(test.at, code, f"rule {rule.name!r} lets mail through (CONTINUE) on {test.source.label!r} "
                          f"without requiring {verdict}: PASS; {why}",
                          f"add it to this rule: all: [..., {{{verdict}: PASS}}]", rule.name)


def second_values(policy: Policy) -> Iterator[Finding]:
    """One analysis of tests on fields that may hold several addresses, where one more address
    changes the outcome in the sender's favour: a blocking rule built on a negation (one more
    address that satisfies the positive operator defeats it), and an allow rule that one
    qualifying address satisfies (`match: any` lets the others through)."""
    for rule in policy.rules:
        if not rule.enabled or rule.mode != "enforce":
            continue
        for test, positive, _ in facts.selections(rule.condition):
            source = facts.multi_address(test)
            if source is None:
                continue
            if rule.disposition in _BLOCKING:
                yield from _defeated(rule, test, positive, source)
            elif positive and _family(test) == "from" and not test.match_all and _any_value(test):
                yield Finding(test.at, "from-without-match-all",
                              f"rule {rule.name!r} lets mail through (CONTINUE) when one {source.form.base} address "
                              f"satisfies {test.source.label}: a second {source.form.base} address "
                              "(a@partner.example, evil@attacker.example) goes through with it",
                              f"require every address: {test.source.label}: {{..., match: all}}", rule.name)


def _any_value(test: Test) -> bool:
    return bool(test.value_checks) or isinstance(test, WhereTest)


def _defeated(rule: Rule, test: Test, positive: bool, source: AddressSource) -> Iterator[Finding]:
    """Negations on a multi-address field in a blocking rule: `not_*` operators, or `not:` around a
    test one address satisfies."""
    base, label = source.form.base, test.source.label
    part = source.part.name
    if positive:
        found = [(c.at, c.op, c.op) for c in test.set_checks if c.negated]
    elif not test.match_all and _any_value(test):
        op = test.value_checks[0].op if test.value_checks else "where"
        found = [(test.at, f"not: {{{label}: ...}}", f"not_{op}" if op != "where" else "not_...")]
    else:
        found = []
    for at, written, negation in found:
        yield Finding(at, "negation-defeated-by-second-value",
                      f"rule {rule.name!r} stops mail on {written} over {label}, which holds only when no value of "
                      f"{label} matches: the sender can add one more {base} address that matches, and the mail "
                      "goes through", _one_address_hint(base, label, part, negation), rule.name)


def _one_address_hint(base: str, label: str, part: str, negation: str) -> str:
    if part == "name_address":     # several values within one address: where cannot split them
        return (f"require a value that does not match: all: [{{{label}: {{exists: true}}}}, "
                f"{{not: {{{label}: {{{negation[4:]}: ..., match: all}}}}}}]")
    return f"test one address with where: {{{base}: {{where: {{{part}: {{{negation}: ...}}}}}}}}"


def address_on_text(policy: Policy) -> Iterator[Finding]:
    """An address written as a literal for a field compared as text (header.NAME, subject)."""
    owners = [(r.condition, r.name) for r in policy.rules] + [(c, None) for c in policy.conditions.values()]
    for condition, rule in owners:
        for test in facts.tests_in(condition):
            form = test.source.form
            if form.kind != "text":
                continue
            for check in test.checks():
                written = check.written if isinstance(check.written, list) else [check.written]
                literal = next((w for w in written if isinstance(w, str) and _ADDRESS_LIKE.fullmatch(w)), None)
                if check.positive in _WHOLE_TEXT_OPS and literal is not None:
                    better = f"{form.base}.address" if form.base.startswith("header.") else "an address field"
                    yield Finding(check.at, "address-on-text-field",
                                  f"{literal!r} is an address, but {form.field} is compared as text (the whole "
                                  f"header value, such as \"Name <{literal}>\"), so {check.op} rarely holds",
                                  f"compare parsed addresses: {better} (or .domain)", rule)


def unused(policy: Policy) -> Iterator[Finding]:
    used: set[str] = set()
    pending = [r.condition for r in policy.rules]
    while pending:
        for ref in facts.references(pending.pop()):
            if ref.name not in used:
                used.add(ref.name)
                pending.append(policy.conditions.get(ref.name))
    for name, at in policy.condition_at.items():
        if name not in used:
            yield Finding(at, "unused-condition", f"condition {name!r} is not used by any rule",
                          "use it with {condition: " + name + "} or remove it")
    reachable = [r.condition for r in policy.rules] + [policy.conditions.get(c) for c in used]
    reachable += [plan.recipients for r in policy.rules for plan in r.actions]
    lists = {c.written["list"] for cond in reachable for test in facts.tests_in(cond)
             for c in facts.checks_of(test) if isinstance(c.written, dict) and "list" in c.written}
    lists |= {name for r in policy.rules for plan in r.actions for name in plan.lists}
    for name, at in policy.list_at.items():
        if name not in lists:
            yield Finding(at, "unused-list", f"list {name!r} is not used by any rule",
                          "use it with {list: " + name + "} or remove it")


def ignore_codes(policy: Policy, codes: dict[str, str]) -> Iterator[Finding]:
    for rule in policy.rules:
        for code, at in zip(rule.lint_ignore, rule.lint_ignore_at):
            if code not in codes:
                guess = did_you_mean(code, codes)
                yield Finding(at, "unknown-lint-code", f"{code!r} is not a lint code",
                              f"did you mean {guess}?" if guess else f"codes: {', '.join(codes)}", rule.name)
