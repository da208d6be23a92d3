"""Named fields and address parts: one registry entry each, compiled into value sources.

A source turns a record into the list of values a test looks at. Address
sources parse each address field once per record (cached in the context) and
hand out values already in the form equality compares: the local part in its
match form (case folded unless `case_sensitive`), the domain in its IDNA normal form.
Each source carries its `ValueForm`, which is all an operator learns about it.

The registry is also the shape of the SES record the rest of the project
knows: lint's record shape (`engine.mail.record`) and the event builder
(`engine.mail.sesevent`) are derived from `FIELDS`.
"""
from __future__ import annotations

from itertools import chain, repeat
from typing import Any, Callable

from engine.mail import addresses
from engine.mail.context import RecordContext
from engine.mail.jsonpath import compile_path
from engine.mail.values import ValueForm, match_form, text_key
from engine.valueclass import Frozen

VERDICTS = ("PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED")
DMARC_POLICIES = ("none", "quarantine", "reject")


class FieldSpec(Frozen):
    """kind: address | address list | text | verdict | enum | number | boolean; paths: where in
    the record's `ses` (the first that has the key wins); values: the allowed literals of
    verdict / enum fields; header: the message header SES fills it from (`commonHeaders`)."""
    __slots__ = ("name", "kind", "paths", "doc", "values", "header")

    def __init__(self, name: str, kind: str, paths: tuple[str, ...], doc: str, values: tuple[str, ...] = (),
                 header: str | None = None) -> None:
        self._set(name=name, kind=kind, paths=paths, doc=doc, values=values, header=header)

    @property
    def is_address(self) -> bool:
        return self.kind.startswith("address")


def _field(name: str, kind: str, *paths: str, doc: str, values: tuple[str, ...] = (),
           header: str | None = None) -> FieldSpec:
    return FieldSpec(name, kind, paths, doc, values, header)


_CH = "$.mail.commonHeaders"
FIELDS: dict[str, FieldSpec] = {f.name: f for f in (
    _field("sender", "address", "$.mail.source", doc="envelope MAIL FROM"),
    _field("from", "address list", f"{_CH}.from[*]", doc="From header addresses", header="From"),
    _field("to", "address list", f"{_CH}.to[*]", doc="To header addresses", header="To"),
    _field("cc", "address list", f"{_CH}.cc[*]", doc="Cc header addresses", header="Cc"),
    _field("bcc", "address list", f"{_CH}.bcc[*]", doc="Bcc header addresses", header="Bcc"),
    _field("sender_header", "address list", f"{_CH}.sender[*]", doc="Sender header addresses", header="Sender"),
    _field("reply_to", "address list", f"{_CH}.replyTo[*]", f"{_CH}['reply-to'][*]",
           doc="Reply-To header addresses (replyTo, or reply-to as some libraries emit it)", header="Reply-To"),
    _field("return_path", "address", f"{_CH}.returnPath", doc="Return-Path header", header="Return-Path"),
    _field("recipients", "address list", "$.receipt.recipients[*]",
           doc="envelope RCPT TO addresses the receipt rule matched"),
    _field("destination", "address list", "$.mail.destination[*]", doc="all envelope recipients"),
    _field("subject", "text", f"{_CH}.subject", doc="Subject header", header="Subject"),
    _field("message_id", "text", f"{_CH}.messageId", doc="Message-ID header", header="Message-ID"),
    _field("date", "text", f"{_CH}.date", doc="Date header", header="Date"),
    _field("ses_message_id", "text", "$.mail.messageId", doc="the SES message id (S3 object key)"),
    _field("spf", "verdict", "$.receipt.spfVerdict.status", doc="SPF verdict", values=VERDICTS),
    _field("dkim", "verdict", "$.receipt.dkimVerdict.status", doc="DKIM verdict", values=VERDICTS),
    _field("dmarc", "verdict", "$.receipt.dmarcVerdict.status", doc="DMARC verdict", values=VERDICTS),
    _field("spam", "verdict", "$.receipt.spamVerdict.status", doc="spam scan verdict", values=VERDICTS),
    _field("virus", "verdict", "$.receipt.virusVerdict.status", doc="virus scan verdict", values=VERDICTS),
    _field("dmarc_policy", "enum", "$.receipt.dmarcPolicy", doc="the sender domain's DMARC policy (only when DMARC fails)",
           values=DMARC_POLICIES),
    _field("processing_time_ms", "number", "$.receipt.processingTimeMillis", doc="SES processing time"),
    _field("headers_truncated", "boolean", "$.mail.headersTruncated", doc="SES cut the header list"),
    _field("action_type", "text", "$.receipt.action.type", doc="receipt action type (Lambda)"),
    _field("invocation_type", "text", "$.receipt.action.invocationType", doc="RequestResponse or Event"),
)}
HEADER_PREFIX = "header."
HEADER_DOC = ("value of every mail.headers entry whose name equals NAME case-insensitively; "
              "with a part (header.NAME.domain) the values parsed as address lists")


class PartSpec(Frozen):
    """form: the ValueForm kind of its values; value, of parts with exactly one value per
    address: that value, given the text key of the test's case sensitivity (what `extract`
    gives as a one-item list, without the list); bare: the same value read from a bare ASCII
    address as the string and its `addresses.bare_lower` form, given the case sensitivity."""
    __slots__ = ("name", "doc", "form", "extract", "value", "bare")

    def __init__(self, name: str, doc: str, form: str, extract: Callable[[addresses.Address, bool], list[str]],
                 value: Callable[[addresses.Address, Callable[[str], str]], str] | None = None,
                 bare: Callable[[str, str, bool], str] | None = None) -> None:
        self._set(name=name, doc=doc, form=form, extract=extract, value=value, bare=bare)


def _local(a: addresses.Address, cs: bool) -> str:
    return text_key(cs)(a.local)


def _name_address(text: str, cs: bool) -> str:
    local, _, domain = text.rpartition("@")
    return f"{text_key(cs)(local)}@{domain}"


def _one_value(value: Callable[[addresses.Address, Callable[[str], str]], str]) -> Callable[..., list[str]]:
    return lambda a, cs: [value(a, text_key(cs))]


def _address_value(a: addresses.Address, key: Callable[[str], str]) -> str:
    """local@domain, the local part in the test's match form: an ASCII one is itself or lower-cased."""
    local = a.local
    if local.isascii():
        return f"{local.lower() if key is match_form else local}@{a.domain}"
    return f"{key(local)}@{a.domain}"


_LOCAL: Callable[[addresses.Address, Callable[[str], str]], str] = lambda a, key: key(a.local)
_DOMAIN: Callable[[addresses.Address, Callable[[str], str]], str] = lambda a, key: a.domain
_USER: Callable[[addresses.Address, Callable[[str], str]], str] = lambda a, key: key(a.local).split("+", 1)[0]


def _bare_address(raw: str, lowered: str, cs: bool) -> str:
    """An ASCII local part's match form is its lower case; the domain's normal form is always that."""
    if not cs:
        return lowered
    at = raw.rindex("@")
    return raw[:at] + lowered[at:]


_BARE_DOMAIN: Callable[[str, str, bool], str] = lambda raw, lowered, cs: lowered[lowered.rindex("@") + 1:]
PARTS: dict[str, PartSpec] = {p.name: p for p in (
    PartSpec("address", "local@domain (the default)", "address", _one_value(_address_value), _address_value,
             _bare_address),
    PartSpec("local", "the local part", "local", _one_value(_LOCAL), _LOCAL),
    PartSpec("domain", "the domain, IDNA normal form", "domain", _one_value(_DOMAIN), _DOMAIN, _BARE_DOMAIN),
    PartSpec("user", "user of user+detail@domain", "local", _one_value(_USER), _USER),
    PartSpec("detail", "detail of user+detail@domain (none without +)", "local",
             lambda a, cs: _local(a, cs).split("+", 1)[1:]),
    PartSpec("display_name", "the display name, RFC 2047 decoded", "name",
             lambda a, cs: [a.display_name] if a.display_name else []),
    PartSpec("name_address", "every local@domain inside the display name (the classic spoof)", "address",
             lambda a, cs: [_name_address(t, cs) for t in a.name_addresses]),
    PartSpec("raw", "the string as SES gave it", "raw", lambda a, cs: []),   # served by RawSource
)}
# `where` tests parts of one address; `.raw` is the whole string, not one address's part.
WHERE_PARTS = tuple(p for p in PARTS if p != "raw")


class Source:
    """Where a test's values come from. `label` is the field or path as the policy wrote it."""
    label: str
    form: ValueForm
    field: FieldSpec | None = None
    header: str | None = None        # lower-cased header name the record must index
    at: tuple[int, int] | None = None    # where a path test wrote its path (lint reports there)

    def values(self, ctx: RecordContext) -> list[Any]:
        raise NotImplementedError


class PathSource(Source):
    """Raw JSON values of one or more JSONPaths; the first path whose values exist wins."""

    def __init__(self, label: str, paths: tuple[str, ...], form: ValueForm | None = None,
                 field: FieldSpec | None = None):
        self.label = label
        self.field = field
        self.form = form or ValueForm("json", field=label, base=label)
        self.getters = [compile_path(p) for p in paths]
        if len(self.getters) == 1:
            self.values = lambda ctx, get=self.getters[0]: get(ctx.ses)  # type: ignore[method-assign]

    def values(self, ctx: RecordContext) -> list[Any]:
        for get in self.getters:
            found = get(ctx.ses)
            if found:
                return found
        return []


class HeaderSource(Source):
    def __init__(self, name: str, label: str):
        self.label = label
        self.name = name
        self.header = name.lower()
        self.form = ValueForm("text", field=label, base=label)

    def values(self, ctx: RecordContext) -> list[Any]:
        return ctx.headers().get(self.header, [])  # type: ignore[arg-type]


class AddressSource(Source):
    """Address strings (a field's or a header's) + part; parsed once per record, part values cached."""

    def __init__(self, strings: Source, part: PartSpec, case_sensitive: bool, label: str, base: str,
                 multi: bool, field: FieldSpec | None = None):
        self.label = label
        self.strings = strings
        self.part = part
        self.field = field
        self.header = strings.header
        self.multi = multi      # several addresses expected (an address list, a header): lint reads it
        self.form = ValueForm(part.form, case_sensitive, label, base)
        self.case_sensitive = case_sensitive
        # String keys: their hash is cached, a tuple's is recomputed at every lookup.
        self._parsed_key = f"addresses:{base.lower()}"
        # Charged to the budget before any parse (counted, bounded, or read bare): the route then decided.
        self._counted_key = f"counted:{base.lower()}"
        self._values_key = f"part:{base.lower()}.{part.name}:{int(case_sensitive)}"
        self._key = text_key(case_sensitive)
        self._strings = strings.values
        one = strings.getters[0].one if type(strings) is PathSource and len(strings.getters) == 1 else None
        if one is not None and part.bare is not None:      # one string: the envelope sender, Return-Path
            self._one, self._bare = one, part.bare
            self._bare_key = f"bare:{base.lower()}"
            self.values = self._values_of_one     # type: ignore[method-assign]

    def parsed(self, ctx: RecordContext) -> list[list[addresses.Address]]:
        """Per SES string, its addresses (non-strings yield none)."""
        cache = ctx.cache
        cached = cache.get(self._parsed_key)
        if cached is None:
            cached = cache[self._parsed_key] = self._parse(ctx, self._strings(ctx))
        return cached

    def _parse(self, ctx: RecordContext, strings: list[Any]) -> list[list[addresses.Address]]:
        """`parse_all`, charging the strings unless they were charged before a parse (then with the
        route decided when they were)."""
        route = ctx.cache.get(self._counted_key)
        return ctx.parse_all(strings, route is None, route)

    def values(self, ctx: RecordContext) -> list[str]:
        cache = ctx.cache
        cached = cache.get(self._values_key)
        if cached is None:
            parsed = cache.get(self._parsed_key)
            if parsed is None:
                parsed = cache[self._parsed_key] = self._parse(ctx, self._strings(ctx))
            value = self.part.value
            if value is None:
                extract, cs = self.part.extract, self.case_sensitive
                cached = [v for group in parsed for a in group for v in extract(a, cs)]
            elif len(parsed) == 1 and len(parsed[0]) == 1:     # one string, one address: the usual
                cached = [value(parsed[0][0], self._key)]
            else:                           # one value per address: no list per address
                cached = list(map(value, chain.from_iterable(parsed), repeat(self._key)))
            cache[self._values_key] = cached
        return cached

    def _values_of_one(self, ctx: RecordContext) -> list[str]:
        """`values` of a field of one string: a bare ASCII address (nearly every envelope sender)
        gives its part without being parsed, charged to the record's budget once."""
        cache = ctx.cache
        cached = cache.get(self._values_key)
        if cached is None:
            bare = cache.get(self._bare_key)
            if bare is None:        # first read of the string: (it, its bare_lower form) or False
                raw = self._one(ctx.ses)
                lowered = addresses.bare_lower(raw) if type(raw) is str and self._parsed_key not in cache else None
                bare = cache[self._bare_key] = False if lowered is None else (raw, lowered)
                if bare:
                    ctx.charge(len(raw))
                    cache[self._counted_key] = False      # a bare address: every route reads it alike
            if not bare:
                return AddressSource.values(self, ctx)
            cached = cache[self._values_key] = [self._bare(*bare, self.case_sensitive)]
        return cached

    def count(self, ctx: RecordContext) -> int:
        """The number of addresses: the number of values of a part that has one per address.
        Strings that are each one bare address (nearly every recipient) are counted, not parsed."""
        cache = ctx.cache
        parsed = cache.get(self._parsed_key)
        if parsed is None:
            strings = self._strings(ctx)
            charged = self._counted_key in cache
            if ctx.count_bare(strings, not charged):
                if not charged:
                    cache[self._counted_key] = False      # bare addresses: every route reads them alike
                return len(strings)
            parsed = cache[self._parsed_key] = self._parse(ctx, strings)
        return sum(map(len, parsed))

    def at_most(self, ctx: RecordContext) -> int | None:
        """A bound of the number of addresses without parsing: the number of "@" in the strings
        (every route reads an address from text holding an "@" of its own), the strings charged
        to the budget as parsing them now would charge them. None (nothing charged) when they
        were parsed or charged already, are not all strings, or would cross the budget."""
        cache = ctx.cache
        if self._parsed_key in cache or self._counted_key in cache:
            return None
        try:
            joined = "".join(self._strings(ctx))
        except TypeError:
            return None
        if not ctx.charge_within(len(joined)):
            return None
        cache[self._counted_key] = False                  # within the budget: no string takes the fallback
        return joined.count("@")

    def per_address(self, ctx: RecordContext) -> list[list[str]] | None:
        """For `match: all`: each address's part values; None when a string yields no address."""
        groups = self.parsed(ctx)
        if any(not g for g in groups):
            return None
        extract, cs = self.part.extract, self.case_sensitive
        return [extract(a, cs) for g in groups for a in g]


class RawSource(AddressSource):
    """`.raw`: the SES strings themselves, as text."""

    def values(self, ctx: RecordContext) -> list[Any]:
        return self.strings.values(ctx)

    def per_address(self, ctx: RecordContext) -> list[list[str]] | None:
        return [[v] for v in self.strings.values(ctx)]


def field_names() -> list[str]:
    """Every spelling a condition key may take (for "did you mean" and the schema)."""
    names = list(FIELDS)
    names += [f"{f.name}.{p}" for f in FIELDS.values() if f.is_address for p in PARTS]
    return names


class FieldError(ValueError):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def resolve(key: str, case_sensitive: bool) -> Source:
    """A condition key (`from.domain`, `header.X-Spam-Flag`, `header.Sender.domain`, `subject`) as a source."""
    from engine.suggest import hint_for

    if key.startswith(HEADER_PREFIX):
        return _header(key, case_sensitive)
    name, _, part_name = key.partition(".")
    field = FIELDS.get(name)
    if field is None:
        raise FieldError(f"unknown field {key!r}", hint_for(key, field_names() + ["header.NAME"]))
    if not field.is_address:
        if part_name:
            raise FieldError(f"field {name!r} is not an address and has no part {part_name!r}",
                             "address parts apply to address fields only")
        form = ValueForm("text" if field.kind == "text" else "value", case_sensitive, key, key)
        return PathSource(key, field.paths, form, field)
    part = PARTS.get(part_name or "address")
    if part is None:
        raise FieldError(f"unknown address part {part_name!r} of {name!r}",
                         hint_for(part_name, PARTS) or f"parts: {', '.join(PARTS)}")
    return _address(PathSource(name, field.paths), part, case_sensitive, key, name, field.kind == "address list",
                    field)


def address_source(key: str, case_sensitive: bool) -> AddressSource:
    """The whole addresses of an address field or a header (`where` tests their parts)."""
    source = resolve(key, case_sensitive)
    if isinstance(source, HeaderSource):
        return _address(source, PARTS["address"], case_sensitive, key, key, True)
    if not isinstance(source, AddressSource) or isinstance(source, RawSource) or source.part.name != "address":
        base = source.form.base
        hint = f"write it on the field itself: {base}" if isinstance(source, AddressSource) else \
            "where applies to address fields (from, to, reply_to, ...) and header.NAME"
        raise FieldError(f"where tests the parts of one address; {key!r} is not a whole address", hint)
    return source


def _header(key: str, cs: bool) -> Source:
    """`header.NAME` (text) or `header.NAME.PART` (the header's values parsed as address lists)."""
    name = key[len(HEADER_PREFIX):]
    head, dot, last = name.rpartition(".")
    if dot and head and last in PARTS:
        base = HEADER_PREFIX + head
        return _address(HeaderSource(head, base), PARTS[last], cs, key, base, True)
    if not name:
        raise FieldError("header. needs a header name", "write header.X-Spam-Flag")
    return HeaderSource(name, key)


def _address(strings: Source, part: PartSpec, cs: bool, label: str, base: str, multi: bool,
             field: FieldSpec | None = None) -> AddressSource:
    cls = RawSource if part.name == "raw" else AddressSource
    return cls(strings, part, cs, label, base, multi, field)
