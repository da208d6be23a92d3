"""The text normal form every text comparison uses: NFC, then case folding."""
from __future__ import annotations

import json
import unicodedata
from typing import Any

from .scalars import is_number


def fold(text: str) -> str:
    """NFC + casefold; ASCII (the common case) takes the cheap path."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFC", text.casefold())


def nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def as_text(value: Any) -> str | None:
    """A JSON value as text operators see it: strings as they are, numbers and booleans as
    their JSON text; objects, arrays and null have no text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return json.dumps(value)
    return None
