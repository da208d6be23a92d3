"""`make new-policy NAME=prod`: a deployable policy and its tests, as `make test` requires them.

`policies/NAME.yaml` starts as the starter policy (`policies/default.yaml`) named NAME, and
`tests/cases/NAME.yaml` as the starter's tests pointed at it, so the pair passes `make test`
before it is edited (docs/deploy.md, "Adding a policy", lists what `make test` asks of a
policy in `policies/`). Existing files are never overwritten.

Usage: python scripts/new_policy.py NAME
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTER = "default"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")   # a file name and a policy name alike
USAGE = "usage: make new-policy NAME=prod   (letters, digits, '_' and '-')"


class NewPolicyError(Exception):
    """Nothing was written; the message says why."""


def policy_path(root: Path, name: str) -> Path:
    return root / "policies" / f"{name}.yaml"


def tests_path(root: Path, name: str) -> Path:
    return root / "tests" / "cases" / f"{name}.yaml"


def create(root: Path, name: str) -> list[Path]:
    """Write the policy and its test file; refuse a bad name or a file that exists."""
    if not NAME.match(name):
        raise NewPolicyError(f"{name!r} is not a policy name\n{USAGE}")
    targets = {policy_path(root, STARTER): policy_path(root, name), tests_path(root, STARTER): tests_path(root, name)}
    for starter, target in targets.items():
        if target.exists():
            raise NewPolicyError(f"{target.relative_to(root)} exists already; nothing written")
        if not starter.is_file():
            raise NewPolicyError(f"the starter {starter.relative_to(root)} is missing; nothing written")
    policy, tests = (starter.read_text(encoding="utf-8") for starter in targets)
    policy, named = re.subn(rf"^name: {STARTER}$", f"name: {name}", policy, count=1, flags=re.M)
    if not named:
        raise NewPolicyError(f"the starter policy has no `name: {STARTER}` line to rename; nothing written")
    texts = [policy, tests.replace(f"policies/{STARTER}.yaml", f"policies/{name}.yaml")]
    for target, text in zip(targets.values(), texts):
        target.write_text(text, encoding="utf-8")
    return list(targets.values())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        created = create(ROOT, argv[0])
    except NewPolicyError as error:
        print(f"make new-policy: {error}", file=sys.stderr)
        return 2
    policy, tests = (path.relative_to(ROOT) for path in created)
    print(f"created {policy}: the starter policy, named {argv[0]}\n"
          f"created {tests}: its tests\n"
          f"edit both, then run make test (docs/deploy.md, \"Adding a policy\")")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
