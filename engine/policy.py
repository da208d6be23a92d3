"""A loaded policy and its evaluation over a Lambda SES event. Evaluation never raises."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.actionplan import ActionPlan, Collected
from engine.conditions import NOWHERE, Condition, Pos
from engine.decision import Decision, RecordDecision
from engine.fastpath import compile_condition, compile_plan, tree_walk
from engine.mail.context import RecordContext
from engine.valueclass import Value

if TYPE_CHECKING:   # the trace is built only with explain: a cold start does not import it
    from engine.trace import RuleTrace


class Rule(Value):
    __slots__ = ("name", "disposition", "condition", "mode", "enabled", "description", "lint_ignore", "line", "col",
                 "actions", "name_at", "lint_ignore_at")

    def __init__(self, name: str, disposition: str | None, condition: Condition | None, mode: str = "enforce",
                 enabled: bool = True, description: str | None = None, lint_ignore: tuple[str, ...] = (),
                 line: int = 1, col: int = 1, actions: tuple[ActionPlan, ...] = (), name_at: Pos = NOWHERE,
                 lint_ignore_at: tuple[Pos, ...] = ()) -> None:
        self.name = name
        self.disposition = disposition      # None: a routing rule (actions only; evaluation goes on)
        self.condition = condition          # None: always matches
        self.mode, self.enabled, self.description = mode, enabled, description    # mode: enforce | shadow
        self.lint_ignore, self.line, self.col, self.actions = lint_ignore, line, col, actions
        self.name_at = name_at                  # where `name:` is written (lint reports rules there)
        self.lint_ignore_at = lint_ignore_at    # where each `lint_ignore` code is written


def _record_problem(record: Any) -> str | None:
    """Why a record is not an SES receiving record, or None."""
    if not isinstance(record, dict):
        return f"record is {type(record).__name__}, not an object"
    if record.get("eventSource") != "aws:ses":
        return f"eventSource is {record.get('eventSource')!r}, not 'aws:ses'"
    ses = record.get("ses")
    if not isinstance(ses, dict):
        return "record has no ses object"
    for key in ("mail", "receipt"):
        if not isinstance(ses.get(key), dict):
            return f"ses.{key} is missing or not an object"
    return None


class Policy(Value):
    __slots__ = ("name", "revision", "file", "default", "on_error", "rules", "description", "lists", "conditions",
                 "header_names", "list_at", "condition_at", "list_files", "compiled", "_active", "_plan", "_decides")
    _not_compared = ("compiled", "_active", "_plan", "_decides")

    def __init__(self, name: str, revision: str, file: str, default: str, on_error: str, rules: list[Rule],
                 description: str | None = None, lists: dict[str, list] | None = None,
                 conditions: dict[str, Condition] | None = None, header_names: frozenset[str] = frozenset(),
                 list_at: dict[str, Pos] | None = None, condition_at: dict[str, Pos] | None = None,
                 list_files: dict[str, str] | None = None, compiled: bool = True) -> None:
        self.name, self.revision, self.file, self.default, self.on_error = name, revision, file, default, on_error
        self.rules, self.description, self.header_names = rules, description, header_names
        self.lists = {} if lists is None else lists
        self.conditions = {} if conditions is None else conditions
        self.list_at = {} if list_at is None else list_at                  # where each list is defined
        self.condition_at = {} if condition_at is None else condition_at   # where each named condition is defined
        self.list_files = {} if list_files is None else list_files         # list name -> `{file: F}` as written
        self.compiled = compiled        # False: walk the tree (the reference)
        self._prepare()

    def walking(self) -> Policy:
        """This policy evaluated by walking each rule's tree: the reference the compiled one is tested against."""
        return Policy(self.name, self.revision, self.file, self.default, self.on_error, self.rules, self.description,
                      self.lists, self.conditions, self.header_names, self.list_at, self.condition_at,
                      self.list_files, compiled=False)

    def _prepare(self) -> None:
        self._active = [r for r in self.rules if r.enabled]
        # What _decide runs, a flat tuple: each enabled rule's condition as one closure (or, not
        # compiled, the tree's own walk), with what the rule does when it holds.
        memo: dict = {}
        holds = (lambda condition: compile_condition(condition, memo)) if self.compiled else tree_walk
        self._plan = tuple((holds(r.condition), (r.name, r.disposition, r.mode == "shadow", r.actions))
                           for r in self._active)
        # `_decide` as one generated function where no rule has actions (and the policy is compiled).
        self._decides = (compile_plan(self._plan, self.default, RecordDecision) if self.compiled else None) \
            or self._decide

    def evaluate(self, event: Any, explain: bool = False) -> Decision:
        """The decision for a whole Lambda event; any failure becomes `on_error` with its reason."""
        try:
            if not explain:
                try:                # what SES sends: one well-formed record (_evaluate_record's checks)
                    records = event["Records"]
                    record = records[0]
                    ses = record["ses"]
                    well_formed = (type(records) is list and len(records) == 1 and type(record) is dict
                                   and type(ses) is dict and type(ses["mail"]) is dict
                                   and type(ses["receipt"]) is dict and record["eventSource"] == "aws:ses")
                except Exception:  # noqa: BLE001 - the general route below says what is wrong
                    well_formed = False
                if well_formed:
                    try:
                        decided = self._decides(RecordContext(ses, self.header_names))
                    except Exception as exc:  # noqa: BLE001
                        decided = self._failed(exc, False)
                    return Decision.of_one(decided, self.name, self.revision, event)
            records = event.get("Records") if isinstance(event, dict) else None
            if not isinstance(records, list) or not records:
                reason = "event has no Records" if records is None else "event Records is empty or not a list"
                return Decision.fallback(self.on_error, reason, event, self.name, self.revision)
            decided_all = [self._evaluate_record(r, explain) for r in records]
            return Decision.combine(decided_all, self.name, self.revision, event)
        except Exception as exc:  # noqa: BLE001 - the contract is: never raise, answer on_error
            return Decision.fallback(self.on_error, f"internal error: {type(exc).__name__}: {exc}", event,
                                     self.name, self.revision)

    def _evaluate_record(self, record: Any, explain: bool) -> RecordDecision:
        problem = _record_problem(record)
        if problem is not None:
            return RecordDecision(self.on_error, errors=[problem], trace=[] if explain else None)
        return self._run(RecordContext(record["ses"], self.header_names), explain)

    def _run(self, ctx: RecordContext, explain: bool) -> RecordDecision:
        try:
            return self._explain(ctx) if explain else self._decides(ctx)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc, explain)

    def _failed(self, exc: Exception, explain: bool) -> RecordDecision:
        return RecordDecision(self.on_error, errors=[f"evaluation failed: {type(exc).__name__}: {exc}"],
                              trace=[] if explain else None)

    def _decide(self, ctx: RecordContext) -> RecordDecision:
        shadow: list[str] = []
        collected: Collected | None = None
        for holds, rule in self._plan:
            if holds(ctx):
                name, disposition, is_shadow, actions = rule
                if is_shadow:
                    shadow.append(name)
                if actions:
                    collected = collected or Collected()
                    collected.add(actions, ctx, is_shadow)
                if not is_shadow and disposition is not None:
                    if collected is None:
                        return RecordDecision(disposition, name, shadow)
                    return _decided(disposition, name, shadow, collected)
        return RecordDecision(self.default, None, shadow) if collected is None else \
            _decided(self.default, None, shadow, collected)

    def _explain(self, ctx: RecordContext) -> RecordDecision:
        """Same walk as _decide (a property test holds them equal), recording every rule tried."""
        from engine.trace import RuleTrace
        shadow: list[str] = []
        trace: list[RuleTrace] = []
        collected: Collected | None = None
        for rule in self._active:
            tree = rule.condition.explain(ctx) if rule.condition is not None else None
            step = RuleTrace(rule.name, rule.mode, rule.disposition, tree is None or tree.held, tree)
            trace.append(step)
            if step.held:
                is_shadow = rule.mode == "shadow"
                if is_shadow:
                    shadow.append(rule.name)
                if rule.actions:
                    collected = collected or Collected()
                    before = len(collected.shadow_actions if is_shadow else collected.actions)
                    collected.add(rule.actions, ctx, is_shadow)
                    step.actions = (collected.shadow_actions if is_shadow else collected.actions)[before:]
                if not is_shadow and rule.disposition is not None:
                    return _decided(rule.disposition, rule.name, shadow, collected, trace)
        return _decided(self.default, None, shadow, collected, trace)


def _decided(disposition: str, rule: str | None, shadow: list[str], collected: Collected | None,
             trace: list[RuleTrace] | None = None) -> RecordDecision:
    if collected is None:
        return RecordDecision(disposition, rule, shadow, trace=trace)
    return RecordDecision(disposition, rule, shadow, trace=trace, actions=collected.actions,
                          shadow_actions=collected.shadow_actions)
