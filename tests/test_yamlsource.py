"""The composer's bounds: what is refused is counted, not timed."""
from __future__ import annotations

import pytest

from engine import PolicyError
from engine.lang.yamlsource import MAX_DEPTH, MAX_NODES, MAX_POLICY_BYTES, Mapping, Scalar, Sequence, compose


def refused(text: str) -> list:
    with pytest.raises(PolicyError) as info:
        compose(text, "p.yaml")
    return info.value.errors


def test_positions_are_one_based_and_source_text_is_kept():
    tree = compose("a: off\nb: 'x'\nc: [1:30, 0x10]\n", "p.yaml")
    assert isinstance(tree, Mapping)
    a = tree.get("a")
    assert isinstance(a, Scalar) and (a.text, a.plain, a.line, a.col) == ("off", True, 1, 4)
    assert tree.get("b").plain is False
    c = tree.get("c")
    assert isinstance(c, Sequence) and [i.text for i in c.items] == ["1:30", "0x10"]


def test_explicit_str_tag_makes_a_scalar_a_string():
    assert compose("a: !!str 5\n", "p.yaml").get("a").plain is False


def test_alias_bomb_is_refused_before_expansion():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (error,) = refused("\n".join(lines) + "\n")
    assert error.code == "too-large" and "after alias expansion" in error.message


def test_aliases_within_the_bound_are_expanded():
    tree = compose("a: &x {spf: PASS}\nb: *x\n", "p.yaml")
    assert tree.get("b").get("spf").text == "PASS"


def test_depth_is_bounded():
    (error,) = refused("a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n")
    assert error.code == "too-deep" and error.line == 1


def test_depth_just_below_the_bound_loads():
    depth = MAX_DEPTH - 1
    assert compose("a: " + "[" * depth + "]" * depth + "\n", "p.yaml") is not None


def test_size_is_bounded_in_bytes():
    (error,) = refused("a: '" + "x" * MAX_POLICY_BYTES + "'\n")
    assert error.code == "too-large" and str(MAX_POLICY_BYTES) in error.message


@pytest.mark.slow
def test_node_count_is_bounded_without_aliases():
    (error,) = refused("a: [" + ", ".join(["1"] * (MAX_NODES + 1)) + "]\n")
    assert error.code == "too-large"


def test_recursive_alias_is_a_clear_error():
    (error,) = refused("a: &a [*a]\n")
    assert (error.code, error.line, error.col) == ("recursive-alias", 1, 8)   # at the alias to remove


def test_complex_keys_are_refused():
    errors = refused("? [a]\n: b\n")
    assert errors[0].code == "bad-key"


def test_several_documents_are_refused():
    assert refused("a: 1\n---\nb: 2\n")[0].code == "yaml-syntax"


def test_empty_text_is_none():
    assert compose("# nothing\n", "p.yaml") is None
