"""examples/sam/replay.yaml: cfn-lint (which validates the state machine definition too) and its wiring.

moto runs neither Distributed Map nor Lambda tasks here, so the worker itself is tested against
moto S3 in tests/test_archive_s3.py; this file checks what connects the two.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cfnlint.decode import decode_str

import handler
from engine.aws.replay import REQUIRED

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "examples" / "sam" / "replay.yaml"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def cfn_lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CFN_LINT), "--regions", "us-east-1", "eu-west-1", "--", str(path)],
                          capture_output=True, text=True, timeout=240)


def resources() -> dict:
    template, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not matches
    return template["Resources"]


def test_cfn_lint_passes():
    result = cfn_lint(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_validates_the_state_machine_definition(tmp_path):
    broken = tmp_path / "replay.yaml"
    broken.write_text(TEMPLATE.read_text().replace("ItemBatcher:", "ItemBatchr:"))
    result = cfn_lint(broken)
    assert result.returncode != 0 and "ItemBatchr" in result.stdout


def test_the_map_reads_the_archive_and_batches_keys_for_the_worker():
    definition = resources()["ReplayStateMachine"]["Properties"]["Definition"]
    replay = definition["States"][definition["StartAt"]]
    assert replay["Type"] == "Map"
    assert replay["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert replay["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    batch_input = replay["ItemBatcher"]["BatchInput"]
    assert {key.removesuffix(".$") for key in batch_input} == {*REQUIRED, "OldRevision", "NewRevision"}
    assert replay["ToleratedFailurePercentage"] == 0          # a bad bundle fails the run, loudly
    assert "ResultWriter" in replay                            # the map's own output stays small
    task = replay["ItemProcessor"]["States"]["Decide"]
    assert task["Parameters"]["FunctionName"] == "${ReplayFunctionArn}"


def test_the_worker_is_the_packaged_replay_handler_with_scoped_access():
    fn = resources()["ReplayFunction"]["Properties"]
    module, name = fn["Handler"].split(".")
    assert module == "handler" and callable(getattr(handler, name)) and name == "replay_handler"
    assert fn["CodeUri"] == "../../dist/ses-rules-lambda.zip"
    assert fn["Timeout"] < 300
    statements = fn["Policies"][0]["Statement"]
    assert sorted((s["Sid"], s["Action"]) for s in statements) == [
        ("ReadArchivedMessages", "s3:GetObject"), ("ReadBundles", "s3:GetObject"), ("WriteResults", "s3:PutObject")]
