"""Policy files -> Policy: validate the node tree, compile it, refuse it whole on any error."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Mapping as TMapping

from engine.conditions import Pos
from engine.decision import DISPOSITIONS
from engine.digest import sha256
from engine.lang.compiler import ConditionCompiler
from engine.lang.diagnostics import Collector, Diagnostic, PolicyError
from engine.lang.files import FileProblem, read_text
from engine.lang.interpolation import Interpolator
from engine.lang.lists import load_lists
from engine.lang.named import NAME_RE, NamedConditions
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


def load_policy(path: str | os.PathLike, environ: TMapping[str, str] | None = None) -> Policy:
    """Load a policy file; lists and `base_dir` resolve against its folder."""
    file = str(path)
    try:
        text = read_text(path, MAX_POLICY_BYTES, "policy")     # a FIFO or device is refused, not waited on
    except FileProblem as problem:
        raise PolicyError([Diagnostic(file, problem.line, problem.col, "error", problem.code, problem.message,
                                      problem.hint)]) from None
    return load_policy_text(text, base_dir=Path(path).parent, file=file, name=Path(path).stem, environ=environ)


def load_policy_text(text: str, base_dir: str | os.PathLike = ".", *, file: str = "<string>",
                     name: str | None = None, environ: TMapping[str, str] | None = None) -> Policy:
    """Load a policy from text. Raises PolicyError carrying every diagnostic found."""
    collector = Collector(file)
    root = compose(text, file, collector)      # a duplicate key does not hide the other errors
    return _load(root, text, base_dir, file, name, environ, collector)


def load_policy_tree(root: Node, text: str, base_dir: str | os.PathLike = ".", *, file: str = "<string>",
                     name: str | None = None, environ: TMapping[str, str] | None = None) -> Policy:
    """Load a policy from its composed node tree (a precompiled bundle's), as `load_policy_text` would
    from `text`, which the revision hashes. Raises PolicyError carrying every diagnostic found."""
    return _load(root, text, base_dir, file, name, environ, Collector(file))


def _load(root: Node | None, text: str, base_dir: str | os.PathLike, file: str, name: str | None,
          environ: TMapping[str, str] | None, collector: Collector) -> Policy:
    interpolator = Interpolator(os.environ if environ is None else environ)
    reader = Reader(collector, interpolator)
    if root is None:
        if not collector.errors:
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
        self.lists = lists
        named = NamedConditions(reader, doc.get("conditions"))
        compiler = ConditionCompiler(reader, lists, named)
        conditions = named.compile(compiler)
        rules = self._rules(compiler)
        named.link()
        for rule in rules:
            if rule.condition is not None:
                named.check_depth(rule.condition, rule, f"rule {rule.name!r}")
        revision = _revision(text, reader.interpolator.used, lists)
        return Policy(name=name, revision=revision, file=file, default=default or "CONTINUE",
                      on_error=on_error or "CONTINUE", rules=rules, description=description,
                      lists={k: v for k, v in lists.items() if v is not None}, conditions=conditions,
                      header_names=frozenset(compiler.header_names),
                      list_at=_key_positions(doc.get("lists")), condition_at=dict(named.keys),
                      list_files=_list_files(doc.get("lists")))

    def _optional_text(self, key: str) -> str | None:
        node = self.doc.get(key)
        return None if node is None else self.reader.text(node, key)

    def _disposition(self, node: Node | None, what: str) -> str | None:
        return None if node is None else self.reader.choice(node, what, DISPOSITIONS)

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
        name = self._rule_name(mapping, seen)
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
        description = self._text_of(mapping, "description")
        ignore = self._lint_ignore(mapping.get("lint"))
        condition = None if when is None else compiler.condition(when, "when")
        if None in (name, enabled, mode, actions) or (when is not None and condition is None) \
                or (disposition is None and (actions_node is None or mapping.get("disposition") is not None)):
            return None
        name_key = mapping.key_node("name")
        return Rule(name=name, disposition=disposition, condition=condition, mode=mode,  # type: ignore[arg-type]
                    enabled=enabled, description=description, lint_ignore=tuple(c for c, _ in ignore),  # type: ignore[arg-type]
                    line=mapping.line, col=mapping.col, actions=actions,  # type: ignore[arg-type]
                    name_at=Pos(name_key.line, name_key.col),  # type: ignore[union-attr]
                    lint_ignore_at=tuple(at for _, at in ignore))

    def _actions(self, compiler: ConditionCompiler) -> ActionReader:
        """The action reader, made for the first rule with actions: a policy without any (and the
        deciding function's cold start) never imports the action registry."""
        if self.action_reader is None:
            from engine.lang.actions import ActionReader

            self.action_reader = ActionReader(self.reader, compiler, self.lists)
        return self.action_reader

    def _rule_name(self, mapping: Mapping, seen: dict[str, Node]) -> str | None:
        """The rule's name: present, well-formed and unique (None after reporting)."""
        node = mapping.get("name")
        if node is None:
            self.reader.error(mapping, "missing-key", "rule has no name", "add name: a-unique-name")
            return None
        name = self.reader.text(node, "rule name")
        if name is None:
            return None
        if not NAME_RE.match(name):
            self.reader.error(node, "bad-name", f"rule name {name!r} may only hold A-Z a-z 0-9 _ . -",
                              "use letters, digits, '_', '.', '-'")
        elif name in seen:
            self.reader.error(node, "duplicate-rule", f"rule name {name!r} is already used (line {seen[name].line})",
                              "rule names are unique")
        else:
            seen[name] = node
            return name
        return None

    def _text_of(self, mapping: Mapping, key: str) -> str | None:
        node = mapping.get(key)
        return None if node is None else self.reader.text(node, key)

    def _lint_ignore(self, node: Node | None) -> list[tuple[str, Pos]]:
        """`lint: {ignore: [CODE, ...]}`: each code with where it is written (lint checks the codes)."""
        if node is None:
            return []
        mapping = self.reader.mapping(node, "lint")
        if mapping is None:
            return []
        self.reader.check_keys(mapping, ("ignore",), "lint")
        seq = self.reader.sequence(mapping.get("ignore"), "lint ignore")
        if seq is None:
            return []
        codes = [(self.reader.text(item, "lint code"), Pos(item.line, item.col)) for item in seq.items]
        return [(c, at) for c, at in codes if c]


def _list_files(node: Node | None) -> dict[str, str]:
    """The `{file: F}` lists, name -> F as written (what a policy bundle must carry along)."""
    files = {}
    for key, value in node.items if isinstance(node, Mapping) else ():
        file = value.get("file") if isinstance(value, Mapping) else None
        if isinstance(file, Scalar):
            files[key.text] = file.text
    return files


def _key_positions(node: Node | None) -> dict[str, Pos]:
    """Where each key of a mapping is written (list and condition names, for lint)."""
    return {key.text: Pos(key.line, key.col) for key, _ in node.items} if isinstance(node, Mapping) else {}


def _revision(text: str, used_env: dict[str, str], lists: dict[str, list | None]) -> str:
    """Short hash of the effective policy: source, substituted values, list contents."""
    digest = sha256(text.encode("utf-8", "surrogatepass"))
    digest.update(json.dumps(sorted(used_env.items())).encode())
    for name in sorted(lists):
        digest.update(b"\0" + name.encode())
        for entry in lists[name] or ():
            digest.update(b"\n" + str(getattr(entry, "text", entry)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:12]
