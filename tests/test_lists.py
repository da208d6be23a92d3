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


# -- what a policy may read (SPEC 3.6) ----------------------------------------------------------

def _error(text: str, **kwargs):
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, **kwargs)
    return info.value.errors


LIST_RULE = "rules:\n  - {name: r, disposition: STOP_RULE, when: {from: {in: {list: b}}}}\n"


@pytest.mark.parametrize("name", ["/etc/hostname", "../outside.txt", "lists/../../outside.txt", "link-out.txt",
                                  "/proc/self/environ"])
def test_a_list_file_outside_the_policys_folder_is_refused_unread(tmp_path, name):
    folder = tmp_path / "policies"
    (folder / "lists").mkdir(parents=True)
    (tmp_path / "outside.txt").write_text("SECRET-ENTRY\n")
    (folder / "link-out.txt").symlink_to(tmp_path / "outside.txt")
    (error,) = _error(f"version: 1\nlists:\n  b: {{file: {name}}}\n" + LIST_RULE, base_dir=folder)
    assert (error.code, error.line, error.col) == ("list-file", 3, 13)
    assert "outside the policy's folder" in error.message and "SECRET-ENTRY" not in str(error)


def test_a_symlink_that_stays_inside_the_folder_is_followed(tmp_path):
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "real.txt").write_text("a@spam.example\n")
    (tmp_path / "alias.txt").symlink_to("lists/real.txt")
    assert lists_of("  b: {file: alias.txt}\n", base_dir=tmp_path) == {"b": ["a@spam.example"]}


def test_text_policies_resolve_list_files_inside_base_dir(tmp_path, monkeypatch):
    (tmp_path / "l.txt").write_text("x\n")
    monkeypatch.chdir(tmp_path)
    assert lists_of("  b: {file: l.txt}\n") == {"b": ["x"]}                    # base_dir "." by default
    assert "outside" in _error("version: 1\nlists:\n  b: {file: ../l.txt}\nrules: []\n",
                               base_dir=tmp_path / "sub")[0].message


@pytest.mark.parametrize(("make", "kind"), [(lambda p: p.mkdir(), "a directory"),
                                            (lambda p: __import__("os").mkfifo(p), "a FIFO")])
@pytest.mark.timeout(30)          # a FIFO opened for reading waits for a writer: that would be a hang
def test_a_list_file_must_be_a_regular_file(tmp_path, make, kind):
    make(tmp_path / "b.txt")
    (error,) = _error("version: 1\nlists:\n  b: {file: b.txt}\n" + LIST_RULE, base_dir=tmp_path)
    assert error.code == "list-file" and f"is {kind}" in error.message


@pytest.mark.parametrize("name", ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME",
                                  "LAMBDA_TASK_ROOT", "_HANDLER", "_X_AMZN_TRACE_ID", "TZ"])
def test_an_env_list_cannot_read_a_reserved_variable(name):
    (error,) = _error(f"version: 1\nlists:\n  b: {{env: {name}}}\n" + LIST_RULE, environ={name: "x@y.example"})
    assert (error.code, error.line, error.col) == ("reserved-variable", 3, 12)
    assert name in error.message and "x@y.example" not in str(error)


def test_an_env_list_may_read_the_region():
    assert lists_of("  r: {env: AWS_REGION}\n", environ={"AWS_REGION": "eu-west-1"}) == {"r": ["eu-west-1"]}


def test_an_empty_separator_is_a_diagnostic_not_a_crash():
    """`separator: ""` raised ValueError out of the loader ("internal error" in the CLI)."""
    for text in ('  s: {env: S, separator: ""}\n', "  s: {env: S, separator: ''}\n"):
        (error,) = _error("version: 1\nlists:\n" + text + "rules: []\n", environ={"S": "a,b"})
        assert (error.code, error.line) == ("bad-separator", 3) and "separator cannot be empty" in error.message


@pytest.mark.parametrize(("source", "origin"), [
    ("{env: MAIL_SOURCE}", "environment variable MAIL_SOURCE"),
    ("{file: senders.txt}", "list file senders.txt"),
    ("[spam@bad.example, bad.example]", "list b"),
])
def test_a_bad_list_entry_names_its_source_and_only_that_entry(tmp_path, source, origin):
    """MAIL_SOURCE="spam@bad.example,bad.example" was reported at the rule without naming MAIL_SOURCE."""
    (tmp_path / "senders.txt").write_text("spam@bad.example\nbad.example\n")
    (error,) = _error(f"version: 1\nlists:\n  b: {source}\n" + LIST_RULE, base_dir=tmp_path,
                      environ={"MAIL_SOURCE": "spam@bad.example,bad.example"})
    assert error.code == "bad-literal"
    assert error.message == f"'bad.example' (entry 2 of {origin}) is not one e-mail address"
    assert "spam@bad.example" not in str(error)


def test_a_list_used_by_many_tests_is_built_once_per_operator_and_field(tmp_path, monkeypatch):
    """5,000 references to a 100,000-entry list built 5,000 sets: refs x entries, quadratic."""
    from engine.mail import operators
    calls = []
    real = operators.OPERATORS["in"]
    monkeypatch.setitem(operators.OPERATORS, "in", real.__class__(
        real.name, real.arg, real.scope, real.doc, lambda *a: calls.append(1) or real.build(*a)))
    (tmp_path / "big.txt").write_text("".join(f"u{i}@spam.example\n" for i in range(100_000)))
    tests = "".join(f"        - {{{field}: {{in: {{list: b}}}}}}\n" for field in ("from", "sender") for _ in range(500))
    policy = load_policy_text("version: 1\nlists:\n  b: {file: big.txt}\nrules:\n  - name: r\n"
                              "    disposition: STOP_RULE\n    when:\n      any:\n" + tests, base_dir=tmp_path)
    assert len(calls) == 2                        # one build for `from`, one for `sender`
    event = {"Records": [{"eventSource": "aws:ses", "ses": {"mail": {"source": "U99999@spam.example"},
                                                            "receipt": {}}}]}
    assert policy.evaluate(event).rule == "r"
