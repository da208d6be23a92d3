"""The layering of docs/architecture.md, enforced: no module imports above or beside its layer."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"

# Each layer may import itself and the layers listed for it, nothing else (docs/architecture.md).
LEAVES = {"engine.suggest", "engine.mail.values", "engine.files", "engine.digest", "engine.valueclass"}
LAYERS: dict[str, set[str]] = {
    "leaf": set(),
    "mail": {"leaf"},
    "core": {"leaf", "mail"},
    "actions": {"leaf", "mail", "core"},
    "lang": {"leaf", "mail", "core", "actions"},
    "replay": {"leaf", "mail", "core", "actions", "lang"},
    "tools": {"leaf", "mail", "core", "actions", "lang", "replay"},
    "aws": {"leaf", "mail", "core", "actions", "lang", "replay"},
    "api": {"leaf", "mail", "core", "actions", "lang"},
    "entry": {"leaf", "mail", "core", "actions", "lang", "tools", "api"},
}


def layer_of(module: str) -> str:
    if module in LEAVES:
        return "leaf"
    if module == "engine":
        return "api"
    if module == "engine.__main__":
        return "entry"
    parts = module.split(".")
    if len(parts) >= 3 or (len(parts) == 2 and (ENGINE / parts[1]).is_dir()):
        return parts[1]
    return "core"


def module_name(path: Path) -> str:
    rel = path.relative_to(ENGINE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def engine_imports(path: Path) -> set[str]:
    """Every `engine...` module a file imports, at any depth of the file (lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "engine":
                found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; engine modules import absolutely")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "engine")
    return found


MODULES = sorted(ENGINE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ENGINE)))
def test_imports_follow_the_layers(path: Path) -> None:
    here = layer_of(module_name(path))
    allowed = LAYERS[here] | {here}
    wrong = {m for m in engine_imports(path) if layer_of(m) not in allowed and m != "engine"}
    if here not in ("api", "entry"):
        wrong |= {m for m in engine_imports(path) if m == "engine"}   # the public API sits on top
    assert not wrong, f"{module_name(path)} ({here}) imports {sorted(wrong)}"


def test_every_subpackage_has_a_layer() -> None:
    packages = {p.name for p in ENGINE.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert packages <= set(LAYERS), f"add {sorted(packages - set(LAYERS))} to LAYERS and docs/architecture.md"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The check is not vacuous: a mail module importing the loader is flagged."""
    bad = tmp_path / "bad.py"
    bad.write_text("from engine.lang.loader import load_policy\n")
    assert layer_of("engine.lang.loader") not in LAYERS["mail"] | {"mail"}
    assert engine_imports(bad) == {"engine.lang.loader"}


def test_the_package_map_names_every_module() -> None:
    """docs/architecture.md says what each module holds: a new module gets its line there."""
    doc = (ENGINE.parent / "docs" / "architecture.md").read_text()
    missing = [str(p.relative_to(ENGINE.parent)) for p in MODULES
               if p.name != "__init__.py" and p.name != "__main__.py" and p.parent.name != "commands"
               and str(p.relative_to(ENGINE.parent)) not in doc
               and str(p.parent.relative_to(ENGINE.parent)) + "/" not in doc]
    assert missing == []
