"""Operators: one registry entry each, built at load time into plain predicates.

A value operator builds `pred(value, ctx) -> bool`, checked per value; a
whole-set operator builds `pred(values, ctx) -> bool`. Literals are folded,
normalised, turned into sets and regexes here, once; the predicates only look
up and compare.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from engine.mail import addresses, regex
from engine.mail.fields import AddressSource, Source
from engine.mail.values import NUMBER_RE, NumberLiteral, as_text, is_number, match_form_keep_case, text_key

ValuePred = Callable[[Any, Any], bool]


class LiteralError(ValueError):
    """A literal an operator cannot take; `literal` is the one at fault, when one is (the loader names
    where it came from: a list file's or a variable's entry, a `${VAR}` as written)."""

    def __init__(self, message: str, hint: str | None = None, literal: Any = None):
        super().__init__(message)
        self.hint = hint
        self.literal = literal


@dataclass(frozen=True)
class Operator:
    name: str
    arg: str      # literal | literals | number | boolean | field | count
    scope: str    # value: checked per value | whole: looks at the set of values
    doc: str
    build: Callable[..., Callable]


def _literal_text(lit: str | NumberLiteral) -> str:
    return lit.text if isinstance(lit, NumberLiteral) else lit


# ---- equality -------------------------------------------------------------------------------

def _address_literal(lit: str, source: AddressSource) -> str:
    """A literal in the normal form the source's part hands out."""
    part, cs = source.part.name, source.case_sensitive
    if part in ("address", "name_address"):
        parsed = addresses.parse_literal(lit)
        if parsed is None:
            hint = f"to test the domain write {source.label.split('.')[0]}.domain" if "@" not in lit else None
            raise LiteralError(f"{lit!r} is not one e-mail address", hint, lit)
        return f"{text_key(cs)(parsed.local)}@{parsed.domain}"
    if part == "domain":
        if "@" in lit:
            raise LiteralError(f"{lit!r} is an address, not a domain", f"use {source.label.split('.')[0]}.address", lit)
        return addresses.normalize_domain(lit)
    return text_key(cs)(lit)


def build_in(literals: list[str | NumberLiteral], source: Source, cs: bool) -> ValuePred:
    """`in` (and `equals`, its one-literal case): set lookups, never scans."""
    if isinstance(source, AddressSource) and source.kind == "address":
        wanted = frozenset(_address_literal(_literal_text(lit), source) for lit in literals)
        return lambda v, ctx: v in wanted
    key = text_key(cs)
    texts = frozenset(key(_literal_text(lit)) for lit in literals)
    numbers = frozenset(lit.value for lit in literals if isinstance(lit, NumberLiteral))

    def pred(v: Any, ctx: Any) -> bool:
        if type(v) is str:
            return key(v) in texts
        if is_number(v) and v in numbers:
            return True
        text = as_text(v)
        return text is not None and key(text) in texts
    return pred


def build_equals(literal: str | NumberLiteral, source: Source, cs: bool) -> ValuePred:
    return build_in([literal], source, cs)


# ---- text -----------------------------------------------------------------------------------

def _text_pred(literals: list[str | NumberLiteral], cs: bool, test: Callable[[str, tuple[str, ...]], bool]) -> ValuePred:
    key = text_key(cs)
    wanted = tuple(key(_literal_text(lit)) for lit in literals)

    def pred(v: Any, ctx: Any) -> bool:
        text = v if type(v) is str else as_text(v)
        return text is not None and test(key(text), wanted)
    return pred


def build_contains(literals, source, cs) -> ValuePred:
    return _text_pred(literals, cs, lambda t, w: any(s in t for s in w))


def build_starts_with(literals, source, cs) -> ValuePred:
    return _text_pred(literals, cs, lambda t, w: t.startswith(w))


def build_ends_with(literals, source, cs) -> ValuePred:
    return _text_pred(literals, cs, lambda t, w: t.endswith(w))


def _regex_pred(program, key: Callable[[str], str], method: str) -> ValuePred:
    run = getattr(program, method)

    def pred(v: Any, ctx: Any) -> bool:
        text = v if type(v) is str else as_text(v)
        if text is None:
            return False
        try:
            return run(key(text)) is not None
        except UnicodeEncodeError:     # a lone surrogate (JSON "\ud800") cannot reach RE2 as UTF-8
            return run(key(text.encode("utf-8", "replace").decode("utf-8"))) is not None
    return pred


def _compile(literals: list, patterns: list[str], cs: bool):
    """The RE2 program of `patterns`, the translation of `literals`; an error names the literal."""
    try:
        return regex.compile_any(patterns, case_sensitive=cs)
    except regex.RegexError as exc:
        literal = literals[patterns.index(exc.pattern)]
        raise LiteralError(exc.template.format(regex.quoted(_literal_text(literal))), exc.hint, literal) from None


def build_matches(literals, source, cs) -> ValuePred:
    """RE2 search on the value's match form without folding; the pattern is never normalised,
    case-insensitivity is RE2's own flag (folding would turn a pattern's \\D into \\d)."""
    patterns = [_literal_text(p) for p in literals]
    return _regex_pred(_compile(literals, patterns, cs), match_form_keep_case, "search")


def glob_to_regex(pattern: str) -> str:
    """`*` any run, `?` one character, everything else literal; (?s) so `*` crosses newlines."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "*" else "." if ch == "?" else regex.re2.escape(ch))
    return "(?s)" + "".join(out)


def build_glob(literals, source, cs) -> ValuePred:
    """Like `matches`: the pattern as written (NFKC would make a full-width ＊ a wildcard)."""
    program = _compile(literals, [glob_to_regex(_literal_text(p)) for p in literals], cs)
    return _regex_pred(program, match_form_keep_case, "fullmatch")


# ---- domains --------------------------------------------------------------------------------

def _address_domain(value: str) -> str:
    return value.rpartition("@")[2]


def _domain_of(value: Any) -> str | None:
    if type(value) is not str or not value:
        return None
    return addresses.normalize_domain(value.rpartition("@")[2])


def build_in_domain(literals, source, cs) -> ValuePred:
    """Equal to a listed domain or a subdomain of it, on a label boundary: a set lookup per label."""
    if isinstance(source, AddressSource) and source.part.name not in ("address", "domain", "name_address"):
        raise LiteralError(f"in_domain needs an address or a domain, not {source.label}",
                           f"use {source.label.split('.')[0]}.domain")
    domains = set()
    for lit in literals:
        text = _literal_text(lit).strip().lstrip("*").lstrip(".")
        if "@" in text or not text:
            raise LiteralError(f"{_literal_text(lit)!r} is not a domain", "write example.com; subdomains are included",
                               lit)
        domains.add(addresses.normalize_domain(text))
    wanted = frozenset(domains)
    longest = max(map(len, wanted))
    # Address sources hand out domains already in normal form; only other text needs normalising.
    domain_of = _address_domain if isinstance(source, AddressSource) else _domain_of

    def pred(v: Any, ctx: Any) -> bool:
        domain = domain_of(v)
        return bool(domain) and any(parent in wanted for parent in addresses.parent_domains(domain, longest))
    return pred


def build_same_as(other: Source, source: Source, cs: bool) -> ValuePred:
    """Equal to any value of another field of the same record, in the form both share.

    The other field's values become a set once per record (cached in the context), so a
    hostile header with thousands of values costs one lookup per value, not a scan each.
    """
    both_address = isinstance(source, AddressSource) and source.kind == "address" and other.kind == "address"
    key = (lambda t: t) if both_address else text_key(cs)
    cache_key = f"same_as:{other.label}:{int(cs)}:{int(both_address)}"

    def keyed(value: Any) -> str | None:
        text = value if type(value) is str else as_text(value)
        return None if text is None else key(text)

    def pred(v: Any, ctx: Any) -> bool:
        wanted = ctx.cache.get(cache_key)
        if wanted is None:
            wanted = ctx.cache[cache_key] = frozenset(keyed(o) for o in other.values(ctx)) - {None}
        text = keyed(v)
        return text is not None and text in wanted
    return pred


def build_confusable_with(literals, source, cs) -> ValuePred:
    """Looks like a listed value without being one: equal UTS #39 skeletons.

    Domains compare label by label after IDNA, and a value holds when it or a parent domain
    on a label boundary looks like a listed domain (`login.paypa1.com`); a listed domain's
    own subdomains do not hold. Addresses compare local part and domain; text its match form.
    """
    from engine.mail import confusables     # the table loads only for policies that use it

    part = source.part.name if isinstance(source, AddressSource) else None
    if part == "domain":
        return _confusable_domain([_domain_literal(lit) for lit in literals])
    if part in ("address", "name_address"):
        form = str                          # address values come in their normal form already

        def key(text: str) -> tuple[str, ...]:
            local, _, domain = text.rpartition("@")
            return (confusables.skeleton(local, not cs), *confusables.domain_skeleton(domain))
        listed = {_address_literal(_literal_text(lit), source) for lit in literals}
    else:
        form = text_key(cs)

        def key(text: str) -> tuple[str, ...]:
            return (confusables.skeleton(text, not cs),)
        listed = {form(_literal_text(lit)) for lit in literals}
    wanted = frozenset(key(text) for text in listed)

    def pred(v: Any, ctx: Any) -> bool:
        text = v if type(v) is str else as_text(v)
        if text is None:
            return False
        text = form(text)
        return text not in listed and key(text) in wanted
    return pred


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


# ---- numbers --------------------------------------------------------------------------------

def _number_of(value: Any) -> int | float | None:
    if is_number(value):
        return value
    if type(value) is str and NUMBER_RE.match(value):
        return float(value)
    return None


def _compare(test: Callable[[Any, Any], bool]):
    def build(limit, source, cs) -> ValuePred:
        def pred(v: Any, ctx: Any) -> bool:
            number = _number_of(v)
            return number is not None and test(number, limit)
        return pred
    return build


# ---- whole-set --------------------------------------------------------------------------------

def build_exists(wanted: bool, source, cs):
    return lambda values, ctx: bool(values) is wanted


def build_count(number_test: ValuePred, source, cs):
    return lambda values, ctx: number_test(len(values), ctx)


OPERATORS: dict[str, Operator] = {op.name: op for op in (
    Operator("equals", "literal", "value", "equals the literal", build_equals),
    Operator("in", "literals", "value", "equals one of the literals (a set lookup)", build_in),
    Operator("contains", "literals", "value", "contains any of the strings", build_contains),
    Operator("starts_with", "literals", "value", "starts with any of the strings", build_starts_with),
    Operator("ends_with", "literals", "value", "ends with any of the strings", build_ends_with),
    Operator("matches", "literals", "value", "an RE2 regex matches anywhere", build_matches),
    Operator("glob", "literals", "value", "matches a glob whole (* and ?)", build_glob),
    Operator("in_domain", "literals", "value", "is in one of the domains or a subdomain", build_in_domain),
    Operator("same_as", "field", "value", "equals a value of another field", build_same_as),
    Operator("confusable_with", "literals", "value", "looks like one of them (UTS #39 skeleton) without being it",
             build_confusable_with),
    Operator("gt", "number", "value", "is a number greater than", _compare(lambda a, b: a > b)),
    Operator("gte", "number", "value", "is a number greater than or equal to", _compare(lambda a, b: a >= b)),
    Operator("lt", "number", "value", "is a number less than", _compare(lambda a, b: a < b)),
    Operator("lte", "number", "value", "is a number less than or equal to", _compare(lambda a, b: a <= b)),
    Operator("exists", "boolean", "whole", "the field has at least one value (true) or none (false)", build_exists),
    Operator("count", "count", "whole", "the number of values satisfies a number test", build_count),
)}
NEGATABLE = ("equals", "in", "contains", "starts_with", "ends_with", "matches", "glob", "in_domain", "same_as",
             "confusable_with")
NEGATIONS: dict[str, str] = {f"not_{name}": name for name in NEGATABLE}
# What `count: {...}` may hold: tests on a number.
COUNT_OPERATORS = ("equals", "in", "gt", "gte", "lt", "lte", "not_equals", "not_in")


def all_operator_names() -> list[str]:
    return list(OPERATORS) + list(NEGATIONS)
