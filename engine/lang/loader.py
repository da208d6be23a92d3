"""Policy files -> Policy: validate the node tree, compile it, refuse it whole on any error."""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Mapping as TMapping

from engine.conditions import Condition, nesting
from engine.files import read_regular
from engine.decision import DISPOSITIONS
from engine.lang.compiler import ConditionCompiler
from engine.lang.diagnostics import Collector, Diagnostic, PolicyError
from engine.lang.interpolation import Interpolator
from engine.lang.lists import load_lists
from engine.lang.reader import Reader
from engine.lang.yamlsource import MAX_POLICY_BYTES, Mapping, Node, Scalar, compose
from engine.mail.regex import budget as regex_budget
from engine.policy import Policy, Rule

if TYPE_CHECKING:
    from engine.lang.actions import ActionReader

POLICY_KEYS = ("version", "name", "description", "default", "on_error", "lists", "conditions", "rules")
RULE_KEYS = ("name", "description", "when", "disposition", "actions", "enabled", "mode", "lint")
MODES = ("enforce", "shadow")
VERSIONS = ("1",)
NAME_RE = re.compile(r"[A-Za-z0-9_.-]+\Z")
# Evaluation recurses once per level; named conditions add their own levels on top of the YAML nesting.
MAX_CONDITION_DEPTH = 100


def load_policy(path: str | os.PathLike, environ: TMapping[str, str] | None = None) -> Policy:
    """Load a policy file; lists and `base_dir` resolve against its folder."""
    file = str(path)
    try:
        data = read_regular(path, MAX_POLICY_BYTES)     # a FIFO or device is refused, not waited on
    except OSError as exc:
        raise PolicyError([Diagnostic(file, 1, 1, "error", "unreadable",
                                      f"cannot read policy: {exc.strerror or exc}")]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PolicyError([Diagnostic(file, line, col, "error", "not-utf8",
                                      f"policy is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                                      "save the file as UTF-8")]) from None
    return load_policy_text(text, base_dir=Path(path).parent, file=file, name=Path(path).stem, environ=environ)


def load_policy_text(text: str, base_dir: str | os.PathLike = ".", *, file: str = "<string>",
                     name: str | None = None, environ: TMapping[str, str] | None = None) -> Policy:
    """Load a policy from text. Raises PolicyError carrying every diagnostic found."""
    collector = Collector(file)
    root = compose(text, file, collector.errors)      # a duplicate key does not hide the other errors
    interpolator = Interpolator(os.environ if environ is None else environ)
    reader = Reader(collector, interpolator)
    if root is None:
        collector.error(None, "empty-policy", "policy is empty", "start with: version: 1")
        collector.raise_if_any()
    doc = reader.mapping(root, "a policy")
    if doc is None:
        collector.raise_if_any()
    builder = _PolicyBuilder(reader, doc, Path(base_dir))   # type: ignore[arg-type]
    with regex_budget():       # every pattern of the policy draws on one RE2 program budget
        policy = builder.build(name or "<string>", file, text)
    collector.raise_if_any()
    return policy


class _PolicyBuilder:
    def __init__(self, reader: Reader, doc: Mapping, base_dir: Path):
        self.reader = reader
        self.doc = doc
        self.base_dir = base_dir
        self.named_depths: dict[str, int] = {}
        self.action_reader: ActionReader | None = None
        self.lists: dict[str, list | None] = {}

    def build(self, default_name: str, file: str, text: str) -> Policy:
        reader, doc = self.reader, self.doc
        reader.check_keys(doc, POLICY_KEYS, "the policy")
        if doc.get("version") is None:
            reader.error(doc, "missing-key", "policy has no version", "add: version: 1")
        else:
            reader.choice(doc.get("version"), "version", VERSIONS)
        name = self._optional_text("name") or default_name
        description = self._optional_text("description")
        default = self._disposition(doc.get("default"), "default")
        on_error = self._disposition(doc.get("on_error"), "on_error")
        lists = load_lists(reader, doc.get("lists"), self.base_dir) if doc.get("lists") is not None else {}
        named_nodes = self._named_condition_nodes()
        compiler = ConditionCompiler(reader, lists, named_nodes)
        conditions = self._compile_named(compiler, named_nodes)
        self.lists = lists
        rules = self._rules(compiler)
        compiler.resolve_refs(conditions)
        for rule in rules:
            if rule.condition is not None:
                self._check_nesting(nesting(rule.condition, self.named_depths), rule, f"rule {rule.name!r}")
        revision = _revision(text, reader.interpolator.used, lists)
        return Policy(name=name, revision=revision, file=file, default=default or "CONTINUE",
                      on_error=on_error or "CONTINUE", rules=rules, description=description,
                      lists={k: v for k, v in lists.items() if v is not None}, conditions=conditions,
                      source=doc, header_names=frozenset(compiler.header_names))

    def _optional_text(self, key: str) -> str | None:
        node = self.doc.get(key)
        return None if node is None else self.reader.text(node, key)

    def _disposition(self, node: Node | None, what: str) -> str | None:
        return None if node is None else self.reader.choice(node, what, DISPOSITIONS)

    def _named_condition_nodes(self) -> dict[str, Node]:
        node = self.doc.get("conditions")
        if node is None:
            return {}
        mapping = self.reader.mapping(node, "conditions")
        if mapping is None:
            return {}
        for key, _ in mapping.items:
            if not NAME_RE.match(key.text):
                self.reader.error(key, "bad-name", f"condition name {key.text!r} may only hold A-Z a-z 0-9 _ . -")
        return {key.text: value for key, value in mapping.items}

    def _compile_named(self, compiler: ConditionCompiler, nodes: dict[str, Node]) -> dict[str, Condition]:
        compiled: dict[str, Condition] = {}
        edges: dict[str, list[tuple[str, Scalar]]] = {}
        for name, node in nodes.items():
            start = len(compiler.refs)
            condition = compiler.condition(node, f"condition {name!r}")
            edges[name] = [(ref.name, at) for ref, at in compiler.refs[start:]]
            if condition is not None:
                compiled[name] = condition
        depths: dict[str, int] = {}
        for name in self._dependency_order(edges):   # each after the conditions it names
            if name in compiled:
                depths[name] = nesting(compiled[name], depths)
                self._check_nesting(depths[name], nodes[name], f"condition {name!r}")
        self.named_depths = depths
        return compiled

    def _check_nesting(self, depth: int, node: Node | Rule, what: str) -> None:
        if depth > MAX_CONDITION_DEPTH:
            self.reader.error(node, "too-deep", f"{what} nests {depth} levels deep counting the named conditions "
                              f"it uses (limit {MAX_CONDITION_DEPTH})", "flatten the chain of named conditions")

    def _dependency_order(self, edges: dict[str, list[tuple[str, Scalar]]]) -> list[str]:
        """Depth-first post-order without recursion (a chain of named conditions can be any length);
        a reference back to a condition still being visited is a cycle."""
        order: list[str] = []
        state: dict[str, int] = {}   # 1: on the current path, 2: done
        for root in edges:
            if root in state:
                continue
            state[root] = 1
            path, stack = [root], [iter(edges[root])]
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    stack.pop()
                    done = path.pop()
                    state[done] = 2
                    order.append(done)
                    continue
                target, at = step
                if target not in edges:
                    continue                     # an unknown name, already reported
                if state.get(target) == 1:
                    cycle = " -> ".join(path[path.index(target):] + [target])
                    self.reader.error(at, "condition-cycle", f"named conditions refer to each other in a cycle: {cycle}",
                                      "break the cycle; a condition cannot include itself")
                elif target not in state:
                    state[target] = 1
                    path.append(target)
                    stack.append(iter(edges[target]))
        return order

    def _rules(self, compiler: ConditionCompiler) -> list[Rule]:
        node = self.doc.get("rules")
        if node is None:
            self.reader.error(self.doc, "missing-key", "policy has no rules", "add rules: [], an empty list is allowed")
            return []
        seq = self.reader.sequence(node, "rules")
        if seq is None:
            return []
        rules: list[Rule] = []
        seen: dict[str, Node] = {}
        for item in seq.items:
            rule = self._rule(item, compiler, seen)
            if rule is not None:
                rules.append(rule)
        return rules

    def _rule(self, node: Node, compiler: ConditionCompiler, seen: dict[str, Node]) -> Rule | None:
        reader = self.reader
        mapping = reader.mapping(node, "a rule")
        if mapping is None:
            return None
        reader.check_keys(mapping, RULE_KEYS, "a rule")
        name = None
        if mapping.get("name") is None:
            reader.error(mapping, "missing-key", "rule has no name", "add name: a-unique-name")
        else:
            name = reader.text(mapping.get("name"), "rule name")
            if name is not None and not NAME_RE.match(name):
                reader.error(mapping.get("name"), "bad-name", f"rule name {name!r} may only hold A-Z a-z 0-9 _ . -",
                             "use letters, digits, '_', '.', '-'")
            elif name is not None and name in seen:
                reader.error(mapping.get("name"), "duplicate-rule",
                             f"rule name {name!r} is already used (line {seen[name].line})", "rule names are unique")
            elif name is not None:
                seen[name] = mapping.get("name")  # type: ignore[assignment]
        when = mapping.get("when")
        actions_node = mapping.get("actions")
        actions = () if actions_node is None else self._actions(compiler).read(actions_node, name or "")
        disposition = None
        if mapping.get("disposition") is not None:
            disposition = reader.choice(mapping.get("disposition"), "disposition", DISPOSITIONS)
        elif actions_node is None and not (isinstance(when, Mapping) and when.get("disposition") is not None):
            # (a disposition indented under `when:` is reported by the compiler, where it stands)
            reader.error(mapping, "missing-key", f"rule {name or ''} has neither disposition nor actions".replace("  ", " "),
                         "add disposition: CONTINUE, STOP_RULE or STOP_RULE_SET, or actions: for a routing rule")
        enabled = True if mapping.get("enabled") is None else reader.boolean(mapping.get("enabled"), "enabled")
        mode = "enforce" if mapping.get("mode") is None else reader.choice(mapping.get("mode"), "mode", MODES)
        description = None if mapping.get("description") is None else reader.text(mapping.get("description"), "description")
        ignore = self._lint_ignore(mapping.get("lint"))
        condition = None if when is None else compiler.condition(when, "when")
        if None in (name, enabled, mode, actions) or (when is not None and condition is None) \
                or (disposition is None and actions_node is None) \
                or (disposition is None and mapping.get("disposition") is not None):
            return None
        return Rule(name=name, disposition=disposition, condition=condition, mode=mode,  # type: ignore[arg-type]
                    enabled=enabled, description=description, lint_ignore=ignore,  # type: ignore[arg-type]
                    line=mapping.line, col=mapping.col, actions=actions)  # type: ignore[arg-type]

    def _actions(self, compiler: ConditionCompiler) -> ActionReader:
        """The action reader, made for the first rule with actions: a policy without any (and the
        deciding function's cold start) never imports the action registry."""
        if self.action_reader is None:
            from engine.lang.actions import ActionReader

            self.action_reader = ActionReader(self.reader, compiler, self.lists)
        return self.action_reader

    def _lint_ignore(self, node: Node | None) -> tuple[str, ...]:
        if node is None:
            return ()
        mapping = self.reader.mapping(node, "lint")
        if mapping is None:
            return ()
        self.reader.check_keys(mapping, ("ignore",), "lint")
        seq = self.reader.sequence(mapping.get("ignore"), "lint ignore")
        if seq is None:
            return ()
        codes = [self.reader.text(item, "lint code") for item in seq.items]
        return tuple(c for c in codes if c)


def _revision(text: str, used_env: dict[str, str], lists: dict[str, list | None]) -> str:
    """Short hash of the effective policy: source, substituted values, list contents."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass"))
    digest.update(json.dumps(sorted(used_env.items())).encode())
    for name in sorted(lists):
        digest.update(b"\0" + name.encode())
        for entry in lists[name] or ():
            digest.update(b"\n" + str(getattr(entry, "text", entry)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:12]
