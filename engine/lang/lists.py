"""Named string lists: inline, from a file beside the policy, or from an environment variable."""
from __future__ import annotations

from pathlib import Path

from engine.lang.files import FileProblem, read_text
from engine.lang.reader import Reader
from engine.lang.yamlsource import Mapping, Node, Sequence

MAX_LIST_BYTES = 128 * 1024 * 1024    # list files are bounded apart from policies
MAX_LIST_ENTRIES = 2_000_000          # SPEC: at least a million; 5 million addresses cost 1.35 GB


def _file_entries(reader: Reader, node: Node, path: Path) -> list[str] | None:
    try:
        text = read_text(path, MAX_LIST_BYTES, "list file")
    except FileProblem as problem:
        code = "list-too-large" if problem.code == "too-large" else "list-file"
        hint = "list files are relative to the policy file's folder" if problem.code == "unreadable" else problem.hint
        reader.error(node, code, problem.message, hint)
        return None
    entries = []
    for raw in text.splitlines():
        entry = raw.strip()
        if entry and not entry.startswith("#"):
            entries.append(entry)
            if len(entries) > MAX_LIST_ENTRIES:
                reader.error(node, "list-too-large", f"list file {str(path)!r} has more than {MAX_LIST_ENTRIES} entries")
                return None
    return entries


def _env_entries(reader: Reader, node: Mapping) -> list | None:
    var = reader.text(node.get("env"), "env")
    separator = "," if node.get("separator") is None else reader.text(node.get("separator"), "separator")
    if var is None or separator is None:
        return None
    value = reader.interpolator.environ.get(var, "")
    entries = [e.strip() for e in value.split(separator)] if value else []
    entries = [e for e in entries if e]          # a trailing separator leaves no empty entry to match everything
    if value:
        reader.interpolator.used[var] = value
    if entries:
        return entries
    default = node.get("default")
    if default is None:
        reader.error(node.get("env"), "env-unset", f"environment variable {var} is unset or empty",
                     f"set {var}, or add default: [...]")
        return None
    return _inline(reader, default)


def _inline(reader: Reader, node: Node) -> list | None:
    seq = reader.sequence(node, "list")
    if seq is None:
        return None
    values = [reader.literal(item, "list entry") for item in seq.items]
    return None if any(v is None for v in values) else values


def load_lists(reader: Reader, node: Node, base_dir: Path) -> dict[str, list | None]:
    """Every list by name; one that does not load is None and has left a diagnostic."""
    mapping = reader.mapping(node, "lists")
    lists: dict[str, list | None] = {}
    if mapping is None:
        return lists
    for key, value in mapping.items:
        if isinstance(value, Sequence):
            entries = _inline(reader, value)
        elif isinstance(value, Mapping) and value.get("file") is not None:
            reader.check_keys(value, ("file",), f"list {key.text!r}")
            name = reader.text(value.get("file"), "file")
            entries = None if name is None else _file_entries(reader, value.get("file"), base_dir / name)
        elif isinstance(value, Mapping) and value.get("env") is not None:
            reader.check_keys(value, ("env", "separator", "default"), f"list {key.text!r}")
            entries = _env_entries(reader, value)
        else:
            reader.error(value, "bad-list", f"list {key.text!r} must be a list, {{file: F}} or {{env: VAR}}",
                         "e.g. partners: [acme.example, example.org]")
            entries = None
        lists[key.text] = entries
    return lists
