"""engine.lang.precompiled: the policy bundle `make package` ships, and the handler's use of it.

A bundle must decide exactly as its YAML (same revision, same decisions, same
traces), resolve `${...}` and env lists in the environment it is loaded in, and
never be trusted when it does not match the files beside it: then the handler
loads the YAML and says why. No bundle, however damaged, costs an answer.
"""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import corpus_files, need

import handler
from engine.aws.settings import POLICY_ENVIRONMENT
from engine.digest import hexdigest
from engine.lang.diagnostics import PolicyError
from engine.lang.loader import load_policy
from engine.lang.precompiled import FORMAT, VERSION, Unusable, bundle_path, load_precompiled, precompile
from handler_harness import ROOT, Lambda, lam, read_event  # noqa: F401  (lam: fixture)
from test_template import package

EVENTS = ROOT / "examples" / "events"
SHIPPED = sorted([*(ROOT / "policies").glob("*.yaml"), *(ROOT / "examples" / "policies").glob("*.yaml")])
EXAMPLE_EVENTS = sorted(p for p in EVENTS.iterdir() if p.suffix in (".json", ".eml"))
CONFIGURED = "subject-filter.yaml"      # ${MAIL_SOURCE:-...} and an {env: MAIL_SUBJECTS} list
PARTNER = "partner-support.yaml"        # a {file: lists/blocked-senders.txt} list


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The shipped and example policies (with their list files) in a folder of their own."""
    shutil.copytree(ROOT / "examples" / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "policies" / "default.yaml", tmp_path / "policies")
    return tmp_path / "policies"


def bundled(policy: Path) -> Path:
    """Write the policy's bundle beside it (as `make package` does); the policy file."""
    bundle_path(policy).write_bytes(precompile(policy))
    return policy


def from_bundle(policy: Path, environ: dict | None = None):
    return load_precompiled(bundle_path(policy).read_bytes(), policy.read_text(encoding="utf-8-sig"), policy,
                            environ)


@pytest.mark.parametrize("source", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_bundle_decides_as_its_yaml(source: Path, folder: Path) -> None:
    policy = bundled(folder / source.name)
    yaml, precompiled = load_policy(policy), from_bundle(policy)
    assert (precompiled.name, precompiled.revision) == (yaml.name, yaml.revision)
    for event in map(read_event, EXAMPLE_EVENTS):
        for explain in (False, True):
            assert precompiled.evaluate(event, explain).to_dict() == yaml.evaluate(event, explain).to_dict()


@pytest.mark.parametrize("path", corpus_files("ses-events", "*.json"))
def test_every_corpus_event_is_decided_alike(path: Path, folder: Path) -> None:
    event = json.loads(need(path).read_text(encoding="utf-8-sig"))
    for source in SHIPPED:
        policy = bundled(folder / source.name)
        assert from_bundle(policy).evaluate(event, True).to_dict() == load_policy(policy).evaluate(event, True).to_dict()


ENVIRONMENTS = [{}, {"MAIL_SOURCE": "wile@acme.example"},
                {"MAIL_SOURCE": "wile@acme.example", "MAIL_SUBJECTS": "CASE-;ALARM"}]


def test_interpolations_stay_unresolved_and_resolve_in_each_environment(folder: Path) -> None:
    policy = bundled(folder / CONFIGURED)
    data = bundle_path(policy).read_bytes()
    assert b"${MAIL_SOURCE:-zabbix@monitoring.corp.example}" in data and b'"env"' in data
    revisions = set()
    for environ in ENVIRONMENTS:
        yaml, precompiled = load_policy(policy, environ=environ), from_bundle(policy, environ)
        assert precompiled.revision == yaml.revision
        assert precompiled.lists == yaml.lists
        event = read_event(EVENTS / "partner-ticket.json")
        assert precompiled.evaluate(event).to_dict() == yaml.evaluate(event).to_dict()
        revisions.add(precompiled.revision)
    assert len(revisions) == len(ENVIRONMENTS)


def test_a_value_the_yaml_refuses_the_bundle_refuses_alike(folder: Path) -> None:
    policy = bundled(folder / "alerts-inbox.yaml")          # gt: ${SLOW_SCAN_MS:-5000}
    with pytest.raises(PolicyError) as error:
        from_bundle(policy, {"SLOW_SCAN_MS": "soon"})
    with pytest.raises(PolicyError) as expected:
        load_policy(policy, environ={"SLOW_SCAN_MS": "soon"})
    assert [str(d) for d in error.value.errors] == [str(d) for d in expected.value.errors]


def test_the_bundle_records_what_it_was_built_from(folder: Path) -> None:
    policy = bundled(folder / PARTNER)
    head, body = bundle_path(policy).read_bytes().split(b"\n", 1)
    assert json.loads(head) == {"format": FORMAT, "version": VERSION, "sha256": hexdigest(body)}
    built = json.loads(body)
    assert built["source_sha256"] == hexdigest(policy.read_text(encoding="utf-8").encode())
    lists = policy.parent / "lists" / "blocked-senders.txt"
    assert built["list_files"] == {"lists/blocked-senders.txt": hexdigest(lists.read_text(encoding="utf-8").encode())}
    assert built["paths"]["$.mail.source"] == [["key", "mail"], ["key", "source"]]


# --- the handler ----------------------------------------------------------------------------------

def _invoke(lam: Lambda, monkeypatch, policy: Path, event: str = "partner-ticket.json", **env: str):  # noqa: F811
    handler.policy_source.cache_clear()
    monkeypatch.setenv("POLICY_FILE", str(policy))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return lam.invoke(read_event(EVENTS / event))


def _not_used(run) -> list[str]:
    return [line["reason"] for line in run.logs if line["message"] == "precompiled policy not used, loading the YAML"]


@pytest.mark.parametrize("environ", ENVIRONMENTS[1:])
def test_the_handler_uses_the_bundle_with_the_yamls_revision(lam: Lambda, monkeypatch, folder: Path,  # noqa: F811
                                                             environ: dict) -> None:
    monkeypatch.delenv("MAIL_SOURCE", raising=False)
    monkeypatch.delenv("MAIL_SUBJECTS", raising=False)
    policy = bundled(folder / CONFIGURED)
    by_bundle = _invoke(lam, monkeypatch, policy, **{POLICY_ENVIRONMENT: json.dumps(environ)})
    assert by_bundle.decision["policy"]["source"] == f"precompiled:{bundle_path(policy)}"
    bundle_path(policy).unlink()
    by_yaml = _invoke(lam, monkeypatch, policy, **{POLICY_ENVIRONMENT: json.dumps(environ)})
    assert by_yaml.decision["policy"]["source"] == f"file:{policy}"
    assert by_bundle.decision["policy"]["revision"] == by_yaml.decision["policy"]["revision"] \
        == load_policy(policy, environ=environ).revision
    assert (by_bundle.answer, by_bundle.decision.get("rule")) == (by_yaml.answer, by_yaml.decision.get("rule"))
    assert _not_used(by_bundle) == _not_used(by_yaml) == []


def test_variables_of_the_function_resolve_the_bundle(lam: Lambda, monkeypatch, folder: Path) -> None:  # noqa: F811
    policy = bundled(folder / CONFIGURED)
    run = _invoke(lam, monkeypatch, policy, MAIL_SOURCE="wile@acme.example", MAIL_SUBJECTS="CASE-")
    assert run.decision["policy"]["source"].startswith("precompiled:")
    assert run.decision["rule"] == "subject-allowed"
    assert run.decision["policy"]["revision"] == load_policy(
        policy, environ={"MAIL_SOURCE": "wile@acme.example", "MAIL_SUBJECTS": "CASE-"}).revision


@pytest.mark.parametrize("edit, reason", [
    (lambda p: p.write_text(p.read_text() + "\n# edited in the console\n"), "the policy file changed"),
    (lambda p: (p.parent / "lists" / "blocked-senders.txt").write_text("wile@acme.example\n"),
     "list file 'lists/blocked-senders.txt' changed"),
    (lambda p: (p.parent / "lists" / "blocked-senders.txt").unlink(), "list file 'lists/blocked-senders.txt' changed"),
])
def test_a_stale_bundle_is_logged_and_the_yaml_decides(lam: Lambda, monkeypatch, folder: Path, edit,  # noqa: F811
                                                       reason: str) -> None:
    policy = bundled(folder / PARTNER)
    edit(policy)
    run = _invoke(lam, monkeypatch, policy)
    assert [r for r in _not_used(run) if r.startswith("stale") and reason in r]
    try:
        expected = load_policy(policy)
    except PolicyError:       # the list file is gone: the YAML does not load either, ON_ERROR answers
        assert run.answer == {"disposition": "CONTINUE"} and "policy load failed" in run.messages("ERROR")
        return
    assert run.decision["policy"] == {"name": expected.name, "revision": expected.revision,
                                      "source": f"file:{policy}"}
    assert run.decision.get("rule") == expected.evaluate(read_event(EVENTS / "partner-ticket.json")).rule


def _redigest(data: bytes, body: bytes) -> bytes:
    """A bundle whose body was replaced, with its digest made to match (an edit by someone who knows)."""
    header = json.loads(data.split(b"\n", 1)[0])
    return json.dumps({**header, "sha256": hexdigest(body)}).encode() + b"\n" + body


def _body_edit(change):
    def edit(data: bytes) -> bytes:
        body = json.loads(data.split(b"\n", 1)[1])
        change(body)
        return _redigest(data, json.dumps(body).encode())
    return edit


def _deep_tree(data: bytes, depth: int) -> bytes:
    """The tree replaced by `depth` nested sequences (written as text: too deep to build as data)."""
    body = data.split(b"\n", 1)[1]
    return _redigest(data, body[:body.index(b'"tree":')] + b'"tree":' + b'["q",1,1,[' * depth + b"]]" * depth + b"}")


DAMAGE = {
    "empty": lambda d: b"",
    "truncated": lambda d: d[:len(d) // 2],
    "binary": lambda d: bytes(range(256)) * 8,
    "body edited": lambda d: d.replace(b"drop-virus", b"drop-virux"),
    "other format": lambda d: d.replace(FORMAT.encode(), b"something-else"),
    "newer version": lambda d: d.replace(b'"version": 1', b'"version": 99'),
    "nested": lambda d: _redigest(d, b"[" * 100_000),
    "tree not a node": _body_edit(lambda b: b.update(tree=["x", 1, 1, []])),
    "tree too deep": lambda d: _deep_tree(d, 5000),
    "tree deep": lambda d: _deep_tree(d, 700),
    "key not a scalar": _body_edit(lambda b: b.update(tree=["m", 1, 1, [[["q", 1, 1, []], ["s", 1, 1, "x", True]]]])),
    "steps not steps": _body_edit(lambda b: b["paths"].update({"$.receipt.virusVerdict.status": [["exec", "x"]]})),
    "steps a string": _body_edit(lambda b: b["paths"].update({"$.receipt.virusVerdict.status": "oops"})),
    "slice step zero": _body_edit(lambda b: b["paths"].update({"$.receipt.virusVerdict.status": [["slice", [0, 1, 0]]]})),
    "paths missing": _body_edit(lambda b: b.pop("paths")),
    "lists not an object": _body_edit(lambda b: b.update(list_files=[])),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_bundle_is_logged_and_the_yaml_decides(lam: Lambda, monkeypatch, folder: Path,  # noqa: F811
                                                         damage) -> None:
    policy = bundled(folder / "default.yaml")
    bundle = bundle_path(policy)
    bundle.write_bytes(damage(bundle.read_bytes()))
    run = _invoke(lam, monkeypatch, policy, event="virus-fail.json")
    assert run.answer == {"disposition": "STOP_RULE_SET"} and run.decision["rule"] == "drop-virus"
    assert run.decision["policy"]["source"] == f"file:{policy}"
    assert len(_not_used(run)) == 1 and run.messages("ERROR") == []


def test_a_bundle_that_is_a_directory_is_not_read(lam: Lambda, monkeypatch, folder: Path) -> None:  # noqa: F811
    policy = folder / "default.yaml"
    bundle_path(policy).mkdir()
    run = _invoke(lam, monkeypatch, policy)
    assert run.decision["policy"]["source"] == f"file:{policy}" and len(_not_used(run)) == 1


def test_no_byte_of_a_bundle_makes_loading_raise_anything_but_its_errors(folder: Path) -> None:
    """Any single byte changed (the digest made to match): Unusable, PolicyError, or the same policy."""
    policy = bundled(folder / "default.yaml")
    data = bundle_path(policy).read_bytes()
    body = data.split(b"\n", 1)[1]
    text = policy.read_text(encoding="utf-8")
    expected = load_policy(policy).revision
    rng = random.Random(15)
    for _ in range(300):
        at = rng.randrange(len(body) - 1)
        changed = body[:at] + bytes([rng.choice(b'[]{}",:0123456789abcdefmqs\\ ')]) + body[at + 1:]
        try:
            loaded = load_precompiled(_redigest(data, changed), text, policy)
        except (Unusable, PolicyError):
            continue
        assert loaded.revision == expected       # the revision hashes the YAML's text, never the bundle's


def test_package_writes_a_bundle_per_shipped_policy(tmp_path: Path) -> None:
    package.copy_code(tmp_path)
    written = package.write_bundles(tmp_path)
    assert [p.name for p in written] == [p.stem + ".precompiled.json" for p in sorted((tmp_path / "policies").glob("*.yaml"))]
    assert from_bundle(tmp_path / "policies" / "default.yaml").revision == load_policy(ROOT / "policies" / "default.yaml").revision


def test_the_cold_path_imports_no_parser(tmp_path: Path) -> None:
    """A fresh process, laid out as the package is, answers from the bundle without YAML, PLY or hashlib."""
    package.copy_code(tmp_path)
    package.write_bundles(tmp_path)
    child = ("import json, sys; sys.path.insert(0, sys.argv[1]); import handler; "
             "event = json.loads(open(sys.argv[2], encoding='utf-8-sig').read()); "
             "answer = handler.lambda_handler(event, None); "
             "print('REPORT ' + json.dumps({'answer': answer, 'source': handler.policy_source().origin, "
             "'loaded': sorted({'yaml', 'jsonpath_ng', 'ply', 'hashlib', 'difflib'} & set(sys.modules))}))")
    result = subprocess.run([sys.executable, "-c", child, str(tmp_path), str(EVENTS / "partner-ticket.json")],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "AWS_REGION": "eu-west-1"})
    assert result.returncode == 0, result.stderr
    report = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))[7:])
    assert report == {"answer": {"disposition": "CONTINUE"}, "loaded": [],
                      "source": f"precompiled:{tmp_path / 'policies' / 'default.precompiled.json'}"}
