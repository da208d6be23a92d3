"""A policy precompiled at package time: its node tree and JSONPath steps as JSON, beside the YAML.

A cold start that loads the YAML pays for PyYAML and for jsonpath_ng with PLY (about
40 ms of imports, and the parse of every path). `make package` therefore writes, beside
each shipped policy, a bundle (`default.yaml` -> `default.precompiled.json`) holding:

- the composed node tree, every scalar *as written* with its position: `${VAR}`
  interpolations and `{env: VAR}` lists stay unresolved and are resolved when the
  handler loads the bundle, with its own environment, by the same loader as the YAML;
- the steps of the policy's plain JSONPaths (`jsonpath.plain_steps`): plain data, turned
  into getters by the same generator as a parsed path (no policy text ever becomes code);
- what it was built from: the SHA-256 of the policy text and of each list file.

Loading a bundle needs the policy text as well (the revision hashes it, so the revision
is the one the YAML gives with the same environment). A bundle whose text or list file
hashes differ from the files beside it is stale, and one whose own digest does not match
its body was edited or damaged: either raises `Unusable`, and the caller loads the YAML.
(The digest finds damage and hand edits; a bundle is as trusted as the code in the zip
beside it, and whoever can rewrite one with a matching digest can rewrite the handler.)
(`engine.replay.bundle` is another kind of bundle: a policy *resolved* in the operator's
environment for the replay worker, which must reproduce that environment's revision.)
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.digest import hexdigest
from engine.files import OutsideFolder, inside
from engine.lang.files import FileProblem, read_text
from engine.lang.lists import MAX_LIST_BYTES
from engine.lang.loader import load_policy_tree
from engine.lang.yamlsource import MAX_NODES, MAX_POLICY_BYTES, Mapping, Node, Scalar, Sequence, compose
from engine.mail import jsonpath
from engine.policy import Policy

FORMAT = "ses-rules-precompiled"
VERSION = 1
SUFFIX = ".precompiled.json"
MAX_BUNDLE_BYTES = 16 * MAX_POLICY_BYTES    # a tree after alias expansion; past it, no bundle is written


class Unusable(Exception):
    """A bundle that is stale, damaged or not one; the message says which, for the log."""


def bundle_path(policy_file: str | os.PathLike) -> Path:
    """Where the bundle of a policy file is: beside it, `NAME.precompiled.json`."""
    path = Path(policy_file)
    return path.with_name(path.stem + SUFFIX)


def precompile(policy_file: str | os.PathLike) -> bytes:
    """The bundle of a policy file, which must load here (raises PolicyError or FileProblem)."""
    text = read_text(policy_file, MAX_POLICY_BYTES, "policy")
    file, folder = str(policy_file), Path(policy_file).parent
    root = compose(text, file)
    assert root is not None     # compose raises when there is no document
    with jsonpath.recording() as asked:
        policy = load_policy_tree(root, text, folder, file=file, name=Path(policy_file).stem)
    steps = {path: s for path in sorted(asked) if (s := jsonpath.plain_steps(path)) is not None}
    lists = {name: _list_hash(folder, name) for name in sorted(set(policy.list_files.values()))
             if "${" not in name}     # a name the environment chooses is read at load, whatever it is
    body = json.dumps({"source_sha256": hexdigest(_utf8(text)), "list_files": lists, "paths": steps,
                       "tree": _encode(root)}, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    head = json.dumps({"format": FORMAT, "version": VERSION, "sha256": hexdigest(body)})
    return head.encode() + b"\n" + body


def load_precompiled(data: bytes, text: str, policy_file: str | os.PathLike,
                     environ: Any = None) -> Policy:
    """The policy of `policy_file` (whose `text` was just read) from its bundle `data`, resolved in
    `environ`, exactly as `load_policy_text` would load the text. Raises Unusable when the bundle
    cannot stand for the files, PolicyError when the policy does not load in this environment."""
    body = _body(data)
    if body.get("source_sha256") != hexdigest(_utf8(text)):
        raise Unusable("stale: the policy file changed after the bundle was built")
    folder = Path(policy_file).parent
    lists = body.get("list_files")
    if not isinstance(lists, dict):
        raise Unusable("damaged: no list_files")
    for name, digest in lists.items():
        if _list_hash(folder, name, missing="") != digest:
            raise Unusable(f"stale: list file {name!r} changed after the bundle was built")
    paths = body.get("paths")
    if not isinstance(paths, dict):
        raise Unusable("damaged: no paths")
    try:
        root = _decode(body.get("tree"), [0])
        with jsonpath.preparsed(paths):
            return load_policy_tree(root, text, folder, file=str(policy_file), name=Path(policy_file).stem,
                                    environ=environ)
    except (ValueError, TypeError, RecursionError) as exc:
        raise Unusable(f"damaged: {exc}") from None


def _body(data: bytes) -> dict[str, Any]:
    """The bundle's body, after its header (format, version, digest of the body) is checked."""
    head, _, body = data.partition(b"\n")
    try:
        header = json.loads(head)
    except (ValueError, RecursionError):
        raise Unusable("damaged: the first line is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise Unusable("not a precompiled policy")
    if header.get("version") != VERSION:
        raise Unusable(f"format version {header.get('version')!r}; this engine reads {VERSION} (rebuild the package)")
    if header.get("sha256") != hexdigest(body):
        raise Unusable("damaged: its body does not match its digest (edited after it was built?)")
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        raise Unusable("damaged: the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise Unusable("damaged: the body is not an object")
    return parsed


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _list_hash(folder: Path, name: str, missing: str | None = None) -> str:
    """SHA-256 of a list file's text (read as the loader reads it); `missing` when it cannot be read."""
    try:
        return hexdigest(_utf8(read_text(inside(folder, name), MAX_LIST_BYTES, "list file")))
    except (FileProblem, OutsideFolder):
        if missing is None:
            raise
        return missing


# The tree as JSON: ["s", line, col, text, plain] | ["q", line, col, [node...]]
#                   | ["m", line, col, [[key scalar, node]...]]

def _encode(node: Node) -> Any:
    if isinstance(node, Scalar):
        return ["s", node.line, node.col, node.text, node.plain]
    if isinstance(node, Sequence):
        return ["q", node.line, node.col, [_encode(item) for item in node.items]]
    return ["m", node.line, node.col, [[_encode(key), _encode(value)] for key, value in node.items]]


def _decode(data: Any, count: list[int]) -> Node:
    """The node `data` encodes, checked as it is built (a bundle is a file anyone with the package can edit)."""
    count[0] += 1
    if count[0] > MAX_NODES or not isinstance(data, list) or len(data) not in (4, 5) or \
            type(data[1]) is not int or type(data[2]) is not int:
        raise ValueError("not a node")
    kind, line, col = data[0], data[1], data[2]
    if len(data) != (5 if kind == "s" else 4):
        raise ValueError("not a node")
    if kind == "s" and isinstance(data[3], str) and isinstance(data[4], bool):
        return Scalar(data[3], data[4], line, col)
    if kind == "q" and isinstance(data[3], list):
        return Sequence([_decode(item, count) for item in data[3]], line, col)
    if kind == "m" and isinstance(data[3], list):
        return Mapping([(_decode_key(pair, count), _decode(pair[1], count)) for pair in data[3]], line, col)
    raise ValueError("not a node")


def _decode_key(pair: Any, count: list[int]) -> Scalar:
    if not isinstance(pair, list) or len(pair) != 2:
        raise ValueError("not a mapping item")
    key = _decode(pair[0], count)
    if not isinstance(key, Scalar):
        raise ValueError("a mapping key that is not a scalar")
    return key
