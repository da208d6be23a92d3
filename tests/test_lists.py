"""Named lists: inline, file and environment sources (SPEC 3.6)."""
from __future__ import annotations

import pytest

from engine import PolicyError, load_policy_text
from engine.lang.lists import MAX_LIST_ENTRIES


def lists_of(text: str, **kwargs) -> dict:
    return load_policy_text("version: 1\nlists:\n" + text + "rules: []\n", **kwargs).lists


def test_file_list_strips_and_skips_comments(tmp_path):
    (tmp_path / "blocked.txt").write_text("\ufeff# blocked senders\n  spam@bad.example  \n\n#x@y\nnews@bad.example\n")
    assert lists_of("  b: {file: blocked.txt}\n", base_dir=tmp_path) == {"b": ["spam@bad.example", "news@bad.example"]}


def test_file_list_is_relative_to_the_policy_file(tmp_path):
    from engine import load_policy
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "d.txt").write_text("acme.example\n")
    (tmp_path / "p.yaml").write_text("version: 1\nlists:\n  d: {file: lists/d.txt}\nrules: []\n")
    assert load_policy(tmp_path / "p.yaml").lists == {"d": ["acme.example"]}


def test_env_list_splits_strips_and_drops_empty_entries():
    lists = lists_of("  s: {env: SUBJECTS, separator: ';'}\n", environ={"SUBJECTS": " alert ; down;"})
    assert lists == {"s": ["alert", "down"]}


def test_env_list_default_applies_when_unset_or_empty():
    assert lists_of("  s: {env: SUBJECTS, default: [x]}\n", environ={"SUBJECTS": ""}) == {"s": ["x"]}
    assert lists_of("  s: {env: SUBJECTS, default: [x]}\n", environ={}) == {"s": ["x"]}


def test_default_separator_is_a_comma():
    assert lists_of("  s: {env: S}\n", environ={"S": "a,b"}) == {"s": ["a", "b"]}


def test_list_file_entry_bound(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.lang.lists.MAX_LIST_ENTRIES", 3)
    (tmp_path / "big.txt").write_text("a\nb\nc\nd\n")
    with pytest.raises(PolicyError) as info:
        lists_of("  b: {file: big.txt}\n", base_dir=tmp_path)
    assert info.value.errors[0].code == "list-too-large"
    assert MAX_LIST_ENTRIES >= 1_000_000


def test_list_file_byte_bound(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.lang.lists.MAX_LIST_BYTES", 10)
    (tmp_path / "big.txt").write_text("a" * 11)
    with pytest.raises(PolicyError) as info:
        lists_of("  b: {file: big.txt}\n", base_dir=tmp_path)
    assert info.value.errors[0].code == "list-too-large"


def test_list_file_must_be_utf8(tmp_path):
    (tmp_path / "l.txt").write_bytes(b"ok\n\xff\n")
    with pytest.raises(PolicyError) as info:
        lists_of("  b: {file: l.txt}\n", base_dir=tmp_path)
    assert "line 2 is not UTF-8" in info.value.errors[0].message


def test_unknown_keys_in_a_list_source():
    with pytest.raises(PolicyError) as info:
        lists_of("  s: {env: S, seperator: ';'}\n", environ={"S": "a"})
    assert info.value.errors[0].hint == "did you mean separator?"


@pytest.mark.slow
def test_a_large_list_is_a_set_lookup(tmp_path):
    (tmp_path / "many.txt").write_text("".join(f"user{i}@bulk.example\n" for i in range(200_000)))
    policy = load_policy_text("version: 1\nlists:\n  many: {file: many.txt}\nrules:\n"
                              "  - {name: r, disposition: STOP_RULE, when: {sender: {in: {list: many}}}}\n",
                              base_dir=tmp_path)
    event = {"Records": [{"eventSource": "aws:ses", "ses": {"mail": {"source": "USER199999@bulk.example"},
                                                            "receipt": {}}}]}
    assert policy.evaluate(event).rule == "r"
