"""Build the Lambda deployment zip (`make package`).

The zip holds `handler.py`, `engine/`, `policies/` and the runtime dependencies
from pyproject's `[project].dependencies`, installed as wheels for the Lambda
runtime's Python and Linux rather than for the machine that builds it, and
byte-compiled by the runtime's own Python: Lambda unpacks the zip onto a
read-only file system, so modules without a matching `.pyc` are compiled again
on every cold start.

Before anything is built, every shipped policy (`policies/`) must load and the policy
tests that name one (`tests/cases/*.yaml`) must pass: a policy that does not load would
answer ON_ERROR for every mail in Lambda.

Each shipped policy gets its precompiled bundle beside it (`policies/NAME.precompiled.json`,
`engine/lang/precompiled.py`): the handler loads that at cold start instead of parsing the
YAML, and falls back to the YAML when the bundle does not match the files beside it.

Usage: python scripts/package.py [--out dist/ses-rules-lambda.zip] [--measure N]
Environment: ARCH=x86_64 (default) or arm64 (the template's `Architecture`
parameter must match); RUNTIME_PYTHON=/path/to/python3.12 to choose the
interpreter that compiles the bytecode (default: pyenv's 3.12, then PATH);
TRACING=1 to add the X-Ray SDK (pyproject's `tracing` extra) for the templates'
Tracing parameter.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST_ZIP = ROOT / "dist" / "ses-rules-lambda.zip"   # the template's CodeUri points here
STAGING = ROOT / "build" / "lambda"

RUNTIME_VERSION = "3.12"   # the template's Runtime is python<RUNTIME_VERSION> (a test checks)
GLIBC_MINOR = 34           # Amazon Linux 2023, the OS of the python3.12+ runtimes
ARCHES = {"x86_64": "x86_64", "arm64": "aarch64"}   # Lambda name -> wheel platform suffix
TASK_ROOT = "/var/task"    # where Lambda unpacks the zip; recorded in the bytecode

CODE = ("handler.py", "engine", "policies")
# Provided by the Lambda runtime; never shipped even if a dependency pulls them in.
IN_RUNTIME = ("boto3", "botocore", "s3transfer")
# Kept from each *.dist-info: METADATA so importlib.metadata still answers, and the
# licence texts the dependencies' licences require us to pass on.
DIST_INFO_KEEP = ("METADATA", "LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS", "licenses")
# Never imported at run time: stubs, console scripts, compiled caches for the build machine.
NEVER_IMPORTED_SUFFIXES = (".pyi", ".pyc", ".pyo")
NEVER_IMPORTED_NAMES = ("__pycache__", "py.typed")
NEVER_IMPORTED_DIRS = ("bin", "jsonpath_ng/bin")   # relative to the dependencies' root


POLICY_TESTS = "tests/cases"     # the policy tests (`ses-rules test` files) checked before a build


class PackageError(Exception):
    """A build step that cannot succeed; the message says what to do."""


def check_policies(root: Path = ROOT) -> list[str]:
    """Refuse to build unless every shipped policy loads and the policy tests naming one pass.

    Runs the checkout's own `ses-rules` (``python -m engine`` in ``root``), so a copy of the
    project is judged by its own code. Returns the test files that were run.
    """
    policies = shipped_policies(root)
    if not policies:
        raise PackageError(f"no policy in {root / 'policies'}: the package needs at least one")
    _ses_rules(root, "validate", *policies, failure="a shipped policy does not load")
    tests = [t for t in sorted((root / POLICY_TESTS).glob("*.yaml")) if tested_policy(t) in policies]
    if tests:
        _ses_rules(root, "test", *tests, failure="the policy tests of a shipped policy fail")
    return [str(t.relative_to(root)) for t in tests]


def shipped_policies(root: Path) -> list[Path]:
    """The policy files in `root`'s policies/ folder."""
    return sorted(path.resolve() for pattern in ("*.yaml", "*.yml") for path in (root / "policies").glob(pattern))


def write_bundles(root: Path) -> list[Path]:
    """Write the precompiled bundle of every policy in `root`/policies beside it; returns the bundles.

    Built with the engine that ships (this checkout's), from the files that ship. A policy too
    large for a bundle gets none: the handler then loads its YAML.
    """
    from engine.lang.precompiled import MAX_BUNDLE_BYTES, bundle_path, precompile
    written = []
    for policy in shipped_policies(root):
        data = precompile(policy)
        if len(data) <= MAX_BUNDLE_BYTES:
            bundle_path(policy).write_bytes(data)
            written.append(bundle_path(policy))
    return written


def tested_policy(test_file: Path) -> Path | None:
    """The policy a test file names (`policy:`, relative to the file), resolved."""
    import yaml
    try:
        data = yaml.safe_load(test_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None   # `ses-rules test` reports it when it matters; it names no shipped policy here
    name = data.get("policy") if isinstance(data, dict) else None
    return (test_file.parent / name).resolve() if isinstance(name, str) else None


def _ses_rules(root: Path, *args: object, failure: str) -> None:
    result = subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=root,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise PackageError(f"{failure}; not building:\n{(result.stdout + result.stderr).strip()}")


def dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The runtime requirements, read from pyproject so the list lives in one place."""
    with pyproject.open("rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def tracing_requirements(enabled: bool, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The `tracing` extra (the X-Ray SDK) when TRACING=1; without it the handler never loads the Tracer."""
    if not enabled:
        return []
    with pyproject.open("rb") as f:
        return list(tomllib.load(f)["project"]["optional-dependencies"]["tracing"])


def platform_tags(arch: str) -> list[str]:
    """Every manylinux tag the runtime's glibc accepts, newest first.

    `manylinux2014` alone would make pip fall back to old releases of packages
    that now publish only `manylinux_2_28` wheels (google-re2 does).
    """
    if arch not in ARCHES:
        raise PackageError(f"ARCH={arch!r} is not supported; use one of {', '.join(ARCHES)}")
    machine = ARCHES[arch]
    return [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 16, -1)] + [
        f"manylinux2014_{machine}"]


def find_runtime_python() -> Path | None:
    """The interpreter matching the Lambda runtime: $RUNTIME_PYTHON, pyenv's newest 3.12, or PATH."""
    if os.environ.get("RUNTIME_PYTHON"):
        return Path(os.environ["RUNTIME_PYTHON"])
    exe = f"python{RUNTIME_VERSION}"
    pyenv_root = os.environ.get("PYENV_ROOT") or _pyenv_root()
    if pyenv_root:
        versions = Path(pyenv_root) / "versions"
        found = sorted(versions.glob(f"{RUNTIME_VERSION}.*/bin/{exe}"),
                       key=lambda p: [int(x) for x in p.parts[-3].split(".") if x.isdigit()])
        if found:
            return found[-1]
    which = shutil.which(exe)
    return Path(which) if which else None


def _pyenv_root() -> str | None:
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def install_dependencies(target: Path, tags: list[str], extra: list[str]) -> None:
    """pip-install the wheels for the runtime's Python and Linux (`tags`) into `target`."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--target", str(target), "--no-compile", "--only-binary=:all:",
           "--implementation", "cp", "--python-version", RUNTIME_VERSION]
    for tag in tags:
        cmd += ["--platform", tag]
    result = subprocess.run(cmd + dependencies() + extra, capture_output=True, text=True)
    if result.returncode != 0:
        raise PackageError("pip could not install the dependencies for "
                           f"python{RUNTIME_VERSION} on {tags[0]}:\n{result.stderr.strip()}")


def prune(deps: Path) -> None:
    """Remove what Lambda never imports from the installed dependencies."""
    for name in IN_RUNTIME:
        _remove(deps / name)
        for info in deps.glob(f"{name}-*.dist-info"):
            _remove(info)
    for rel in NEVER_IMPORTED_DIRS:
        _remove(deps / rel)
    for info in deps.glob("*.dist-info"):
        for entry in info.iterdir():
            if not entry.name.startswith(DIST_INFO_KEEP):
                _remove(entry)
    for path in sorted(deps.rglob("*"), reverse=True):
        if path.name in NEVER_IMPORTED_NAMES or path.suffix in NEVER_IMPORTED_SUFFIXES:
            _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def copy_code(dest: Path) -> None:
    """Copy the project's own code and policies, without caches and type markers."""
    ignore = shutil.ignore_patterns(*NEVER_IMPORTED_NAMES, *(f"*{s}" for s in NEVER_IMPORTED_SUFFIXES))
    for name in CODE:
        src = ROOT / name
        if not src.exists():
            raise PackageError(f"{name} is missing from {ROOT}; the package needs it")
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)


def compile_bytecode(root: Path, python: Path) -> None:
    """Byte-compile with the runtime's Python; hash-based pyc survive zipping, timestamps do not."""
    result = subprocess.run(
        [str(python), "-I", "-m", "compileall", "-q", "-j", "0",
         "--invalidation-mode", "unchecked-hash", "-s", str(root), "-p", TASK_ROOT, str(root)],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise PackageError(f"compileall failed:\n{result.stdout}{result.stderr}")


def write_zip(root: Path, out: Path) -> None:
    """A reproducible zip: sorted entries, fixed timestamps, world-readable files."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(out)


def cold_import_ms(trees: dict[str, Path], python: Path, runs: int) -> dict[str, float]:
    """Median time of `import handler` per tree, in fresh isolated processes that see only it.

    The trees take turns, so a change in the machine's load affects them alike;
    `-B` keeps a tree without bytecode from gaining it during the measurement.
    """
    probe = ("import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); "
             "import handler; print((time.perf_counter() - t) * 1000)")
    samples: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(runs):
        for name, root in trees.items():
            result = subprocess.run([str(python), "-I", "-S", "-B", "-c", probe, str(root)],
                                    capture_output=True, text=True, cwd=root)
            if result.returncode != 0:
                raise PackageError(f"`import handler` failed in the package:\n{result.stderr}")
            samples[name].append(float(result.stdout.strip().splitlines()[-1]))
    return {name: statistics.median(values) for name, values in samples.items()}


def build(out: Path = DIST_ZIP, staging: Path = STAGING, arch: str = "x86_64",
          python: Path | None = None, measure: int = 0, tracing: bool = False) -> dict:
    """Build the zip at `out`; returns what was built (and, with `measure`, the import times)."""
    check_policies()
    tags = platform_tags(arch)
    python = python or find_runtime_python()
    if python is None or not python.exists():
        raise PackageError(f"python{RUNTIME_VERSION} (the Lambda runtime's version) was not found; "
                           f"install it (`pyenv install {RUNTIME_VERSION}`) or set RUNTIME_PYTHON")
    _remove(staging)
    staging.mkdir(parents=True)
    install_dependencies(staging, tags, tracing_requirements(tracing))
    prune(staging)
    copy_code(staging)
    report: dict = {"zip": out, "arch": arch, "python": python, "tracing": tracing,
                    "bundles": [b.name for b in write_bundles(staging)]}
    source_only = staging.with_name(staging.name + "-source")
    if measure:
        _remove(source_only)
        shutil.copytree(staging, source_only)
    compile_bytecode(staging, python)
    if measure:
        report["import_ms"] = cold_import_ms({"source": source_only, "bytecode": staging}, python, measure)
        _remove(source_only)
    write_zip(staging, out)
    report["size"] = out.stat().st_size
    report["files"] = len(zipfile.ZipFile(out).namelist())
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Lambda deployment zip.")
    parser.add_argument("--out", type=Path, default=DIST_ZIP, help="zip to write (default: %(default)s)")
    parser.add_argument("--measure", type=int, default=0, metavar="N",
                        help="also report the median cold import over N fresh processes, "
                             "without and with bytecode")
    args = parser.parse_args(argv)
    try:
        report = build(out=args.out.resolve(), arch=os.environ.get("ARCH", "x86_64"),
                       measure=args.measure, tracing=os.environ.get("TRACING", "") not in ("", "0"))
    except PackageError as exc:
        print(f"package: error: {exc}", file=sys.stderr)
        return 1
    print(f"{report['zip']}: {report['size'] / 1e6:.2f} MB ({report['size']} bytes), "
          f"{report['files']} files, {report['arch']}, bytecode by {report['python']}"
          f"{', with the X-Ray SDK (TRACING=1)' if report['tracing'] else ''}"
          f"; precompiled: {', '.join(report['bundles']) or 'none'}")
    if args.measure:
        print(f"cold `import handler`, median of {args.measure}: "
              f"{report['import_ms']['source']:.0f} ms from source, "
              f"{report['import_ms']['bytecode']:.0f} ms with bytecode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
