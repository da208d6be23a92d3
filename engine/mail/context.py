"""One SES record while it is being decided, with the caches rules share.

Rules that test the same field must not pay for it twice: the header index is
built once per record, each address field is parsed at most once per record,
and only the fields the policy actually uses are ever parsed.
"""
from __future__ import annotations

from typing import Any

from engine.mail import addresses

# A record whose address strings exceed this in total uses the linear fallback.
ADDRESS_BUDGET = 16 * 1024


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
            entries = self.ses["mail"].get("headers")
            if type(entries) is list:
                for entry in entries:
                    if type(entry) is dict:
                        name = entry.get("name")
                        if type(name) is str:
                            key = name.lower()
                            if key in wanted and "value" in entry:
                                index.setdefault(key, []).append(entry["value"])
            self._headers = index
        return self._headers

    def parse_addresses(self, raw: str) -> list[addresses.Address]:
        """Parse one address string, switching to the linear fallback once the record's budget is spent."""
        self._address_chars += len(raw)
        return addresses.parse_addresses(raw, fallback=self._address_chars > ADDRESS_BUDGET)
