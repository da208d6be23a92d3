"""Lint warnings for a policy that loads: mistakes the loader cannot call errors.

A loaded policy is valid, so lint reads its composed node tree (`policy.source`)
without re-validating it, and reports each finding at the node that causes it.
Each warning has a stable code; a rule's `lint: {ignore: [CODE]}` silences the
codes reported on that rule.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator
from typing import Mapping as TMapping

from jsonpath_ng.ext import parse as parse_path

from engine.lang.diagnostics import Diagnostic
from engine.lang.yamlsource import Mapping, Node, Scalar, Sequence
from engine.suggest import did_you_mean
from engine.tools.actionlint import CODES as ACTION_CODES
from engine.tools.actionlint import action_findings

CODES: dict[str, str] = {
    "unreachable-rule": "an earlier enabled, enforcing rule always matches, so this rule is never tried",
    "never-matches": "the rule's condition can never hold, so the rule never decides",
    "unknown-path": "a JSONPath that cannot exist in an SES record",
    "spoofable-from": "a CONTINUE rule keyed on From-family headers without requiring dmarc: PASS",
    "spoofable-sender": "a CONTINUE rule keyed on the envelope sender without requiring spf: PASS",
    "unused-list": "a named list no rule uses",
    "unused-condition": "a named condition no rule uses",
    "unknown-lint-code": "a lint: {ignore: [...]} entry that is not a lint code",
    **ACTION_CODES,
}

# --- the shape of an SES receiving record's `ses` object ------------------------
# A dict is an object with known keys, a one-item list a JSON array of that shape,
# LEAF a scalar. Taken from AWS's documentation and the corpus events.
LEAF = "leaf"
_VERDICT = {"status": LEAF}
_ADDRESSES = [LEAF]
SES_SHAPE: dict[str, Any] = {
    "mail": {
        "timestamp": LEAF, "source": LEAF, "messageId": LEAF, "destination": _ADDRESSES,
        "headersTruncated": LEAF, "headers": [{"name": LEAF, "value": LEAF}],
        "commonHeaders": {
            "returnPath": LEAF, "from": _ADDRESSES, "to": _ADDRESSES, "cc": _ADDRESSES,
            "bcc": _ADDRESSES, "sender": _ADDRESSES, "replyTo": _ADDRESSES,
            "reply-to": _ADDRESSES, "date": LEAF, "messageId": LEAF, "subject": LEAF,
        },
    },
    "receipt": {
        "timestamp": LEAF, "processingTimeMillis": LEAF, "recipients": _ADDRESSES,
        "spamVerdict": _VERDICT, "virusVerdict": _VERDICT, "spfVerdict": _VERDICT,
        "dkimVerdict": _VERDICT, "dmarcVerdict": _VERDICT, "dmarcPolicy": LEAF,
        "action": {
            "type": LEAF, "functionArn": LEAF, "invocationType": LEAF, "bucketName": LEAF,
            "objectKey": LEAF, "objectKeyPrefix": LEAF, "topicArn": LEAF, "encoding": LEAF,
        },
    },
}
_OUTSIDE_SES = {"eventSource", "eventVersion", "ses", "Records"}


@dataclass(frozen=True)
class PathProblem:
    message: str
    hint: str | None


class _Unknown(Exception):
    """A JSONPath construct lint does not model (`..`, functions): the path is not judged."""


class _Missing(Exception):
    def __init__(self, problem: PathProblem):
        self.problem = problem


def _describe(shape: Any) -> str:
    if isinstance(shape, dict):
        return "an object"
    return "a list" if isinstance(shape, list) else "a single value"


def _children(shape: Any) -> list[Any]:
    if isinstance(shape, dict):
        return list(shape.values())
    return [shape[0]] if isinstance(shape, list) else []


class _PathWalker:
    """Follows a parsed JSONPath through SES_SHAPE; raises _Missing at the first step that finds nothing."""

    def __init__(self, text: str):
        self.text = text

    def walk(self, expr: Any, shapes: list[Any], here: str) -> tuple[list[Any], str]:
        kind = type(expr).__name__
        if kind == "Root":
            return [SES_SHAPE], "$"
        if kind == "This":
            return shapes, here
        if kind == "Child":
            left, where = self.walk(expr.left, shapes, here)
            return self.walk(expr.right, left, where)
        if kind == "Fields":
            return self._fields(expr.fields, shapes, here)
        if kind == "Wildcard":
            found = [c for s in shapes for c in _children(s)]
            return self._nonempty(found, shapes, here, "[*]"), f"{here}[*]"
        if kind in ("Index", "Slice"):
            found = [s[0] for s in shapes if isinstance(s, list)]
            return self._nonempty(found, shapes, here, "[n]"), f"{here}[*]"
        if kind == "Filter":
            found = [c for s in shapes if not _is_leaf(s) for c in _children(s)]
            found = self._nonempty(found, shapes, here, "[?(...)]")
            for expression in expr.expressions:
                self._filter_expression(expression, found, f"{here}[*]")
            return found, f"{here}[*]"
        raise _Unknown(kind)

    def _filter_expression(self, expr: Any, shapes: list[Any], here: str) -> None:
        kind = type(expr).__name__
        if kind == "Expression":
            self.walk(expr.target, shapes, here)
        elif hasattr(expr, "operands"):
            for operand in expr.operands:
                self._filter_expression(operand, shapes, here)
        else:
            raise _Unknown(kind)

    def _nonempty(self, found: list[Any], shapes: list[Any], here: str, step: str) -> list[Any]:
        if not found:
            raise _Missing(PathProblem(f"{here} is {_describe(shapes[0])}, so {step} finds nothing", None))
        return found

    def _fields(self, names: tuple[str, ...], shapes: list[Any], here: str) -> tuple[list[Any], str]:
        objects = [s for s in shapes if isinstance(s, dict)]
        if "*" in names:
            return self._nonempty([c for s in objects for c in s.values()], shapes, here, ".*"), f"{here}.*"
        found = [s[n] for s in objects for n in names if n in s]
        if found:
            return found, f"{here}.{names[0]}" if len(names) == 1 else f"{here}.({','.join(names)})"
        missing = names[0]
        if not objects:
            raise _Missing(PathProblem(f"{here} is {_describe(shapes[0])}, so .{missing} finds nothing",
                                       _list_hint(here, shapes[0], missing)))
        known = sorted({k for s in objects for k in s})
        guess = did_you_mean(missing, known)
        if here == "$" and missing in _OUTSIDE_SES:
            hint = "paths start at the record's `ses` object: $.mail... or $.receipt..."
        elif guess:
            hint = f"did you mean {_replace_name(self.text, missing, guess)}?"
        else:
            hint = f"{here} has: {', '.join(known)}"
        raise _Missing(PathProblem(f"{here} has no member {missing!r}", hint))


def _is_leaf(shape: Any) -> bool:
    return not isinstance(shape, (dict, list))


def _list_hint(here: str, shape: Any, name: str) -> str | None:
    if isinstance(shape, list) and isinstance(shape[0], dict) and name in shape[0]:
        return f"{here} is a list: write {here}[*].{name}"
    return None


def _replace_name(text: str, old: str, new: str) -> str:
    """The path text with the misspelt member name replaced (dotted or bracketed form)."""
    pattern = re.compile(rf"(?<=\.){re.escape(old)}(?![\w-])|(?<=\[')({re.escape(old)})(?='\])"
                         rf"|(?<=\[\"){re.escape(old)}(?=\"\])")
    return pattern.sub(new, text, count=1)


def check_path(text: str) -> PathProblem | None:
    """Why a JSONPath cannot yield anything on an SES record, or None when it can (or lint cannot tell)."""
    try:
        expr = parse_path(text)
    except Exception:  # the loader accepted it; a parser disagreement is not lint's business
        return None
    try:
        _PathWalker(text).walk(expr, [SES_SHAPE], "$")
    except _Unknown:
        return None
    except _Missing as missing:
        return PathProblem(f"path {text} cannot match an SES record: {missing.problem.message}",
                           missing.problem.hint)
    return None


# --- reading conditions from the node tree ---------------------------------------

_COMBINATORS = ("all", "any", "not", "condition")
_OPTIONS = {"match", "case_sensitive"}
_NEGATIONS_PREFIX = "not_"
_FROM_FIELDS = {"from", "sender_header", "reply_to", "header.from", "header.sender", "header.reply-to"}
_SENDER_FIELDS = {"sender", "return_path", "header.return-path"}
_FROM_PATHS = re.compile(r"^\$\.mail\.commonHeaders\.(from|sender|replyTo|\['reply-to'\]|\[\"reply-to\"\])")
_SENDER_PATHS = re.compile(r"^\$\.mail\.(source|commonHeaders\.returnPath)(?![\w-])")
_VERDICT_PATHS = {"$.receipt.dmarcVerdict.status": "dmarc", "$.receipt.spfVerdict.status": "spf"}


@dataclass(frozen=True)
class Test:
    """One field or path test: the key node that names it and its operator mapping."""
    subject: str            # field name as written ("from.domain") or the JSONPath
    is_path: bool
    key: Scalar             # where to report
    ops: dict[str, Node]    # operator/option -> argument


def _text(node: Node | None) -> str | None:
    return node.text if isinstance(node, Scalar) else None


def _ops(test: Node) -> dict[str, Node]:
    if isinstance(test, Mapping):
        return {k.text: v for k, v in test.items}
    return {"in" if isinstance(test, Sequence) else "equals": test}


def tests_of(cond: Mapping) -> list[Test]:
    """The leaf tests of a condition mapping that is neither a combinator nor a reference."""
    if cond.get("path") is not None:
        key = cond.key_node("path")
        assert key is not None
        ops = {k.text: v for k, v in cond.items if k.text != "path"}
        return [Test(_text(cond.get("path")) or "", True, key, ops)]
    return [Test(k.text, False, k, _ops(v)) for k, v in cond.items]


def _combinator(cond: Mapping) -> str | None:
    keys = [k.text for k, _ in cond.items]
    return keys[0] if len(keys) == 1 and keys[0] in _COMBINATORS else None


def _number(node: Node | None) -> float | None:
    try:
        return float(node.text) if isinstance(node, Scalar) else None
    except ValueError:
        return None


def _count_always(arg: Node) -> bool | None:
    """Whether a `count` test holds for every count (True), none (False), or depends (None)."""
    if not isinstance(arg, Mapping):
        return None
    results: list[bool | None] = []
    for key, value in arg.items:
        n = _number(value)
        if n is None:
            return None
        results.append({"gte": n <= 0 or None, "gt": n < 0 or None,
                        "lt": False if n <= 0 else None, "lte": False if n < 0 else None}.get(key.text))
    if False in results:
        return False
    return True if results and all(results) else None


def _verdict_fact(test: Test) -> str | None:
    """'dmarc' / 'spf' when this test requires that verdict to be PASS."""
    name = _VERDICT_PATHS.get(test.subject) if test.is_path else test.subject
    if name not in ("dmarc", "spf"):
        return None
    values = [v for op, v in test.ops.items() if op in ("equals", "in")]
    for value in values:
        items = value.items if isinstance(value, Sequence) else [value]
        texts = [_text(i) for i in items]
        if texts and all(t is not None and t.upper() == "PASS" for t in texts):
            return name
    return None


class _Analysis:
    """Facts about the policy's conditions: truth, implied verdicts, references, tests."""

    def __init__(self, named: dict[str, Node]):
        self.named = named

    def _resolve(self, cond: Mapping, seen: frozenset[str]) -> tuple[Node | None, frozenset[str]]:
        name = _text(cond.get("condition")) or ""
        if name in seen:
            return None, seen
        return self.named.get(name), seen | {name}

    def truth(self, cond: Node | None, seen: frozenset[str] = frozenset()) -> bool | None:
        """True: always holds; False: never holds; None: depends on the mail."""
        if not isinstance(cond, Mapping):
            return None
        kind = _combinator(cond)
        if kind in ("all", "any"):
            items = cond.get(kind)
            results = [self.truth(c, seen) for c in items.items] if isinstance(items, Sequence) else [None]
            decisive, other = (False, True) if kind == "all" else (True, False)
            if decisive in results:
                return decisive
            return other if all(r is other for r in results) else None
        if kind == "not":
            inner = self.truth(cond.get("not"), seen)
            return None if inner is None else not inner
        if kind == "condition":
            target, seen = self._resolve(cond, seen)
            return self.truth(target, seen)
        results = [self._test_truth(t) for t in tests_of(cond)]
        if False in results:
            return False
        return True if all(results) else None

    def _test_truth(self, test: Test) -> bool | None:
        ops = {k: v for k, v in test.ops.items() if k not in _OPTIONS}
        impossible = test.is_path and check_path(test.subject) is not None
        results: list[bool | None] = []
        for op, arg in ops.items():
            if op == "count":
                results.append(_holds_for_zero(arg) if impossible else _count_always(arg))
            elif op == "exists":
                wanted = (_text(arg) or "").lower() == "true"
                results.append((not wanted) if impossible else None)
            elif op.startswith(_NEGATIONS_PREFIX):
                results.append(True if impossible else None)
            else:
                results.append(False if impossible else None)
        if False in results:
            return False
        return True if results and all(results) else None

    def implied(self, cond: Node | None, seen: frozenset[str] = frozenset()) -> set[str]:
        """Verdicts ('dmarc', 'spf') that must be PASS whenever `cond` holds."""
        if not isinstance(cond, Mapping):
            return set()
        kind = _combinator(cond)
        if kind in ("all", "any"):
            items = cond.get(kind)
            sets = [self.implied(c, seen) for c in items.items] if isinstance(items, Sequence) else []
            if not sets:
                return set()
            return set().union(*sets) if kind == "all" else set.intersection(*sets)
        if kind == "condition":
            target, seen = self._resolve(cond, seen)
            return self.implied(target, seen)
        if kind == "not":
            return set()
        return {f for f in (_verdict_fact(t) for t in tests_of(cond)) if f}

    def keyed_tests(self, cond: Node | None, guards: frozenset[str] = frozenset(), positive: bool = True,
                    seen: frozenset[str] = frozenset()) -> Iterator[tuple[Test, frozenset[str]]]:
        """Tests that select mail in `cond` (by polarity), each with the verdicts its branch requires."""
        if not isinstance(cond, Mapping):
            return
        kind = _combinator(cond)
        if kind in ("all", "any"):
            items = cond.get(kind)
            children = items.items if isinstance(items, Sequence) else []
            conjunctive = (kind == "all") == positive
            for child in children:
                extra: set[str] = set()
                if conjunctive and positive:
                    for sibling in children:
                        if sibling is not child:
                            extra |= self.implied(sibling, seen)
                yield from self.keyed_tests(child, guards | extra, positive, seen)
        elif kind == "not":
            yield from self.keyed_tests(cond.get("not"), guards, not positive, seen)
        elif kind == "condition":
            target, seen2 = self._resolve(cond, seen)
            yield from self.keyed_tests(target, guards, positive, seen2)
        else:
            tests = tests_of(cond)
            local = guards | {f for f in (_verdict_fact(t) for t in tests) if f} if positive else guards
            for test in tests:
                ops = [op for op in test.ops if op not in _OPTIONS | {"exists", "count"}]
                if any(op.startswith(_NEGATIONS_PREFIX) != positive for op in ops):
                    yield test, frozenset(local)


def _holds_for_zero(arg: Node) -> bool | None:
    """Whether a `count` test holds when there are no values at all."""
    if isinstance(arg, Scalar):
        n = _number(arg)
        return None if n is None else n == 0
    if not isinstance(arg, Mapping):
        return None
    checks = {"gt": lambda n: 0 > n, "gte": lambda n: 0 >= n, "lt": lambda n: 0 < n,
              "lte": lambda n: 0 <= n, "equals": lambda n: n == 0}
    results = []
    for key, value in arg.items:
        n = _number(value)
        if n is None or key.text not in checks:
            return None
        results.append(checks[key.text](n))
    return all(results)


def _walk(node: Node | None) -> Iterator[Node]:
    if node is None:
        return
    yield node
    if isinstance(node, Mapping):
        for key, value in node.items:
            yield key
            yield from _walk(value)
    elif isinstance(node, Sequence):
        for item in node.items:
            yield from _walk(item)


def _references(node: Node | None, key: str) -> Iterator[Scalar]:
    """`{key: NAME}` mappings anywhere under node (list and condition references)."""
    for sub in _walk(node):
        if isinstance(sub, Mapping) and len(sub.items) == 1 and sub.items[0][0].text == key:
            value = sub.items[0][1]
            if isinstance(value, Scalar):
                yield value


# --- the checks -------------------------------------------------------------------

@dataclass
class _Finding:
    node: Scalar | Mapping | Sequence
    code: str
    message: str
    hint: str | None = None
    rule: str | None = None       # the rule whose lint.ignore can silence it


class _Linter:
    def __init__(self, policy: Any, environ: TMapping[str, str] | None = None):
        self.policy = policy
        self.environ = environ
        root = policy.source if isinstance(policy.source, Mapping) else Mapping([], 1, 1)
        self.root = root
        named = root.get("conditions")
        self.named: dict[str, Node] = {k.text: v for k, v in named.items} if isinstance(named, Mapping) else {}
        self.named_keys = {k.text: k for k, _ in named.items} if isinstance(named, Mapping) else {}
        lists = root.get("lists")
        self.list_keys = {k.text: k for k, _ in lists.items} if isinstance(lists, Mapping) else {}
        rules = root.get("rules")
        self.rule_nodes = [r for r in rules.items if isinstance(r, Mapping)] if isinstance(rules, Sequence) else []
        self.analysis = _Analysis(self.named)
        self.findings: list[_Finding] = []

    def run(self) -> list[_Finding]:
        self._reachability()
        self._paths()
        self._spoofable()
        self._unused()
        self._ignore_codes()
        self.findings += [_Finding(*f) for f in action_findings(list(self._rules()), self.environ)]
        return self.findings

    def _rules(self) -> Iterator[tuple[Any, Mapping]]:
        return zip(self.policy.rules, self.rule_nodes)

    def _reachability(self) -> None:
        blocker: tuple[str, int] | None = None
        for rule, node in self._rules():
            when = node.get("when")
            truth = True if when is None else self.analysis.truth(when)
            if not rule.enabled:
                continue
            name_node = node.key_node("name") or node
            if blocker:
                self.findings.append(_Finding(
                    name_node, "unreachable-rule",
                    f"rule {rule.name!r} is never tried: rule {blocker[0]!r} (line {blocker[1]}) always matches",
                    "move this rule above it, or give that rule a `when`", rule.name))
            elif truth is False:
                self.findings.append(_Finding(
                    name_node, "never-matches", f"rule {rule.name!r} can never match: its condition never holds",
                    "check the paths and operators of its `when`", rule.name))
            if truth is True and rule.mode == "enforce" and rule.disposition is not None and blocker is None:
                blocker = (rule.name, node.line)

    def _paths(self) -> None:
        owners: list[tuple[Node | None, str | None]] = [(n.get("when"), r.name) for r, n in self._rules()]
        owners += [(cond, None) for cond in self.named.values()]
        for tree, rule in owners:
            for sub in _walk(tree):
                if isinstance(sub, Mapping) and sub.get("path") is not None and _combinator(sub) is None:
                    text = _text(sub.get("path"))
                    problem = check_path(text) if text else None
                    if problem:
                        where = sub.get("path")
                        assert where is not None
                        self.findings.append(_Finding(where, "unknown-path", problem.message, problem.hint, rule))

    def _spoofable(self) -> None:
        for rule, node in self._rules():
            if not rule.enabled or rule.mode != "enforce" or rule.disposition != "CONTINUE":
                continue
            for test, guards in self.analysis.keyed_tests(node.get("when")):
                spoofable = _SPOOFABLE.get(_family(test))
                if spoofable is None or spoofable[0] in guards:
                    continue
                verdict, code, why = spoofable
                self.findings.append(_Finding(
                    test.key, code,
                    f"rule {rule.name!r} lets mail through (CONTINUE) on {test.subject!r} without requiring "
                    f"{verdict}: PASS; {why}", f"add it to this rule: all: [..., {{{verdict}: PASS}}]", rule.name))

    def _unused(self) -> None:
        used_conditions: set[str] = set()
        pending = [n.get("when") for n in self.rule_nodes]
        while pending:
            for ref in _references(pending.pop(), "condition"):
                if ref.text not in used_conditions:
                    used_conditions.add(ref.text)
                    pending.append(self.named.get(ref.text))
        for name, key in self.named_keys.items():
            if name not in used_conditions:
                self.findings.append(_Finding(key, "unused-condition",
                                              f"condition {name!r} is not used by any rule",
                                              "use it with {condition: " + name + "} or remove it"))
        reachable = [n.get(k) for n in self.rule_nodes for k in ("when", "actions")]
        reachable += [self.named.get(c) for c in used_conditions]
        used_lists = {ref.text for tree in reachable for ref in _references(tree, "list")}
        for name, key in self.list_keys.items():
            if name not in used_lists:
                self.findings.append(_Finding(key, "unused-list", f"list {name!r} is not used by any rule",
                                              "use it with {list: " + name + "} or remove it"))

    def _ignore_codes(self) -> None:
        for rule, node in self._rules():
            lint = node.get("lint")
            ignore = lint.get("ignore") if isinstance(lint, Mapping) else None
            for item in ignore.items if isinstance(ignore, Sequence) else []:
                if isinstance(item, Scalar) and item.text not in CODES:
                    guess = did_you_mean(item.text, CODES)
                    self.findings.append(_Finding(
                        item, "unknown-lint-code", f"{item.text!r} is not a lint code",
                        f"did you mean {guess}?" if guess else f"codes: {', '.join(CODES)}", rule.name))


# An allow rule keyed on these families needs this verdict to PASS, or anyone can pass it.
_SPOOFABLE = {
    "from": ("dmarc", "spoofable-from", "anyone can write any From header"),
    "sender": ("spf", "spoofable-sender", "the envelope sender is only checked by SPF"),
}


def _family(test: Test) -> str | None:
    if test.is_path:
        if _FROM_PATHS.match(test.subject):
            return "from"
        return "sender" if _SENDER_PATHS.match(test.subject) else None
    base = test.subject.lower()
    if not base.startswith("header."):
        base = base.split(".", 1)[0]
    if base in _FROM_FIELDS:
        return "from"
    return "sender" if base in _SENDER_FIELDS else None


def lint(policy: Any, environ: TMapping[str, str] | None = None) -> list[Diagnostic]:
    """Warnings for a loaded policy, sorted by position, minus those its rules ignore;
    `environ`: where the deployment's ALLOWED_* settings may be (validate's environment)."""
    ignored = {r.name: set(r.lint_ignore or ()) for r in policy.rules}
    file = policy.file or "<string>"
    warnings = [
        Diagnostic(file, f.node.line, f.node.col, "warning", f.code, f.message, f.hint)
        for f in _Linter(policy, environ).run()
        if not (f.rule and f.code in ignored.get(f.rule, set()))
    ]
    return sorted(warnings, key=lambda d: (d.line, d.col, d.code))
