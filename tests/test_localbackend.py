"""`serve`'s local backend: safe store paths, Maildir writes, a real SMTP relay."""
from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from engine.actions.backend import ActionFailed
from engine.tools.localbackend import LocalBackend, deliver, store_path
from serve_harness import relay_target

MESSAGE = b"From: a@x.example\r\nSubject: s\r\n\r\nbody \xc3\xa9\r\n"


@pytest.mark.parametrize("key, inside", [
    ("quarantine/abc", ("quarantine", "abc")),
    ("a/../../etc/passwd", ("a", "_", "_", "etc", "passwd")),
    ("../abc", ("_", "abc")),
    ("/abs/olute", ("abs", "olute")),
    ("a//b/./c", ("a", "b", "c")),
    (".hidden/x", ("hidden", "x")),
    ("a\x00b\x1b/c", ("ab", "c")),
    ("a\\..\\b", ("a___b",)),
])
def test_store_keys_become_paths_inside_the_store(tmp_path, key, inside):
    root = tmp_path / "store"
    path = store_path(root, key)
    assert path == root.joinpath(*inside)
    assert path.resolve().is_relative_to(root.resolve())


def test_a_symlink_out_of_the_store_is_refused(tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(ActionFailed, match="inside"):
        store_path(root, "out/x")


def test_put_object_writes_the_body_under_the_store(tmp_path):
    backend = LocalBackend(tmp_path)
    backend.put_object("bucket", "../q/id1", MESSAGE, {"rule": "r"}, "arn:aws:kms:eu-west-1:1:key/k")
    [effect] = backend.drain()
    assert Path(effect["file"]) == tmp_path / "store" / "_" / "q" / "id1"
    assert Path(effect["file"]).read_bytes() == MESSAGE
    assert effect["bucket"] == "bucket" and effect["kms_key"].endswith("key/k") and backend.drain() == []


def test_deliver_writes_the_bytes_unchanged_into_a_maildir(tmp_path):
    path = deliver(tmp_path / "md", MESSAGE)
    assert path.parent == tmp_path / "md" / "new" and path.read_bytes() == MESSAGE
    assert [m.get("Subject") for m in mailbox.Maildir(tmp_path / "md")] == ["s"]


def test_forward_without_relay_goes_to_the_forwarded_maildir_folder(tmp_path):
    backend = LocalBackend(tmp_path)
    backend.send_raw("fwd@corp.example", ["a@team.example"], MESSAGE)
    [effect] = backend.drain()
    assert Path(effect["file"]).read_bytes() == MESSAGE
    assert mailbox.Maildir(tmp_path).list_folders() == ["Forwarded"]
    assert len(mailbox.Maildir(tmp_path).get_folder("Forwarded")) == 1


def test_forward_relays_by_smtp_with_the_extensions_the_message_needs(tmp_path):
    with relay_target() as (port, received):
        backend = LocalBackend(tmp_path, ("127.0.0.1", port))
        backend.send_raw("fwd@corp.example", ["a@team.example", "ü@tëam.example"], MESSAGE)
        [effect] = backend.drain()
    [message] = received
    assert message.content == MESSAGE
    assert message.mail_from == "fwd@corp.example" and message.rcpt_tos == ["a@team.example", "ü@tëam.example"]
    assert {"SMTPUTF8", "BODY=8BITMIME"} <= set(message.mail_options)
    assert effect == {"effect": "relayed", "to": f"127.0.0.1:{port}", "mail_from": "fwd@corp.example",
                      "rcpt_tos": ["a@team.example", "ü@tëam.example"], "bytes": len(MESSAGE)}


def test_an_unreachable_relay_fails_the_action(tmp_path):
    with relay_target() as (port, _):
        pass                                    # closed again: nothing listens there now
    backend = LocalBackend(tmp_path, ("127.0.0.1", port))
    with pytest.raises(OSError):
        backend.send_raw("fwd@corp.example", ["a@team.example"], MESSAGE)
