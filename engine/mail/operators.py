"""Operators: one registry entry each, built at load time into plain predicates.

A value operator builds `pred(value, ctx) -> bool`, checked per value; a
whole-set operator builds `pred(values, ctx) -> bool`. Literals are folded,
normalised, turned into sets and regexes here, once; the predicates only look
up and compare. An operator learns about the values only their `ValueForm`
(what kind of value, case sensitivity, the field's name for hints).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

from engine.mail import addresses, regex
from engine.mail.mailbox import SHORT_DOMAIN_LIST, within_domains
from engine.mail.values import (
    ADDRESS_FORMS,
    NUMBER_RE,
    NumberLiteral,
    ValueForm,
    as_text,
    is_number,
    match_form,
    match_form_keep_case,
    text_key,
)

ValuePred = Callable[[Any, Any], bool]


class LiteralError(ValueError):
    """A literal an operator cannot take; `literal` is the one at fault, when one is (the loader names
    where it came from: a list file's or a variable's entry, a `${VAR}` as written)."""

    def __init__(self, message: str, hint: str | None = None, literal: Any = None):
        super().__init__(message)
        self.hint = hint
        self.literal = literal


class Operator(NamedTuple):   # a registry row: immutable, and cheaper at a cold start than a frozen dataclass
    name: str
    arg: str      # the argument's kind: a key of engine.lang.arguments.ARGUMENTS
    scope: str    # value: checked per value | whole: looks at the set of values
    doc: str
    build: Callable[[Any, ValueForm], Callable] | None   # None: the compiler builds it (same_as)
    negatable: bool = False               # has a `not_` form
    counts: bool = False                  # may stand inside `count: {...}`
    forms: frozenset[str] | None = None   # the value forms it applies to (None: every form)


def as_is(text: str) -> str:
    return text


def _literal_text(lit: str | NumberLiteral) -> str:
    return lit.text if isinstance(lit, NumberLiteral) else lit


def _on_text(test: Callable[[str], bool]) -> ValuePred:
    """A value predicate over the value's text: numbers and booleans as JSON text, others never hold."""
    def pred(v: Any, ctx: Any) -> bool:
        if type(v) is not str:
            v = as_text(v)
            if v is None:
                return False
        return test(v)
    return pred


# ---- equality -------------------------------------------------------------------------------

def _address_literal(lit: str, form: ValueForm) -> str:
    """A literal in the normal form an address-form source hands out."""
    cs = form.case_sensitive
    if form.kind == "address":
        parsed = addresses.parse_literal(lit)
        if parsed is None:
            hint = f"to test the domain write {form.base}.domain" if "@" not in lit else None
            raise LiteralError(f"{lit!r} is not one e-mail address", hint, lit)
        return f"{text_key(cs)(parsed.local)}@{parsed.domain}"
    if form.kind == "domain":
        if "@" in lit:
            raise LiteralError(f"{lit!r} is an address, not a domain", f"use {form.base}.address", lit)
        return addresses.normalize_domain(lit)
    return text_key(cs)(lit)


def build_in(literals: list[str | NumberLiteral], form: ValueForm) -> ValuePred:
    """`in` (and `equals`, its one-literal case): set lookups, never scans."""
    if form.kind in ADDRESS_FORMS:
        wanted = frozenset(_address_literal(_literal_text(lit), form) for lit in literals)

        def member(v: Any, ctx: Any) -> bool:
            return v in wanted
        member.members = wanted     # type: ignore[attr-defined]  # the evaluation tests a whole list at once
        return member
    key = text_key(form.case_sensitive)
    texts = frozenset(key(_literal_text(lit)) for lit in literals)
    numbers = frozenset(lit.value for lit in literals if isinstance(lit, NumberLiteral))
    fold = key is match_form        # ASCII text, the common case, is folded here without a call

    def pred(v: Any, ctx: Any) -> bool:
        if type(v) is str:
            if v.isascii():
                return (v.lower() if fold else v) in texts
            return key(v) in texts
        if is_number(v) and v in numbers:
            return True
        text = as_text(v)
        return text is not None and key(text) in texts
    pred.ascii_texts = (texts, fold)   # type: ignore[attr-defined]  # what ASCII text is looked up in, inline
    return pred


def build_equals(literal: str | NumberLiteral, form: ValueForm) -> ValuePred:
    return build_in([literal], form)


# ---- text -----------------------------------------------------------------------------------

def _wanted(literals: list[str | NumberLiteral], form: ValueForm) -> tuple[Callable[[str], str], tuple[str, ...]]:
    key = text_key(form.case_sensitive)
    return key, tuple(key(_literal_text(lit)) for lit in literals)


def _literal_pred(where: str) -> Callable[[Any, ValueForm], ValuePred]:
    """`contains` / `starts_with` / `ends_with`: one pass over the value's match form whatever
    the number of strings (one RE2 program past a few)."""
    def build(literals, form: ValueForm) -> ValuePred:
        key, wanted = _wanted(literals, form)
        found = regex.literal_search(wanted, where)
        fold = key is match_form        # ASCII text, the common case, takes its match form inline
        on_text = _on_text(lambda text: found(key(text)))

        def pred(v: Any, ctx: Any) -> bool:
            if type(v) is str and v.isascii():
                return found(v.lower() if fold else v)
            return on_text(v, ctx)
        return pred
    return build


build_contains = _literal_pred("in")
build_starts_with = _literal_pred("start")
build_ends_with = _literal_pred("end")


def _yes_no(program, method: str) -> Callable[[str], bool]:
    """`program.<method>(text) is not None`, asked of RE2 directly when the wrapper exposes its
    program: the wrapper's own call builds a generator, offset tables and a match object
    (2 µs a call) that a yes or no never reads. Raises UnicodeEncodeError as the wrapper does."""
    inner = getattr(program, "_regexp", None)
    anchor = regex.method_anchors().get(method)
    if inner is None or anchor is None or not isinstance(program.pattern, str):
        run = getattr(program, method)
        return lambda text: run(text) is not None
    match, nothing = inner.Match, (-1, -1)

    def test(text: str) -> bool:
        data = text.encode("utf-8")
        return match(anchor, data, 0, len(data))[0] != nothing
    return test


def _regex_pred(program, method: str) -> ValuePred:
    """RE2 on the value's match form without folding (ASCII text is its own)."""
    run = _yes_no(program, method)

    def test(text: str) -> bool:
        try:
            return run(match_form_keep_case(text))
        except UnicodeEncodeError:     # a lone surrogate (JSON "\ud800") cannot reach RE2 as UTF-8
            return run(match_form_keep_case(text.encode("utf-8", "replace").decode("utf-8")))
    on_text = _on_text(test)

    def pred(v: Any, ctx: Any) -> bool:
        return run(v) if type(v) is str and v.isascii() else on_text(v, ctx)
    return pred


def _compile(literals: list, patterns: list[str], cs: bool):
    """The RE2 program of `patterns`, the translation of `literals`; an error names the literal."""
    try:
        return regex.compile_any(patterns, case_sensitive=cs)
    except regex.RegexError as exc:
        literal = literals[patterns.index(exc.pattern)]
        raise LiteralError(exc.template.format(regex.quoted(_literal_text(literal))), exc.hint, literal) from None


def build_matches(literals, form: ValueForm) -> ValuePred:
    """RE2 search on the value's match form without folding; the pattern is never normalised,
    case-insensitivity is RE2's own flag (folding would turn a pattern's \\D into \\d)."""
    patterns = [_literal_text(p) for p in literals]
    return _regex_pred(_compile(literals, patterns, form.case_sensitive), "search")


def glob_to_regex(pattern: str) -> str:
    """`*` any run, `?` one character, everything else literal; (?s) so `*` crosses newlines."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "*" else "." if ch == "?" else regex.re2.escape(ch))
    return "(?s)" + "".join(out)


def build_glob(literals, form: ValueForm) -> ValuePred:
    """Like `matches`: the pattern as written (NFKC would make a full-width ＊ a wildcard)."""
    program = _compile(literals, [glob_to_regex(_literal_text(p)) for p in literals], form.case_sensitive)
    return _regex_pred(program, "fullmatch")


# ---- domains --------------------------------------------------------------------------------

def _domain_of(value: Any) -> str | None:
    if type(value) is not str or not value:
        return None
    return addresses.normalize_domain(value.rpartition("@")[2])


def build_in_domain(literals, form: ValueForm) -> ValuePred:
    """Equal to a listed domain or a subdomain of it, on a label boundary: a set lookup per label."""
    domains = set()
    for lit in literals:
        text = _literal_text(lit).strip().lstrip("*").lstrip(".")
        if "@" in text or not text:
            raise LiteralError(f"{_literal_text(lit)!r} is not a domain", "write example.com; subdomains are included",
                               lit)
        domains.add(addresses.normalize_domain(text))
    wanted = frozenset(domains)
    if form.kind in ADDRESS_FORMS and len(wanted) <= SHORT_DOMAIN_LIST and "" not in wanted:
        suffixes = tuple("." + domain for domain in wanted)      # within_domains' short form, inline

        def short(v: Any, ctx: Any) -> bool:
            domain = v.rpartition("@")[2]
            return domain in wanted or domain.endswith(suffixes)
        return short
    within = within_domains(wanted)
    if form.kind in ADDRESS_FORMS:   # address sources hand out domains already in normal form

        def pred(v: Any, ctx: Any) -> bool:
            domain = v.rpartition("@")[2]
            return bool(domain) and within(domain)
        return pred

    def normalised(v: Any, ctx: Any) -> bool:
        domain = _domain_of(v)
        return bool(domain) and within(domain)
    return normalised


def same_as_key(form: ValueForm, other: ValueForm) -> Callable[[str], str]:
    """How `same_as` compares: address forms as extracted (already normal), anything else as folded text."""
    both_address = form.kind in ADDRESS_FORMS and other.kind in ADDRESS_FORMS
    return as_is if both_address else text_key(form.case_sensitive)


def build_confusable_with(literals, form: ValueForm) -> ValuePred:
    """Looks like a listed value without being one: equal UTS #39 skeletons.

    Domains compare label by label after IDNA, and a value holds when it or a parent domain
    on a label boundary looks like a listed domain (`login.paypa1.com`); a listed domain's
    own subdomains do not hold. Addresses compare local part and domain; text its match form.
    """
    from engine.mail import confusables     # the table loads only for policies that use it

    cs = form.case_sensitive
    if form.kind == "domain":
        return _confusable_domain([_domain_literal(lit) for lit in literals])
    if form.kind == "address":
        keep: Callable[[str], str] = as_is   # address values come in their normal form already

        def key(text: str) -> tuple[str, ...]:
            local, _, domain = text.rpartition("@")
            return (confusables.skeleton(local, not cs), *confusables.domain_skeleton(domain))
        listed = {_address_literal(_literal_text(lit), form) for lit in literals}
    else:
        keep = text_key(cs)

        def key(text: str) -> tuple[str, ...]:
            return (confusables.skeleton(text, not cs),)
        listed = {keep(_literal_text(lit)) for lit in literals}
    wanted = frozenset(key(text) for text in listed)

    def test(text: str) -> bool:
        text = keep(text)
        return text not in listed and key(text) in wanted
    return _on_text(test)


def _confusable_domain(literals: list[str]) -> ValuePred:
    """Per listed label count, the skeletons of the listed domains; a value's parent with
    that many labels (one `rfind` per label) is looked up, unless it is a listed domain."""
    from engine.mail import confusables

    listed = {addresses.normalize_domain(lit) for lit in literals}
    by_labels: dict[int, set[tuple[str, ...]]] = {}
    for domain in listed:
        by_labels.setdefault(domain.count(".") + 1, set()).add(confusables.domain_skeleton(domain))

    def pred(v: Any, ctx: Any) -> bool:
        for count, skeletons in by_labels.items():
            parent = confusables.top_labels(v, count) if type(v) is str else None
            if parent and parent not in listed and confusables.domain_skeleton(parent) in skeletons:
                return True
        return False
    return pred


def _domain_literal(lit) -> str:
    text = _literal_text(lit).strip()
    if "@" in text or not text:
        raise LiteralError(f"{text!r} is not a domain", "write example.com")
    return text


def form_hint(op: str, form: ValueForm) -> str:
    """What to write when `op` does not apply to a field of this form."""
    if form.kind in ("name", "local", "raw"):
        part = f"{form.base}.domain" if form.base else "the domain part"
        return f"use {part}"
    if form.base.startswith("header."):
        return f"use an address part: {form.base}.domain (or .address)"
    return (f"{form.field} is not an address: test an address field's part (from.domain, "
            f"header.Return-Path.domain), or use a path: test for the raw text")


# ---- numbers --------------------------------------------------------------------------------

def _number_of(value: Any) -> int | float | None:
    if is_number(value):
        return value
    if type(value) is str and NUMBER_RE.match(value):
        return float(value)
    return None


def _compare(test: Callable[[Any, Any], bool]):
    def build(limit, form: ValueForm) -> ValuePred:
        def pred(v: Any, ctx: Any) -> bool:
            number = _number_of(v)
            return number is not None and test(number, limit)
        pred.compare = (test, limit)    # type: ignore[attr-defined]  # a count (an int) is compared directly
        return pred
    return build


# ---- whole-set --------------------------------------------------------------------------------

def build_exists(wanted: bool, form: ValueForm):
    return lambda values, ctx: bool(values) is wanted


_DOMAINS = frozenset({"address", "domain", "json"})
_NOT_TEXT = frozenset({"address", "domain", "local", "name", "raw", "value", "json"})

OPERATORS: dict[str, Operator] = {op.name: op for op in (
    Operator("equals", "literal", "value", "equals the literal", build_equals, negatable=True, counts=True),
    Operator("in", "literals", "value", "equals one of the literals (a set lookup)", build_in,
             negatable=True, counts=True),
    Operator("contains", "literals", "value", "contains any of the strings", build_contains, negatable=True),
    Operator("starts_with", "literals", "value", "starts with any of the strings", build_starts_with,
             negatable=True),
    Operator("ends_with", "literals", "value", "ends with any of the strings", build_ends_with, negatable=True),
    Operator("matches", "literals", "value", "an RE2 regex matches anywhere", build_matches, negatable=True),
    Operator("glob", "literals", "value", "matches a glob whole (* and ?)", build_glob, negatable=True),
    Operator("in_domain", "literals", "value", "is in one of the domains or a subdomain", build_in_domain,
             negatable=True, forms=_DOMAINS),
    Operator("same_as", "field", "value", "equals a value of another field", None, negatable=True,
             forms=_NOT_TEXT),
    Operator("confusable_with", "literals", "value", "looks like one of them (UTS #39 skeleton) without being it",
             build_confusable_with, negatable=True),
    Operator("gt", "number", "value", "is a number greater than", _compare(lambda a, b: a > b), counts=True),
    Operator("gte", "number", "value", "is a number greater than or equal to", _compare(lambda a, b: a >= b),
             counts=True),
    Operator("lt", "number", "value", "is a number less than", _compare(lambda a, b: a < b), counts=True),
    Operator("lte", "number", "value", "is a number less than or equal to", _compare(lambda a, b: a <= b),
             counts=True),
    Operator("exists", "boolean", "whole", "the field has at least one value (true) or none (false)", build_exists),
    Operator("count", "count", "whole", "the number of values satisfies a number test", None),
)}
NEGATIONS: dict[str, str] = {f"not_{name}": name for name, op in OPERATORS.items() if op.negatable}
# What `count: {...}` may hold: tests on a number.
COUNT_OPERATORS = tuple([n for n, op in OPERATORS.items() if op.counts]
                        + [neg for neg, n in NEGATIONS.items() if OPERATORS[n].counts])


def all_operator_names() -> list[str]:
    return list(OPERATORS) + list(NEGATIONS)
