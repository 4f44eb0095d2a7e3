"""The one configuration loader: aliases, deep nesting, duplicates and huge files refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from standards.safe_yaml import FileTooLarge, load_yaml, problem_and_line, read_yaml_file


def test_plain_documents_load_as_with_safe_load() -> None:
    text = "a: 1\nb: [x, {c: null}]\nd: 2024-01-02\n"
    assert load_yaml(text) == yaml.safe_load(text)


def test_an_alias_is_refused_with_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("a: &x [1, 2]\nb: *x\n", encoding="utf-8")
    with pytest.raises(yaml.MarkedYAMLError) as info:
        read_yaml_file(path)
    assert str(path) in str(info.value)
    problem, line = problem_and_line(info.value)
    assert line == 2 and problem.startswith("alias *x refused")


def test_a_merge_key_through_an_alias_is_refused() -> None:
    with pytest.raises(yaml.MarkedYAMLError, match="alias"):
        load_yaml("base: &b {x: 1}\nnode:\n  <<: *b\n")


def test_an_inline_merge_key_is_refused_by_name() -> None:
    with pytest.raises(yaml.MarkedYAMLError) as info:
        load_yaml("node:\n  <<: {x: 1}\n  x: 2\n")
    problem, line = problem_and_line(info.value)
    assert problem.startswith("merge key << refused") and line == 2


def test_keys_that_load_as_one_are_named_as_such() -> None:
    """1 and true are one Python dict key: last-wins would drop a value unseen."""
    with pytest.raises(yaml.MarkedYAMLError) as info:
        load_yaml("{1: a, true: b}")
    assert problem_and_line(info.value)[0] == (
        "keys 1 and True are the same key once loaded (lines 1 and 1)"
    )


def test_deep_nesting_is_an_error_not_a_recursion_error() -> None:
    with pytest.raises(yaml.MarkedYAMLError, match="nested more than 64"):
        load_yaml("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert load_yaml("a: " + "[" * 60 + "]" * 60 + "\n") is not None


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(yaml.MarkedYAMLError) as info:
        load_yaml("a: 1\nb: {c: 1, c: 2}\n")
    assert problem_and_line(info.value) == ("key 'c' is given twice (lines 2 and 2)", 2)


def test_a_file_larger_than_any_configuration_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 2000 + "\n", encoding="utf-8")
    with pytest.raises(FileTooLarge, match="larger than"):
        read_yaml_file(path, max_bytes=1000)
    assert read_yaml_file(path, max_bytes=4000) == {"a": "x" * 2000}
