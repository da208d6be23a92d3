"""S3 archives against moto's standalone server: the CLI as a subprocess, the replay worker in-process.

The server listens on 127.0.0.1 (an ephemeral port); the CLI reaches it through
`AWS_ENDPOINT_URL`. These tests run in CI (moto[server] is in the dev extra); nothing skips.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from engine.aws.replay import BatchError, run_batch
from engine.replay import results
from engine.replay.bundle import BundleError, make_bundle
from tests.s3server import archive_objects, aws_env, moto_server, put_all, s3_client

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = str(ROOT / "policies" / "default.yaml")
ENCRYPTED_META = {"x-amz-key-v2": "AQIDAHh...", "x-amz-cek-alg": "AES/GCM/NoPadding",
                  "x-amz-wrap-alg": "kms", "x-amz-iv": "abc", "x-amz-matdesc": '{"kms_cmk_id":"alias/ses"}'}
SPECIAL = [("inbound/AMAZON_SES_SETUP_NOTIFICATION", b"Subject: Amazon SES Setup Notification\r\n\r\nx", {}),
           ("inbound/folder/", b"", {}),
           ("inbound/zz-image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {}),
           ("inbound/zz-data.json", b'{"Records": []}', {}),
           ("inbound/zz-notes.txt", b"just some notes\nwith no headers at all\n", {}),
           ("inbound/zz-encrypted", b"\x93\x11binary-ciphertext", ENCRYPTED_META)]
SKIPPED = {"inbound/AMAZON_SES_SETUP_NOTIFICATION", "inbound/folder/"}
TIMEOUT = 240
RUN = uuid.uuid4().hex[:8]           # moto's state is per process: buckets of this module's own
ARCHIVE, SMALL, WORK = f"archive-{RUN}", f"small-{RUN}", f"results-{RUN}"


@pytest.fixture(scope="module")
def endpoint():
    with moto_server() as url:
        yield url


def cli(*argv: str, endpoint: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "engine", *argv], cwd=ROOT, env=aws_env(endpoint),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out, err


def new_policy(tmp_path: Path) -> Path:
    text = Path(DEFAULT).read_text()
    text = text.replace("when: {spam: FAIL}\n    disposition: STOP_RULE_SET", "when: {spam: FAIL}\n    disposition: STOP_RULE")
    text = text.replace("name: drop-dmarc-reject", "name: drop-dmarc-failures")
    assert text != Path(DEFAULT).read_text()
    path = tmp_path / "default.yaml"
    path.write_text(text)
    return path


@pytest.mark.timeout(TIMEOUT + 60)
def test_dry_run_streams_2000_objects_in_key_order_while_one_is_deleted(endpoint):
    s3 = s3_client(endpoint)
    objects = archive_objects(2000 - len(SPECIAL)) + SPECIAL
    put_all(s3, ARCHIVE, objects)
    keys = sorted(key for key, _, _ in objects)
    expected = [f"s3://{ARCHIVE}/{k}" for k in keys if k not in SKIPPED]
    seen_at, doomed = keys[1000], keys[1500]
    proc = cli("dry-run", DEFAULT, f"s3://{ARCHIVE}/inbound/", endpoint=endpoint)
    lines, deleted_after = [], None
    for line in proc.stdout:                     # rows arrive while the run goes on
        lines.append(line.rstrip("\n"))
        if line.startswith(f"s3://{ARCHIVE}/{seen_at} "):
            s3.delete_object(Bucket=ARCHIVE, Key=doomed)
            deleted_after = len(lines)
    code, _, err = finish(proc)
    assert code == 1, err                          # unreadable objects: exit 1
    assert deleted_after is not None and proc.returncode is not None
    rows = {line.split()[0]: line for line in lines[2:] if line.startswith("s3://")}
    assert [line.split()[0] for line in lines if line.startswith("s3://")] == expected
    assert "no such object (deleted since it was listed?)" in rows[f"s3://{ARCHIVE}/{doomed}"]
    assert "client-side encryption" in rows[f"s3://{ARCHIVE}/inbound/zz-encrypted"]
    for name in ("zz-image.png", "zz-data.json", "zz-notes.txt"):
        assert "UNREADABLE" in rows[f"s3://{ARCHIVE}/inbound/{name}"]
    assert rows[f"s3://{ARCHIVE}/inbound/000007"].split()[1:3] == ["STOP_RULE_SET", "drop-spam"]   # SES said FAIL
    assert "verdicts assumed PASS" in rows[f"s3://{ARCHIVE}/inbound/000070"]                     # no SES block
    assert lines[-1].startswith(f"{len(expected)} inputs: ") and lines[-1].endswith("unreadable 5, skipped 2")
    assert err == ""                                # piped: no progress bar


def test_an_unlistable_archive_is_one_clear_row(endpoint):
    code, out, _ = finish(cli("dry-run", DEFAULT, "s3://no-such-bucket/x/", "s3:///nobucket", endpoint=endpoint))
    assert code == 1
    assert "s3://no-such-bucket/x/  UNREADABLE" in out and "no such bucket" in out
    assert "has no bucket" in out


@pytest.fixture(scope="module")
def small_archive(endpoint):
    s3 = s3_client(endpoint)
    objects = archive_objects(150) + SPECIAL
    put_all(s3, SMALL, objects)
    return s3, sorted(key for key, _, _ in objects)


def upload_bundles(s3, tmp_path: Path) -> dict[str, str]:
    s3.create_bucket(Bucket=WORK)
    found = {}
    for side, path in (("Old", DEFAULT), ("New", str(new_policy(tmp_path)))):
        bundle = make_bundle(path)
        s3.put_object(Bucket=WORK, Key=f"bundles/{side}.json", Body=json.dumps(bundle).encode())
        found[f"{side}Bundle"], found[f"{side}Revision"] = f"s3://{WORK}/bundles/{side}.json", bundle["revision"]
    return found


def worker_event(batch_input: dict, keys: list[str]) -> dict:
    return {"Items": [{"Key": k, "Size": 1, "Etag": '"x"'} for k in keys], "BatchInput": batch_input}


@pytest.mark.timeout(TIMEOUT)
def test_diff_results_of_the_worker_equal_the_local_diff(endpoint, small_archive, tmp_path):
    s3, keys = small_archive
    batch_input = {"Bucket": SMALL, "ResultsPrefix": f"s3://{WORK}/run-1/", **upload_bundles(s3, tmp_path)}
    batches = [keys[i:i + 25] for i in range(0, len(keys), 25)]
    random.Random(7).shuffle(batches)              # the map finishes batches in any order
    answers = [run_batch(worker_event(batch_input, batch), s3=s3) for batch in batches]
    assert sum(a["rows"] for a in answers) == len(keys)
    rerun = run_batch(worker_event(batch_input, batches[0]), s3=s3)   # a retried batch overwrites itself
    assert rerun["results"] == answers[0]["results"]
    listed = s3.list_objects_v2(Bucket=WORK, Prefix="run-1/")["KeyCount"]
    assert listed == len(batches)
    new = str(tmp_path / "default.yaml")
    for fmt in ("json", "text"):
        local = finish(cli("diff", "--format", fmt, "--limit", "0", DEFAULT, new, f"s3://{SMALL}/inbound/",
                           endpoint=endpoint))
        remote = finish(cli("diff", "--format", fmt, "--limit", "0", "--results", f"s3://{WORK}/run-1/",
                            DEFAULT, new, endpoint=endpoint))
        assert local == remote, (local[2], remote[2])
    code, out, _ = finish(cli("diff", "--format", "json", DEFAULT, new, f"s3://{SMALL}/inbound/", endpoint=endpoint))
    data = json.loads(out)
    assert code == 1 and data["skipped"] == 2 and data["unreadable"] == 4
    assert data["inputs"] == len(keys) - 2
    assert {(t["from"], t["to"]) for t in data["transitions"]} == {("STOP_RULE_SET", "STOP_RULE")}
    assert {c["old_rule"] for c in data["rule_changes"]} == {"drop-dmarc-reject"}


def test_results_from_two_runs_under_one_prefix_are_refused(endpoint, small_archive, tmp_path):
    s3, keys = small_archive
    batch_input = {"Bucket": SMALL, "ResultsPrefix": f"s3://{WORK}/mixed/", **upload_bundles(s3, tmp_path)}
    run_batch(worker_event(batch_input, keys[:10]), s3=s3)
    swapped = dict(batch_input, OldBundle=batch_input["NewBundle"], OldRevision=batch_input["NewRevision"])
    run_batch(worker_event(swapped, keys[10:20]), s3=s3)
    code, out, _ = finish(cli("diff", "--results", f"s3://{WORK}/mixed/", endpoint=endpoint))
    assert code == 1 and "one results prefix per run" in out


def test_worker_checks_bundle_revisions_and_its_input(endpoint, small_archive, tmp_path):
    s3, keys = small_archive
    batch_input = {"Bucket": SMALL, "ResultsPrefix": f"s3://{WORK}/checked/", **upload_bundles(s3, tmp_path)}
    with pytest.raises(BundleError, match="was expected"):
        run_batch(worker_event(dict(batch_input, NewRevision="000000000000"), keys[:3]), s3=s3)
    tampered = json.loads(s3.get_object(Bucket=WORK, Key="bundles/New.json")["Body"].read())
    tampered["policy"] = tampered["policy"].replace("STOP_RULE\n", "CONTINUE\n")
    s3.put_object(Bucket=WORK, Key="bundles/tampered.json", Body=json.dumps(tampered).encode())
    with pytest.raises(BundleError, match="it claims"):
        run_batch(worker_event(dict(batch_input, NewBundle=f"s3://{WORK}/bundles/tampered.json",
                                    NewRevision=None), keys[:3]), s3=s3)
    with pytest.raises(BundleError, match="no such object"):
        run_batch(worker_event(dict(batch_input, OldBundle=f"s3://{WORK}/bundles/none.json"), keys[:3]), s3=s3)
    with pytest.raises(BatchError, match="ResultsPrefix"):
        run_batch(worker_event({k: v for k, v in batch_input.items() if k != "ResultsPrefix"}, keys[:3]), s3=s3)
    with pytest.raises(BatchError, match="Distributed Map batch"):
        run_batch({"Records": []}, s3=s3)


def test_results_objects_decode_back_and_refuse_what_is_not_one():
    body = results.encode({"name": "a", "revision": "1"}, {"name": "b", "revision": "2"},
                          [{"input": "s3://b/k", "error": "x"}])
    head, rows = results.decode("obj", body)
    assert head["old"] == {"name": "a", "revision": "1"} and rows == [{"input": "s3://b/k", "error": "x"}]
    with pytest.raises(results.ResultsError, match="cut short"):
        results.decode("obj", body.rsplit(b"\n", 2)[0])
    with pytest.raises(results.ResultsError, match="not a replay results object"):
        results.decode("obj", b'{"input": "x"}\n')
    assert results.batch_key("p/", ["a", "b"]) == results.batch_key("p/", ["a", "b"]) != \
        results.batch_key("p/", ["a", "c"])
