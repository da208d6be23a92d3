"""Named string lists: inline, from a file beside the policy, or from an environment variable.

A policy may be written by someone less trusted than the function (an SSM parameter
another team edits), so a list file must resolve inside the policy's folder and be a
regular file (found without blocking), and `{env: VAR}` cannot read a reserved
variable. Messages name a file or a variable, never their contents.
"""
from __future__ import annotations

from pathlib import Path

from engine.files import OutsideFolder, inside
from engine.lang.files import FileProblem, read_text
from engine.lang.interpolation import InterpolationError
from engine.lang.reader import Reader
from engine.lang.yamlsource import Mapping, Node, Scalar, Sequence

MAX_LIST_BYTES = 128 * 1024 * 1024    # list files are bounded apart from policies
MAX_LIST_ENTRIES = 2_000_000          # a million must load; 5 million addresses cost 1.35 GB
FOLDER_HINT = "list files are relative to the policy file's folder and must stay inside it, symlinks followed"


class Entries(list):
    """A list's entries and where they came from, so a message can name an entry's source without
    printing the others, and show an entry that came from `${VAR}` as written (`written`, by index)."""

    def __init__(self, entries, origin: str, written: dict[int, str] | None = None):
        super().__init__(entries)
        self.origin = origin
        self.written = written or {}

    def describe(self, entry: object) -> str | None:
        """`'x' (entry 3 of list file lists/blocked.txt)` for the entry object `entry`, None if not here."""
        for index, candidate in enumerate(self):
            if candidate is entry:
                shown = repr(self.written.get(index, getattr(entry, "text", entry)))
                return f"{shown} (entry {index + 1} of {self.origin})"
        return None


def _file_entries(reader: Reader, node: Node, base_dir: Path, name: str) -> list[str] | None:
    try:
        text = read_text(inside(base_dir, name), MAX_LIST_BYTES, "list file", shown=name)
    except OutsideFolder as exc:
        reader.error(node, "list-file", f"list file {name!r} is outside the policy's folder: it {exc}", FOLDER_HINT)
        return None
    except FileProblem as problem:
        code = "list-too-large" if problem.code == "too-large" else "list-file"
        hints = {"unreadable": FOLDER_HINT, "not-regular": "a list file holds one entry a line"}
        reader.error(node, code, problem.message, hints.get(problem.code, problem.hint))
        return None
    entries = []
    for raw in text.splitlines():
        entry = raw.strip()
        if entry and not entry.startswith("#"):
            entries.append(entry)
            if len(entries) > MAX_LIST_ENTRIES:
                reader.error(node, "list-too-large", f"list file {name!r} has more than {MAX_LIST_ENTRIES} entries")
                return None
    return Entries(entries, f"list file {name}")


def _separator(reader: Reader, node: Node | None) -> str | None:
    if node is None:
        return ","
    separator = reader.text(node, "separator")
    if separator == "":
        reader.error(node, "bad-separator", "separator cannot be empty", "write one character, e.g. separator: ';'")
        return None
    return separator


def _env_entries(reader: Reader, node: Mapping) -> list | None:
    var = reader.text(node.get("env"), "env")
    separator = _separator(reader, node.get("separator"))
    if var is None or separator is None:
        return None
    try:
        value = reader.interpolator.get(var) or ""
    except InterpolationError as exc:
        reader.interpolation_error(node.get("env"), exc)
        return None
    entries = [e.strip() for e in value.split(separator)] if value else []
    entries = [e for e in entries if e]          # a trailing separator leaves no empty entry to match everything
    if value:
        reader.interpolator.used[var] = value
    if entries:
        return Entries(entries, f"environment variable {var}")
    default = node.get("default")
    if default is None:
        reader.error(node.get("env"), "env-unset", f"environment variable {var} is unset or empty",
                     f"set {var}, or add default: [...]")
        return None
    return _inline(reader, default, f"the default of {var}")


def _inline(reader: Reader, node: Node, origin: str) -> list | None:
    seq = reader.sequence(node, "list")
    if seq is None:
        return None
    values = [reader.literal(item, "list entry") for item in seq.items]
    if any(v is None for v in values):
        return None
    written = {i: item.text for i, item in enumerate(seq.items) if isinstance(item, Scalar) and "$" in item.text}
    return Entries(values, origin, written)


def load_lists(reader: Reader, node: Node, base_dir: Path) -> dict[str, list | None]:
    """Every list by name; one that does not load is None and has left a diagnostic."""
    mapping = reader.mapping(node, "lists")
    lists: dict[str, list | None] = {}
    if mapping is None:
        return lists
    for key, value in mapping.items:
        if isinstance(value, Sequence):
            entries = _inline(reader, value, f"list {key.text}")
        elif isinstance(value, Mapping) and value.get("file") is not None:
            reader.check_keys(value, ("file",), f"list {key.text!r}")
            name = reader.text(value.get("file"), "file")
            entries = None if name is None else _file_entries(reader, value.get("file"), base_dir, name)
        elif isinstance(value, Mapping) and value.get("env") is not None:
            reader.check_keys(value, ("env", "separator", "default"), f"list {key.text!r}")
            entries = _env_entries(reader, value)
        else:
            reader.error(value, "bad-list", f"list {key.text!r} must be a list, {{file: F}} or {{env: VAR}}",
                         "e.g. partners: [acme.example, example.org]")
            entries = None
        lists[key.text] = entries
    return lists
