"""The files-sink: atomic, content-named, idempotent deliveries of standard XML files."""

from __future__ import annotations

from pathlib import Path

import pytest
from std_factories import make_item

from adapters.builtin.files_sink import FilesSink, FilesSinkConfig
from adapters.sdk import AdapterError, ConfigError
from adapters.sdk.registry import load_adapter
from standards.formats import iter_raw_records, to_record, validate_file_against_xsd
from standards.identifiers import make_impl_code, uscc_check_char
from standards.records import Item


def _items(n: int) -> list[Item]:
    out = []
    for i in range(n):
        first17 = f"11440305{i:09d}"
        uscc = first17 + uscc_check_char(first17)
        out.append(
            make_item(impl_code=make_impl_code(uscc, "4", "440107008000"), authority_uscc=uscc)
        )
    return out


def _sink(folder: Path, **extra: str) -> FilesSink:
    return FilesSink(FilesSinkConfig.load({"path": str(folder), **extra}))


def _read_back(path: Path) -> list[Item]:
    out = []
    for raw in iter_raw_records(path):
        record, findings = to_record(raw)
        assert not findings, findings
        out.append(record)
    return out


def test_registered_as_builtin() -> None:
    assert load_adapter("files-sink") is FilesSink


def test_writes_one_schema_valid_file_that_reads_back(tmp_path: Path) -> None:
    items = _items(3)
    result = _sink(tmp_path / "inbox").write("items", items)
    assert result.written == 3
    path = Path(result.location)
    assert path.parent == tmp_path / "inbox"
    assert path.name.startswith("items-") and path.suffix == ".xml"
    assert validate_file_against_xsd(path) == []
    assert _read_back(path) == items
    # Nothing half-written or temporary is left behind.
    assert [p.name for p in (tmp_path / "inbox").iterdir()] == [path.name]


def test_same_records_same_name_and_bytes(tmp_path: Path) -> None:
    items = _items(4)
    a = _sink(tmp_path / "a").write("items", items)
    b = _sink(tmp_path / "b").write("items", iter(items))
    assert Path(a.location).name == Path(b.location).name
    assert Path(a.location).read_bytes() == Path(b.location).read_bytes()


def test_redelivery_writes_nothing_new(tmp_path: Path) -> None:
    sink = _sink(tmp_path / "inbox")
    first = sink.write("items", _items(2))
    mtime = Path(first.location).stat().st_mtime_ns
    again = sink.write("items", _items(2))
    assert again.location == first.location
    assert Path(first.location).stat().st_mtime_ns == mtime
    assert len(list((tmp_path / "inbox").iterdir())) == 1


def test_acknowledged_file_is_not_delivered_again(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    sink = _sink(inbox)
    first = Path(sink.write("items", _items(2)).location)
    (inbox / "done").mkdir()
    first.rename(inbox / "done" / first.name)
    again = sink.write("items", _items(2))
    assert Path(again.location) == inbox / "done" / first.name
    assert not first.exists()


def test_different_records_different_file(tmp_path: Path) -> None:
    sink = _sink(tmp_path / "inbox", prefix="from-440305")
    a = Path(sink.write("items", _items(2)).location)
    changed = _items(2)
    changed[1] = changed[1].model_copy(update={"promised_limit_days": 5})
    b = Path(sink.write("items", changed).location)
    assert a != b and a.name.startswith("items-from-440305-")
    assert len(list((tmp_path / "inbox").iterdir())) == 2


def test_nothing_to_deliver_writes_nothing(tmp_path: Path) -> None:
    result = _sink(tmp_path / "inbox").write("items", [])
    assert result.written == 0 and result.location == ""
    assert list((tmp_path / "inbox").iterdir()) == []


def test_failure_mid_write_leaves_no_file(tmp_path: Path) -> None:
    def broken():
        yield from _items(2)
        raise RuntimeError("source system went away")

    with pytest.raises(RuntimeError):
        _sink(tmp_path / "inbox").write("items", broken())
    assert list((tmp_path / "inbox").iterdir()) == []


def test_relative_path_is_resolved_against_base_dir(tmp_path: Path) -> None:
    sink = FilesSink(FilesSinkConfig.load({"path": "systems/x"}), base_dir=tmp_path)
    result = sink.write("items", _items(1))
    assert Path(result.location).parent == tmp_path / "systems" / "x"


@pytest.mark.parametrize("bad", [{"prefix": "../up"}, {"done_dir": "a/b"}, {"paht": "x"}])
def test_bad_configuration_is_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        FilesSinkConfig.load({"path": "x", **bad})


def test_bad_stream_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stream"):
        _sink(tmp_path).write("../items", _items(1))


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(AdapterError, match="cannot"):
        _sink(blocker / "inbox").write("items", _items(1))


def test_half_written_delivery_of_a_killed_run_is_cleaned_up(tmp_path: Path) -> None:
    import os

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    stale, fresh = inbox / ".delivering-old.xml", inbox / ".delivering-new.xml"
    stale.write_text("<items")
    fresh.write_text("<items")
    os.utime(stale, (1, 1))
    _sink(inbox).write("items", _items(1))
    assert not stale.exists() and fresh.exists()  # a live writer's part is left alone
