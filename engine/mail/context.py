"""One SES record while it is being decided, with the caches rules share.

Rules that test the same field must not pay for it twice: the header index is
built once per record, each address field is parsed at most once per record,
and only the fields the policy actually uses are ever parsed.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from engine.mail import addresses

# A record whose address strings exceed this in total uses the linear fallback.
ADDRESS_BUDGET = 16 * 1024


@lru_cache(maxsize=64)
def _lengths(names: frozenset[str]) -> frozenset[int]:
    """The lengths a header name may have to lower-case to one of `names` (a frozenset keeps its
    hash: one lookup a record). Lower-casing never shortens a name and lengthens only a name
    holding "İ" (to a non-ASCII "i̇"): an ASCII name is matched by names of its length, another
    by names no longer than it."""
    lengths: set[int] = set()
    for name in names:
        lengths.update([len(name)] if name.isascii() else range(1, len(name) + 1))
    return frozenset(lengths)


class RecordContext:
    __slots__ = ("ses", "cache", "_header_names", "_headers", "_address_chars")

    def __init__(self, ses: dict, header_names: frozenset[str] = frozenset()):
        self.ses = ses
        self.cache: dict[Any, Any] = {}
        self._header_names = header_names      # lower-cased names the policy tests; only these are indexed
        self._headers: dict[str, list[Any]] | None = None
        self._address_chars = 0

    def headers(self) -> dict[str, list[Any]]:
        """`mail.headers` indexed by lower-cased name, once per record, for the names the policy uses."""
        if self._headers is None:
            index: dict[str, list[Any]] = {}
            wanted = self._header_names
            lengths = _lengths(wanted)          # a name of another length is not lower-cased at all
            entries = self.ses["mail"].get("headers")
            if type(entries) is list and wanted:
                for entry in entries:
                    try:                        # an entry that is no object, or has no name, is no header
                        name = entry["name"]
                        if len(name) not in lengths:
                            continue
                    except (TypeError, KeyError):
                        continue
                    if type(name) is str and type(entry) is dict:
                        key = name.lower()
                        if key in wanted and "value" in entry:
                            index.setdefault(key, []).append(entry["value"])
            self._headers = index
        return self._headers

    def parse_all(self, strings: list[Any], charge: bool = True,
                  fallback: bool | None = None) -> list[list[addresses.Address]]:
        """Each string of a field parsed (a value that is no string has no address), switching to the
        linear fallback once the record's address strings exceed their budget. `charge=False`:
        the strings were charged to the budget already, and `fallback` is the route decided then
        for all of them."""
        parse, out = addresses.parse_addresses, []
        for raw in strings:
            if isinstance(raw, str):
                if charge:
                    self._address_chars += len(raw)
                out.append(parse(raw, fallback=self._address_chars > ADDRESS_BUDGET if fallback is None else fallback))
            else:
                out.append([])
        return out

    def count_bare(self, strings: list[Any], charge: bool = True) -> bool:
        """Whether every string is one bare address, which every route of `parse_all` reads alike:
        then their number is their count of addresses, and they are charged to the budget as
        `parse_all` would charge them, unless charged already (True); otherwise nothing is
        charged (False)."""
        try:
            if not strings or not addresses.all_bare(strings):
                return False
        except TypeError:           # a value that is no string: joining them refuses it
            return False
        if charge:
            self._address_chars += sum(map(len, strings))
        return True

    def charge_within(self, chars: int) -> bool:
        """Charge `chars` of address text if the budget holds them all, so that each of its strings,
        parsed later, takes the route it would take now (none past the budget); otherwise charge
        nothing (False)."""
        if self._address_chars + chars > ADDRESS_BUDGET:
            return False
        self._address_chars += chars
        return True

    def charge(self, chars: int) -> None:
        """Count address text read without `parse_all` (a bare address every route reads alike)."""
        self._address_chars += chars
