"""The watched policy file: a good edit replaces the policy, anything else keeps the last good one."""
from __future__ import annotations

import os

from engine import load_policy
from engine.tools.policywatch import PolicyFile

GOOD = "version: 1\nname: p\nrules:\n  - {name: a, when: {spam: FAIL}, disposition: STOP_RULE_SET}\n"


def watched(tmp_path) -> PolicyFile:
    path = tmp_path / "p.yaml"
    path.write_text(GOOD)
    return PolicyFile(path, load_policy(path))


def test_a_good_edit_is_loaded(tmp_path):
    watch = watched(tmp_path)
    first = watch.current()
    assert not watch.changed()
    watch.path.write_text(GOOD.replace("name: a", "name: b"))
    assert watch.changed()
    said = watch.reload()
    assert f"reloaded: p revision {watch.current().revision} (was {first.revision})" in said
    assert [r.name for r in watch.current().rules] == ["b"] and not watch.changed()


def test_a_bad_edit_keeps_the_last_good_policy_and_says_why_once(tmp_path):
    watch = watched(tmp_path)
    good = watch.current()
    watch.path.write_text(GOOD.replace("STOP_RULE_SET", "STOP"))
    said = watch.reload()
    assert f"still deciding with p revision {good.revision}" in said and "p.yaml:4:" in said
    assert watch.current() is good and not watch.changed()


def test_a_deleted_file_keeps_the_policy_and_its_return_is_seen(tmp_path):
    watch = watched(tmp_path)
    good = watch.current()
    os.remove(watch.path)
    assert watch.changed()
    assert "does not load" in watch.reload() and watch.current() is good
    watch.path.write_text(GOOD.replace("name: a", "name: c"))
    assert watch.changed() and "reloaded" in watch.reload()


def test_saving_the_same_text_says_so(tmp_path):
    watch = watched(tmp_path)
    os.utime(watch.path, ns=(1, 1))
    assert watch.changed() and "unchanged" in watch.reload()
