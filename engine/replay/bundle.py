"""A policy resolved for the replay worker: its text, the list files it reads, the environment it used.

The worker runs far from the operator's checkout and environment, so the bundle carries all
of them; loading it gives back the same revision (text, substituted values and list contents
are what the revision hashes), which the worker checks against the bundle's own claim and
against the revision the state machine was started with.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from engine.lang.diagnostics import PolicyError
from engine.lang.loader import load_policy, load_policy_text
from engine.policy import Policy

FORMAT = "ses-rules-bundle"
VERSION = 1


class BundleError(Exception):
    """A bundle that is not one, does not load, or is not the revision it should be."""


class _Recording(Mapping[str, str]):
    """The environment, noting every name the loader looks up."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self.environ[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return self.environ.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.environ)

    def __len__(self) -> int:
        return len(self.environ)


def make_bundle(path: str | os.PathLike, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The bundle of a policy file as it loads here and now; raises ``PolicyError``."""
    recording = _Recording(os.environ if environ is None else environ)
    policy = load_policy(path, environ=recording)
    folder = Path(path).parent
    files = {name: (folder / name).read_text(encoding="utf-8-sig") for name in list_files(policy)}
    env = {name: recording.environ[name] for name in sorted(recording.asked) if name in recording.environ}
    return {"format": FORMAT, "version": VERSION, "name": policy.name, "revision": policy.revision,
            "policy": Path(path).read_bytes().decode("utf-8-sig"), "files": files, "env": env}


def list_files(policy: Policy) -> list[str]:
    """The `{file: F}` list files a policy reads, as written."""
    return list(policy.list_files.values())


def load_bundle(data: bytes, expected_revision: str | None = None, *, origin: str = "bundle") -> Policy:
    """The policy a bundle holds, checked: its revision is the bundle's and the one expected."""
    bundle = _parse(data, origin)
    with tempfile.TemporaryDirectory(prefix="ses-rules-bundle-") as folder:
        for name, text in bundle["files"].items():
            target = Path(folder, *_safe_parts(name, origin))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            policy = load_policy_text(bundle["policy"], base_dir=folder, file=origin, name=bundle["name"],
                                      environ=bundle["env"])
        except PolicyError as exc:
            raise BundleError(f"{origin}: the policy does not load: {exc.errors[0]}") from None
    if policy.revision != bundle["revision"]:
        raise BundleError(f"{origin}: loads as revision {policy.revision}, not the {bundle['revision']} "
                          "it claims (edited by hand?)")
    if expected_revision and policy.revision != expected_revision:
        raise BundleError(f"{origin}: revision {policy.revision}, but {expected_revision} was expected "
                          "(the bundle was replaced after the run started?)")
    return policy


def _parse(data: bytes, origin: str) -> dict[str, Any]:
    try:
        bundle = json.loads(data)
    except (ValueError, RecursionError):
        raise BundleError(f"{origin}: not JSON: not a policy bundle (make one with `ses-rules bundle`)") from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise BundleError(f"{origin}: not a policy bundle (make one with `ses-rules bundle`)")
    if bundle.get("version") != VERSION:
        raise BundleError(f"{origin}: bundle version {bundle.get('version')!r}; this worker reads {VERSION}")
    kinds = {"name": str, "revision": str, "policy": str, "files": dict, "env": dict}
    for key, kind in kinds.items():
        if not isinstance(bundle.get(key), kind):
            raise BundleError(f"{origin}: bundle key {key!r} is missing or not a {kind.__name__}")
    return bundle


def _safe_parts(name: str, origin: str) -> tuple[str, ...]:
    """A list file's relative path, refused when it would leave the bundle's folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or not path.parts or ".." in path.parts:
        raise BundleError(f"{origin}: list file {name!r} is not a relative path inside the policy's folder")
    return path.parts
