"""The Lambda zip of `make package`, unzipped and run by the runtime's Python in isolation.

The child interpreter runs with `-I -S`: no environment variables, no user or site
packages, only the unzipped folder and the standard library on its path, as on
Lambda, where boto3 is the only extra (and the handler needs it only for SSM).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from engine.mail.sesevent import event_from_eml
from test_template import Stack, package

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "examples" / "events"
ELF_MACHINE = {"x86_64": 62, "arm64": 183}   # e_machine of EM_X86_64 / EM_AARCH64

# Runs inside the unzipped package: argv = [root, mode]; stdin = JSON input for the mode.
CHILD = r'''
import importlib.metadata, importlib.util, json, sys, sysconfig
root = sys.argv[1]
sys.path.insert(0, root)
mode = sys.argv[2]
import handler

class Context:
    function_name = "ses-rules"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:ses-rules"
    aws_request_id = "req-1"

if mode == "decide":
    answers = {name: handler.lambda_handler(event, Context())
               for name, event in json.load(sys.stdin).items()}
    print("ANSWERS " + json.dumps(answers))
    print("PARSERS " + json.dumps(sorted({"yaml", "jsonpath_ng", "ply", "hashlib"} & set(sys.modules))))
elif mode == "inspect":
    stdlib = (sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"))
    loaded = sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)})
    bytecode = {}
    for path in loaded:
        if path.startswith(root) and path.endswith(".py"):
            cached = importlib.util.cache_from_source(path)
            with open(cached, "rb") as f:
                header = f.read(16)
            with open(path, "rb") as f:
                source_hash = importlib.util.source_hash(f.read())
            bytecode[path] = [header[:4] == importlib.util.MAGIC_NUMBER,
                              int.from_bytes(header[4:8], "little"), header[8:16] == source_hash]
    print("INSPECT " + json.dumps({
        "outside": [p for p in loaded if not p.startswith((root,) + stdlib)],
        "bytecode": bytecode,
        "versions": {d: importlib.metadata.version(d) for d in json.load(sys.stdin)},
    }))
'''


@pytest.fixture(scope="module")
def runtime_python() -> Path:
    python = package.find_runtime_python()
    if python is None:
        message = f"python{package.RUNTIME_VERSION} not found (pyenv install {package.RUNTIME_VERSION})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.fixture(scope="module")
def built(tmp_path_factory, runtime_python: Path) -> dict:
    """`scripts/package.py` run as `make package` runs it, into a temporary folder."""
    out = tmp_path_factory.mktemp("dist") / "ses-rules-lambda.zip"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--out", str(out)],
                            capture_output=True, text=True, env={**os.environ, "ARCH": "x86_64",
                                                                 "RUNTIME_PYTHON": str(runtime_python)})
    assert result.returncode == 0, result.stderr
    return {"zip": out, "stdout": result.stdout}


@pytest.fixture(scope="module")
def unzipped(tmp_path_factory, built: dict) -> Path:
    root = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(built["zip"]) as zf:
        zf.extractall(root)
    return root


def run_child(python: Path, root: Path, mode: str, payload: object, **env: str) -> subprocess.CompletedProcess:
    """The package in a fresh runtime interpreter, configured as the template configures the function."""
    variables = {k: str(v) for k, v in Stack().props("Function")["Environment"]["Variables"].items()}
    result = subprocess.run([str(python), "-I", "-S", "-B", "-c", CHILD, str(root), mode],
                            input=json.dumps(payload), capture_output=True, text=True, cwd=root,
                            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "AWS_REGION": "eu-west-1",
                                 **variables, **env})
    assert result.returncode == 0, result.stderr
    return result


def tagged(stdout: str, tag: str) -> object:
    """The JSON the child printed after `tag`."""
    line = next(line for line in stdout.splitlines() if line.startswith(tag + " "))
    return json.loads(line[len(tag) + 1:])


def json_lines(stdout: str) -> list[dict]:
    """The child's log lines and EMF blobs (both JSON, one a line, on stdout)."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def load_event(path: Path) -> dict:
    """An example event; `.eml` files are converted here, the child only sees JSON."""
    if path.suffix == ".eml":
        return event_from_eml(path.read_bytes())
    return json.loads(path.read_text(encoding="utf-8-sig"))


def packaged_expectations() -> list:
    """(policy, {event: expectation}) for every policy that ships in the zip's policies/."""
    table = yaml.safe_load((EVENTS / "expected.yaml").read_text(encoding="utf-8")) or {}
    cases = [pytest.param(policy, table[policy], id=policy)
             for policy in sorted(table) if policy.startswith("policies/")]
    assert cases, "examples/events/expected.yaml has no entry for policies/"
    return cases


@pytest.mark.parametrize("env, message", [
    ({"ARCH": "sparc"}, "ARCH='sparc' is not supported; use one of x86_64, arm64"),
    ({"RUNTIME_PYTHON": "/nonexistent/python3.12"}, "python3.12 (the Lambda runtime's version) was not found"),
])
def test_bad_build_settings_get_a_clear_error(env, message, monkeypatch, capsys, tmp_path) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert package.main(["--out", str(tmp_path / "x.zip")]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()


def test_make_package_prints_the_size_of_the_zip(built: dict) -> None:
    size = built["zip"].stat().st_size
    assert f"({size} bytes)" in built["stdout"]
    assert size < 50 * 1024 * 1024, "over Lambda's limit for a directly uploaded zip"


@pytest.mark.parametrize("policy, expected", packaged_expectations())
def test_unzipped_package_decides_the_example_events(runtime_python, unzipped, policy, expected) -> None:
    names = sorted(expected)
    events = {name: load_event(EVENTS / name) for name in names}
    result = run_child(runtime_python, unzipped, "decide", events, POLICY_FILE=policy)
    answers = tagged(result.stdout, "ANSWERS")
    assert {n: answers[n]["disposition"] for n in names} == {n: expected[n]["disposition"] for n in names}
    decisions = [line for line in json_lines(result.stdout) if line.get("message") == "decision"]
    # Powertools drops keys whose value is None: no "rule" means the default decided.
    assert [d.get("rule") for d in decisions] == [expected[n]["rule"] for n in names]
    assert [d.get("shadow", []) for d in decisions] == [expected[n].get("shadow", []) for n in names]
    bundle = (unzipped.resolve() / policy).with_suffix(".precompiled.json")
    assert all(d["policy"]["source"] == f"precompiled:{bundle}" for d in decisions)
    assert tagged(result.stdout, "PARSERS") == [], "the precompiled bundle loads without YAML, PLY or hashlib"
    assert not [line for line in json_lines(result.stdout)
                if line.get("level") == "ERROR" or line.get("message", "").startswith("precompiled policy not used")]


def test_package_imports_nothing_from_outside_and_uses_its_bytecode(runtime_python, unzipped) -> None:
    dists = [d.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
             for d in package.dependencies()]
    result = run_child(runtime_python, unzipped, "inspect", dists)
    report = tagged(result.stdout, "INSPECT")
    assert report["outside"] == []
    assert any(p.endswith("/engine/policy.py") for p in report["bytecode"])
    stale = {p: v for p, v in report["bytecode"].items() if v != [True, 1, True]}
    assert not stale, "expected unchecked-hash pyc of the runtime's Python for every loaded module"
    assert set(report["versions"]) == set(dists), "importlib.metadata must still answer"


def test_zip_leaves_out_what_lambda_never_imports(built: dict, runtime_python: Path) -> None:
    names = zipfile.ZipFile(built["zip"]).namelist()
    tag = subprocess.run([str(runtime_python), "-I", "-c", "import sys; print(sys.implementation.cache_tag)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert {"handler.py", "engine/__init__.py", "policies/default.yaml"} <= set(names)
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"boto3", "botocore", "s3transfer", "bin", "tests"}
    assert not [n for n in names if n.endswith((".pyi", "py.typed")) or "/tests/" in n]
    assert not [n for n in names if n.endswith(".pyc") and f".{tag}." not in n]
    assert not [n for n in names if n.startswith("jsonpath_ng/bin/")]
    dist_info = [n.split("/", 1)[1] for n in names if n.split("/")[0].endswith(".dist-info")]
    assert dist_info and all(n == "METADATA" or n.startswith(("licenses/", "LICEN")) for n in dist_info)
    missing = [n for n in names if n.endswith(".py") and _cached(n, tag) not in names]
    assert not missing, f"no bytecode for {missing[:5]}"


def _cached(name: str, tag: str) -> str:
    folder, _, file = name.rpartition("/")
    return f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.{tag}.pyc"


def test_zip_is_reproducible_and_measuring_leaves_it_alone(built, runtime_python, tmp_path) -> None:
    again = tmp_path / "again.zip"
    report = package.build(out=again, staging=tmp_path / "staging", arch="x86_64",
                           python=runtime_python, measure=1)
    assert set(report["import_ms"]) == {"source", "bytecode"}
    assert all(ms > 0 for ms in report["import_ms"].values())
    with zipfile.ZipFile(built["zip"]) as first, zipfile.ZipFile(again) as second:
        assert first.namelist() == second.namelist()
        differ = [n for n in first.namelist() if first.read(n) != second.read(n)]
    assert differ == [], "same tree, different bytes (or the tree changed between the builds)"
    assert again.read_bytes() == built["zip"].read_bytes()   # metadata too: timestamps, modes, order
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.zip", "staging"]


@pytest.mark.parametrize("arch", sorted(package.ARCHES))
def test_native_extensions_are_built_for_the_chosen_architecture(arch, built, runtime_python, tmp_path) -> None:
    out = built["zip"]                                # built for x86_64
    if arch != "x86_64":
        out = tmp_path / "lambda.zip"
        package.build(out=out, staging=tmp_path / "staging", arch=arch, python=runtime_python)
    with zipfile.ZipFile(out) as zf:
        shared = [n for n in zf.namelist() if n.endswith(".so")]
        machines = {n: int.from_bytes(zf.read(n)[18:20], "little") for n in shared}
    assert any("re2" in n for n in shared) and any("yaml" in n for n in shared)
    assert set(machines.values()) == {ELF_MACHINE[arch]}, machines
    assert all("cpython-312" in n or ".abi3." in n or "cpython" not in n for n in shared)


def test_alarmed_metrics_are_those_the_packaged_handler_emits(runtime_python, unzipped) -> None:
    """With no loadable policy the handler reports both load metrics and an on_error decision."""
    result = run_child(runtime_python, unzipped, "decide",
                       {"e": load_event(EVENTS / "virus-fail.json")}, POLICY_FILE="policies/missing.yaml")
    assert tagged(result.stdout, "ANSWERS") == {"e": {"disposition": "CONTINUE"}}
    emitted = set()
    for blob in json_lines(result.stdout):
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            for dims in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    emitted.add((directive["Namespace"], metric["Name"],
                                 tuple((d, blob[d]) for d in dims)))
    stack = Stack()
    alarmed = set()
    for name, res in stack.resources.items():
        if res["Type"] == "AWS::CloudWatch::Alarm":
            for query in stack.props(name)["Metrics"]:
                metric = query.get("MetricStat", {}).get("Metric")
                if metric and metric["Namespace"] != "AWS/Lambda":
                    alarmed.add((metric["Namespace"], metric["MetricName"],
                                 tuple((d["Name"], d["Value"]) for d in metric["Dimensions"])))
    assert alarmed and alarmed <= emitted, f"alarmed {alarmed - emitted} never emitted: {emitted}"


# --- actions: the built package end to end against moto's standalone server -------------------

ACTIONS_CHILD = r'''
import json, sys
root, runtime, mode = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path[:0] = [root, runtime]          # the zip, then what the Lambda runtime provides (boto3)
import handler

class Context:
    function_name = "ses-rules"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ses-rules"
    aws_request_id = "req-1"
    def get_remaining_time_in_millis(self):
        return 60000

entry = handler.lambda_handler if mode == "decide" else handler.action_handler
print("ANSWER " + json.dumps(entry(json.load(sys.stdin), Context())))
'''
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


@pytest.fixture(scope="module")
def lambda_runtime_libraries(tmp_path_factory) -> Path:
    """What the python3.12 Lambda runtime has beside the zip: boto3 and its pure-Python dependencies."""
    import importlib.util
    folder = tmp_path_factory.mktemp("runtime")
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        source = Path(spec.submodule_search_locations[0]) if spec.submodule_search_locations else Path(spec.origin)
        (folder / source.name).symlink_to(source)
    return folder


@pytest.fixture
def moto_server(monkeypatch):
    """moto's standalone server on 127.0.0.1, reset, with the resources of a deployment with actions."""
    import boto3
    from moto.server import ThreadedMotoServer
    from actions_harness import create_world

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset", method="POST"), timeout=10)
    try:
        world = create_world()
        queue = boto3.client("sqs").create_queue(QueueName="ses-rules-actions")["QueueUrl"]
        yield endpoint, world, queue
    finally:
        server.stop()


def run_entry(python: Path, root: Path, runtime: Path, mode: str, payload: object, env: dict) -> object:
    result = subprocess.run([str(python), "-I", "-S", "-B", "-c", ACTIONS_CHILD, str(root), str(runtime), mode],
                            input=json.dumps(payload), capture_output=True, text=True, cwd=root, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env})
    assert result.returncode == 0, result.stderr
    assert not [line for line in json_lines(result.stdout) if line.get("level") == "ERROR"], result.stdout
    return tagged(result.stdout, "ANSWER")


@pytest.mark.corpus
def test_built_package_forwards_a_corpus_message_once(runtime_python, unzipped, lambda_runtime_libraries,
                                                     moto_server) -> None:
    import boto3
    from actions_harness import PREFIX, settings
    from conftest import corpus_path

    endpoint, world, queue = moto_server
    raw = (corpus_path("eml") / "dkimpy--test2.eml").read_bytes()
    event = event_from_eml(raw, {"recipient": ["support@corp.example"]})
    message_id = event["Records"][0]["ses"]["mail"]["messageId"]
    boto3.client("s3").put_object(Bucket=settings()["MAIL_BUCKET"], Key=PREFIX + message_id, Body=raw)
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
           "POLICY_FILE": str(ROOT / "examples" / "policies" / "forwarder.yaml"), "ACTIONS_QUEUE_URL": queue,
           **settings()}

    assert run_entry(runtime_python, unzipped, lambda_runtime_libraries, "decide", event, env) == {
        "disposition": "CONTINUE"}
    messages = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert len(messages) == 1
    sqs_event = {"Records": [{"messageId": messages[0]["MessageId"], "receiptHandle": messages[0]["ReceiptHandle"],
                              "body": messages[0]["Body"], "attributes": {"ApproximateReceiveCount": "1"},
                              "messageAttributes": {}, "md5OfBody": messages[0]["MD5OfBody"],
                              "eventSource": "aws:sqs", "awsRegion": "eu-west-1",
                              "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:ses-rules-actions"}]}
    for attempt in range(2):   # the same message again (a retry, a redrive): nothing new is sent
        assert run_entry(runtime_python, unzipped, lambda_runtime_libraries, "act", sqs_event, env) == {
            "batchItemFailures": []}
        (sent,) = world.sent()
    assert sent.destinations[:2] == ["alice@team.example", "bob@team.example"]
    assert "DKIM-Signature" not in sent.raw_data
    assert '"Christian Fromme via relay.example" <forwarder@relay.example>' in sent.raw_data
    body = raw[raw.index(b"\n\n") + 2:]
    assert sent.raw_data.encode().split(b"\n\n", 1)[1] == body
