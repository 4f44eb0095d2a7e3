"""AdapterConfig.load reads YAML files through the hub's one strict loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sdk import AdapterConfig, ConfigError


class _Config(AdapterConfig):
    path: str
    settle_seconds: int = 0


def test_a_key_given_twice_in_a_config_file_is_refused_with_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("path: /a\nsettle_seconds: 1\npath: /b\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        _Config.load(path)
    assert info.value.source == str(path)
    assert info.value.problems == [
        ("line 3", "cannot read YAML: key 'path' is given twice (lines 1 and 3)")
    ]


def test_an_alias_in_a_config_file_is_refused_before_it_expands(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    pairs = zip("abcdefgh", "bcdefghi", strict=True)
    rows = "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in pairs)
    path.write_text(f"a: &a [x, x, x]\n{rows}path: /a\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        _Config.load(path)
    [(where, message)] = info.value.problems
    assert where == "line 2" and "alias *a refused" in message


def test_a_valid_file_and_an_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("path: /a\n", encoding="utf-8")
    assert _Config.load(path).path == "/a"
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="path"):
        _Config.load(path)


def test_an_unreadable_or_non_utf8_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        _Config.load(tmp_path / "missing.yaml")
    path = tmp_path / "c.yaml"
    path.write_bytes("path: /a\n# 注释\n".encode("gbk"))
    with pytest.raises(ConfigError) as info:
        _Config.load(path)
    assert info.value.problems == [("line 2", "not UTF-8 (save the file as UTF-8)")]
