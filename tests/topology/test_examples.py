"""The shipped topologies load, expand {home}, and answer tree questions bottom-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.builtin.files import FilesSource
from adapters.builtin.files_sink import FilesSink
from standards.codes.enums import ExerciseLevel
from tongyuan.topology import example_path, load_topology


def test_shenzhen_example(tmp_path: Path) -> None:
    topo = load_topology(example_path("shenzhen"), home=tmp_path)
    assert topo.name == "shenzhen"
    assert list(topo.nodes) == ["440000", "440300", "440304", "440305", "440306", "440307"]
    assert topo.root.code == "440000" and topo.root.name == "广东省"
    assert topo.node("440300").level is ExerciseLevel.CITY
    assert topo.node("440305").level is ExerciseLevel.COUNTY
    assert topo.node("440305").name == "南山区"
    assert topo.parent("440305").code == "440300"  # type: ignore[union-attr]
    assert topo.parent("440000") is None
    assert [n.code for n in topo.children("440300")] == ["440304", "440305", "440306", "440307"]
    assert topo.levels_bottom_up() == [
        ["440304", "440305", "440306", "440307"],
        ["440300"],
        ["440000"],
    ]
    assert [c for c, _, _ in topo.edges()] == ["440304", "440305", "440306", "440307", "440300"]
    assert topo.node("440300").schedule == "30 1 * * *"
    assert topo.home == tmp_path.resolve()

    nanshan = topo.node("440305")
    assert nanshan.source.adapter == "files"
    assert nanshan.source.stream == "items"
    assert nanshan.source.config["path"] == f"{tmp_path.resolve()}/systems/440305/outbox"
    assert nanshan.sink is not None
    assert nanshan.sink.adapter == "files-sink"
    assert nanshan.sink.config["path"] == f"{tmp_path.resolve()}/systems/440305/inbox"

    (dept,) = topo.departments
    assert dept.name == "深圳市市场监督管理局"
    assert dept.node == "440300" and dept.streams == ["items"]
    assert dept.source.adapter == "sql"
    assert topo.departments_of("440300") == [dept]
    assert topo.departments_of("440305") == []


def test_lanzhou_example(tmp_path: Path) -> None:
    topo = load_topology(example_path("lanzhou"), home=tmp_path)
    assert list(topo.nodes) == ["620000", "620100", "620102"]
    assert topo.levels_bottom_up() == [["620102"], ["620100"], ["620000"]]
    assert topo.parent("620102").code == "620100"  # type: ignore[union-attr]
    assert topo.node("620102").name == "城关区"
    assert topo.departments == []
    assert [d.code for d in topo.descendants("620000")] == ["620100", "620102"]
    assert topo.depth("620102") == 2


def test_home_defaults_to_tongyuan_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGYUAN_HOME", str(tmp_path / "hub"))
    topo = load_topology(example_path("lanzhou"))
    assert topo.node("620100").source.config["path"] == str(
        (tmp_path / "hub").resolve() / "systems" / "620100" / "outbox"
    )


def test_refs_open_ready_adapters(tmp_path: Path) -> None:
    topo = load_topology(example_path("shenzhen"), home=tmp_path)
    source = topo.node("440305").source.open()
    assert isinstance(source, FilesSource)
    assert [s.name for s in source.streams()] == ["items"]
    sink = topo.node("440305").sink.open()  # type: ignore[union-attr]
    assert isinstance(sink, FilesSink)


def test_unknown_node_names_the_known_ones(tmp_path: Path) -> None:
    topo = load_topology(example_path("lanzhou"), home=tmp_path)
    with pytest.raises(KeyError, match="620102"):
        topo.node("620103")


def test_unknown_example() -> None:
    with pytest.raises(FileNotFoundError, match="lanzhou, shenzhen"):
        example_path("beijing")


def test_only_topologies_are_offered_as_shipped_examples() -> None:
    """The examples folder also holds adapter mappings: they are no topology."""
    from tongyuan.topology import example_names

    assert example_names() == ["lanzhou", "shenzhen"]
    with pytest.raises(FileNotFoundError) as caught:
        example_path("dept-items-mapping")
    assert "(shipped: lanzhou, shenzhen)" in str(caught.value)
