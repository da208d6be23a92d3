"""engine.mail.jsonpath: every getter returns exactly what jsonpath_ng.ext find() returns."""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import jsonpath_ng.jsonpath as jp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonpath_ng.ext import parse

from engine.mail.jsonpath import MAX_DIRECT_SEGMENTS, MISSING, PathError, compile_path
from tests.conftest import corpus_files, need


def reference(path: str, obj: Any) -> list[Any]:
    """The contract: a fresh ext parse, find(), values in order."""
    return [match.value for match in parse(path).find(obj)]


def same(left: list[Any], right: list[Any]) -> bool:
    """Equal values of the same JSON types (so True is not 1, 1.0 not 1), in the same order."""
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


# --- table: many paths on many inputs ------------------------------------------------------

ODD_KEYS = {"true": 1, "null": 2, "*": 3, "X-Spam-Flag": "YES", "0": "zero", "a.b": "dotted",
            "x y": [1], "it's": "q", 'say "hi"': "dq", "where": "w", "": "empty"}

INPUTS: list[Any] = [
    None, True, False, 0, 1.5, "", "string", "a", [], {}, [1, 2, 3], ["x"], [[1, 2], [3]],
    {"a": 1}, {"a": None}, {"a": False}, {"a": {"b": 2}}, {"a": {"b": None}},
    {"a": [{"b": 1}, {"b": 2}, 3, "x", None, [4], {"c": 5}]}, {"a": "string"}, {"a": []},
    {"a": {}}, {"a": [[1, 2], [3]]}, {"a": {"b": [10, 20, 30, 40]}}, {"a.b": 1, "a": {"b": 2}},
    [{"a": 1}, {"a": 2}, {"b": 3}], [{"a": [1, 2]}, {"a": "s"}], {"b": {"a": 1}}, ODD_KEYS,
    {"a": ODD_KEYS, "b": [ODD_KEYS, 7]}, {"a": [1, "b", None, True, 2.5]},
    {"a": {"a": {"a": {"b": 1}}}, "b": 2},
    {"mail": {"headers": [{"name": "X-Spam-Flag", "value": "YES"},
                          {"name": "x-spam-flag", "value": "no"}, {"name": "X-Spam-Flag"}]}},
]

DIRECT_PATHS = [
    "$", "$.a", "$.a.b", "$.a.b.c", "$['a']", "$[\"a\"]", "$['a.b']", "$.'a.b'", "$['x y']",
    "$['it\\'s']", "$['say \"hi\"']", "$['where']", "$['']", "$['*']", "$.true", "$.null",
    "$.X-Spam-Flag", "$.0", "$.a.0", "$['a','b']", "$['b','a','b']", "$.a,b", "$[0]", "$[-1]",
    "$[2]", "$[-3]", "$[5]", "$[-5]", "$[0,1]", "$[0,0,-1,9]", "$[*]", "$.*", "$.a[*]",
    "$.a.*", "$.a[*].b", "$.a[*][*]", "$.*.*", "$[*].a", "$[*].a[0]", "$.a[0].b", "$.a[-1][0]",
    "$.a.b[1:3]", "$.a.b[1:]", "$.a.b[:-1]", "$.a.b[::2]", "$.a.b[::-1]", "$.a.b[-2:]",
    "$.a.b[3:1:-1]", "$.a.b[::0]", "$.a.b[:]", "$[:]", "$[1:2]", "$.a[1:4].b", "$.a.b[0,2]",
    "$.mail.headers[*].value", "$.a.a.a.b", "$.b.a", "$.a['b','c']",
]

FIND_PATHS = [
    "$.mail.headers[?(@.name == 'X-Spam-Flag')].value", "$.a[?(@.b)]", "$.a[?(@.b > 1)]",
    "$.a[?(@ == 3)]", "$.a[?(!@.b)]", "$.a[?(@.b == 1 || @.c == 5)]", "$..b", "$..a", "$..*",
    "$.a.`len`", "$.`len`", "$.a.`keys`", "$.a.`sorted`", "$.a.b.`sorted`", "$.a[\\b]",
    "$.a.`this`", "$.a.`parent`", "$.`parent`", "$.a.`str()`", "$.a.`split(t, 0, -1)`",
    "$.a * 2", "$.a + $.b", "$.a where b", "$.a wherenot b", "$.a | $.b", "$.a[*] | $.b",
    "$[?(@.a)]",
]


@pytest.mark.parametrize("path", DIRECT_PATHS + FIND_PATHS)
def test_getter_equals_find_on_every_input(path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        getter = compile_path(path)
        for obj in INPUTS:
            try:
                expected = reference(path, obj)
            except Exception:       # find() itself fails: the getter answers "no values"
                expected = []
            assert same(getter(obj), expected), (path, obj)


@pytest.mark.parametrize("path", DIRECT_PATHS)
def test_plain_paths_take_the_direct_route(path: str) -> None:
    assert compile_path(path).direct is True


@pytest.mark.parametrize("path", FIND_PATHS)
def test_other_paths_keep_find(path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert compile_path(path).direct is False


def test_direct_getter_returns_the_event_objects_themselves() -> None:
    inner = {"b": [1]}
    [value] = compile_path("$.a")({"a": inner})
    assert value is inner


def test_member_with_null_value_is_a_value_but_missing_member_is_not() -> None:
    getter = compile_path("$.receipt.dmarcPolicy")
    assert getter({"receipt": {"dmarcPolicy": None}}) == [None]
    assert getter({"receipt": {}}) == []
    assert getter({"receipt": None}) == []


def test_field_names_are_data_not_code() -> None:
    key = "'); import os; os._exit(1) #"
    path = "$['" + key.replace("'", "\\'") + "']"
    getter = compile_path(path)
    assert getter.direct
    assert getter({key: "v"}) == ["v"] == reference(path, {key: "v"})


def test_very_deep_plain_path_falls_back_and_stays_exact() -> None:
    depth = MAX_DIRECT_SEGMENTS + 1
    path = "$" + ".a" * depth
    obj: Any = "leaf"
    for _ in range(depth):
        obj = {"a": obj}
    getter = compile_path(path)
    assert getter.direct is False
    assert getter(obj) == ["leaf"] == reference(path, obj)


def test_deepest_direct_path_compiles_with_every_segment_kind() -> None:
    kinds = ["[*]", "['a','b']", "[0,1]", "[::1]", ".a"]
    path = "$" + "".join(kinds[i % len(kinds)] for i in range(MAX_DIRECT_SEGMENTS))
    getter = compile_path(path)
    assert getter.direct
    assert getter({"a": [1]}) == reference(path, {"a": [1]}) == []


def test_auto_id_field_disables_the_direct_route(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jp, "auto_id_field", "id")
    path = "$.auto_id_test.id"          # a path no other test compiles: the cache holds getters
    getter = compile_path(path)
    assert getter.direct is False
    obj = {"auto_id_test": {"x": 1}}
    assert getter(obj) == reference(path, obj) == ["auto_id_test"]


# --- find() fallback never raises ------------------------------------------------------

@pytest.mark.parametrize("path, obj", [
    ("$.a.`sorted`", {"a": [1, "x"]}),          # TypeError comparing str and int
    ("$.a.`sorted`", {"a": "text"}),            # SortedThis returns a bare datum
    ("$.a[\\b]", {"a": [{"b": 1}, {"b": "x"}]}),
    ("$.`parent`", {"a": 1}),                   # AssertionError: the root has no parent
])
def test_find_exceptions_mean_no_values(path: str, obj: Any) -> None:
    with pytest.raises(Exception):
        reference(path, obj)
    assert compile_path(path)(obj) == []


# --- property: generated plain paths on arbitrary JSON ------------------------------------

NAMES = ["a", "b", "c", "a.b", "x y", "it's", 'q"t', "0", "-1", "true", "null", "where",
         "*", "X-Spam-Flag", "", "é"]
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def quote(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render_name(name: str, dotted: bool) -> str:
    if dotted and IDENT.fullmatch(name) and name not in ("where", "wherenot"):
        return "." + name
    return "[" + quote(name) + "]"


maybe_int = st.one_of(st.none(), st.integers(-4, 4))
segments = st.one_of(
    st.builds(render_name, st.sampled_from(NAMES), st.booleans()),
    st.lists(st.sampled_from(NAMES), min_size=2, max_size=3).map(
        lambda names: "[" + ",".join(map(quote, names)) + "]"),
    st.integers(-4, 4).map(lambda i: f"[{i}]"),
    st.lists(st.integers(-4, 4), min_size=2, max_size=3).map(
        lambda ix: "[" + ",".join(map(str, ix)) + "]"),
    st.sampled_from(["[*]", ".*"]),
    st.tuples(maybe_int, maybe_int).map(
        lambda t: f"[{'' if t[0] is None else t[0]}:{'' if t[1] is None else t[1]}]"),
    st.tuples(maybe_int, maybe_int, st.integers(-3, 3)).map(
        lambda t: f"[{'' if t[0] is None else t[0]}:{'' if t[1] is None else t[1]}:{t[2]}]"),
)
plain_paths = st.lists(segments, max_size=6).map(lambda parts: "$" + "".join(parts))

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5),
                    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(NAMES))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.sampled_from(NAMES), inner, max_size=6)),
    max_leaves=40,
)


@pytest.mark.fuzz
@given(plain_paths, json_values)
def test_generated_plain_paths_equal_find(path: str, obj: Any) -> None:
    getter = compile_path(path)
    assert getter.direct, path
    assert same(getter(obj), reference(path, obj)), (path, obj)


# --- the spec's paths on the real corpus ---------------------------------------------------

SPEC_PATHS = [
    "$.mail.source", "$.receipt.spfVerdict.status",
    "$.mail.headers[?(@.name == 'X-Spam-Flag')].value", "$.mail.commonHeaders.to[*]",
    "$.mail.commonHeaders.to[0]", "$.mail.commonHeaders.from[*]", "$.receipt.recipients[*]",
    "$.mail.destination[-1]", "$.receipt.dmarcPolicy", "$.receipt.action.type",
    "$.mail.headers[*].name", "$.mail.headers[?(@.name == 'From')].value", "$..status",
]


def ses_objects(path: Path) -> list[dict]:
    """Each record's `ses` object; for an SNS notification, its inner mail/receipt."""
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    if "Records" in data:
        return [record["ses"] for record in data["Records"]]
    inner = json.loads(data["Message"])
    assert inner["notificationType"] == "Received"
    return [{"mail": inner["mail"], "receipt": inner["receipt"]}]


@pytest.mark.corpus
@pytest.mark.parametrize("event_file", corpus_files("ses-events", "*.json"))
def test_spec_paths_on_corpus_events(event_file: Path) -> None:
    for ses in ses_objects(need(event_file)):
        for path in SPEC_PATHS:
            assert same(compile_path(path)(ses), reference(path, ses)), path
        [source] = compile_path("$.mail.source")(ses)
        assert "@" in source
        [status] = compile_path("$.receipt.spfVerdict.status")(ses)
        assert status in {"PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED"}


@pytest.mark.corpus
def test_corpus_covers_what_the_paths_look_at(ses_events_dir: Path) -> None:
    """The corpus really exercises both shapes: several recipients, and a header filter hit."""
    objects = [ses for f in sorted(ses_events_dir.glob("*.json")) for ses in ses_objects(f)]
    assert len(objects) >= 12
    to = compile_path("$.mail.commonHeaders.to[*]")
    assert any(len(to(ses)) > 0 for ses in objects)
    from_headers = compile_path("$.mail.headers[?(@.name == 'From')].value")
    assert any(from_headers(ses) for ses in objects)


# --- errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("path, words, offset", [
    ("", ["empty", "$"], None),
    ("   ", ["empty"], None),
    ("mail.source", ["must start with `$`"], 0),
    ("@.mail", ["must start with `$`"], 0),
    ("$.a b", ["unexpected `b`", "column 5"], 4),
    ("$.\n a b", ["unexpected `b`"], 6),
    ("$.a ^", ["unexpected character", "column 5"], 4),
    ("$[", ["ends too early"], 2),
    ("$.'abc", ["ends too early"], 6),
    ("$.a.`nope`", ["Unknown named operator"], None),
    ("$.a.`split(x)`", ["not valid"], None),
])
def test_bad_paths_are_path_errors(path: str, words: list[str], offset: int | None) -> None:
    with pytest.raises(PathError) as err:
        compile_path(path)
    assert isinstance(err.value, ValueError)
    assert all(word in str(err.value) for word in words), str(err.value)
    assert err.value.offset == offset


def test_non_string_path_is_a_path_error() -> None:
    with pytest.raises(PathError, match="must be a string"):
        compile_path(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("path, suggestion", [
    ("$.Records[0].ses.mail.source", "'$.mail.source'"),
    ("$['Records'][*]['ses'].receipt.spfVerdict", "'$.receipt.spfVerdict'"),
    ("$.Records", None),
    ("$.Records[0].eventSource", None),
])
def test_records_prefix_is_refused_with_a_fix(path: str, suggestion: str | None) -> None:
    with pytest.raises(PathError, match=r"drop the `Records\[n\]\.ses` prefix") as err:
        compile_path(path)
    if suggestion:
        assert f"(write {suggestion})" in str(err.value)
    else:
        assert "(write" not in str(err.value)


def test_records_deeper_in_the_path_is_fine() -> None:
    assert compile_path("$.mail.Records")({"mail": {"Records": 1}}) == [1]


@pytest.mark.parametrize("path", [
    "$.mail.headers[?(@.value =~ '(a+)+$')].name",
    "$.mail.source.`sub(/(a+)+$/, x)`",
    "$.a[?(@.b == 1 || @.c =~ 'x')]",
])
def test_backtracking_regexes_inside_paths_are_refused(path: str) -> None:
    with pytest.raises(PathError, match="`matches` operator"):
        compile_path(path)


def test_parser_is_usable_after_an_error() -> None:
    with pytest.raises(PathError):
        compile_path("$.a[?(@.b ==")
    assert compile_path("$.after.error")({"after": {"error": 1}}) == [1]


def test_compiled_once_per_path_text() -> None:
    assert compile_path("$.mail.messageId") is compile_path("$.mail.messageId")


def test_deprecated_syntax_is_reported_not_emitted() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getter = compile_path("$.x | $.y")
    assert any("deprecated" in notice for notice in getter.warnings)
    assert compile_path("$.mail.subject").warnings == ()


@pytest.mark.fuzz
@given(plain_paths, json_values)
def test_one_valued_paths_answer_their_value_or_missing(path: str, obj: Any) -> None:
    """`one` (what the evaluation reads a verdict or the subject with) gives the getter's value without a list."""
    getter = compile_path(path)
    if getter.one is not None:
        found = getter(obj)
        assert len(found) <= 1
        assert same([getter.one(obj)], found) if found else getter.one(obj) is MISSING
