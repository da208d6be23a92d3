"""Look-alike detection by Unicode UTS #39 skeletons, for `confusable_with`.

Two strings are confusable when their skeletons are equal: ``pаypal`` (Cyrillic ``а``),
``paypa1`` and ``paypal`` all have the skeleton ``paypal``; ``rn`` and ``m`` share ``rn``.
The source -> prototype table (``confusables_table.py``, derived by
``scripts/derive_confusables.py`` from a maintained package's copy of Unicode's
confusables.txt) is imported on first use only, so a policy that does not use the
operator does not pay for it at cold start.

Values that compare case-insensitively (domains always; text and local parts unless
``case_sensitive``) compare their skeletons lowercased: a domain is lowercase, so the
only capitals in its skeleton are prototypes such as ``O`` for ``0``, and ``g00gle.com``
must look like ``google.com``, as it does to a reader.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

from engine.mail.values import remove_ignorables


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    from engine.mail.confusables_table import PROTOTYPES
    return PROTOTYPES


def skeleton(text: str, fold: bool = True) -> str:
    """UTS #39 skeleton: NFD, default-ignorables removed, each character replaced by its
    prototype, NFD again; case folded after that when ``fold``."""
    prototypes = _prototypes()
    text = remove_ignorables(unicodedata.normalize("NFD", text))
    text = unicodedata.normalize("NFD", "".join([prototypes.get(c, c) for c in text]))
    return text.lower() if fold else text     # lower(), not casefold(): ß stays apart from ss


def domain_skeleton(domain: str) -> tuple[str, ...]:
    """A normalised domain's skeleton, label by label: a look-alike of a dot (its prototype is
    ".") stays inside its label and cannot move a label boundary."""
    return tuple(skeleton(label) for label in domain.split("."))


def top_labels(domain: str, count: int) -> str | None:
    """The last ``count`` labels of ``domain`` (``count`` rfind calls), or None when it has fewer."""
    start = len(domain)
    for _ in range(count):
        if start < 0:
            return None
        start = domain.rfind(".", 0, start)
    return domain[start + 1:]
