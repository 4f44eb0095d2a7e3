"""The ``files`` source: a local drop folder, read only when complete, acknowledged after commit."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from drop_listing import listing, tree
from std_factories import PERSON, make_case

from adapters.builtin.drop import Manifest, unsafe_name_reason
from adapters.builtin.files import FilesHarness, FilesSource, LocalFolder
from adapters.conformance.scratch import MARK
from adapters.sdk import AdapterError, ConfigError, ConnectionCheckError
from standards.formats import write_records
from standards.validation.record_checks import check_record

Make = Callable[..., FilesSource]


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    path = tmp_path / "drop"
    path.mkdir()
    return path


@pytest.fixture
def make(tmp_path: Path, drop: Path) -> Make:
    def build(**over: Any) -> FilesSource:
        config: dict[str, Any] = {
            "path": str(drop),
            "streams": {"cases": {"kind": "case", "patterns": ["*.xml"]}},
            "settle_seconds": 0,
            "staging_dir": str(tmp_path / "staging"),
        }
        config.update(over)
        return FilesSource.from_config(config, base_dir=tmp_path)

    return build


@pytest.fixture
def harness(make: Make) -> FilesHarness:
    return make().conformance_harness()


def read_all(source: FilesSource, state: dict | None = None, *, commit: bool = True):
    read = source.read("cases", state)
    try:
        envelopes = list(read)
        new_state = json.loads(json.dumps(read.state()))
        if commit:
            read.commit()
    finally:
        read.close()
    return envelopes, new_state, read


def keys_of(envelopes) -> list[tuple]:
    return [e.record.key() for e in envelopes if e.record is not None]


def test_full_read_yields_every_record_valid_with_its_file_and_line(
    make: Make, harness: FilesHarness, drop: Path
) -> None:
    first = harness.add(3)
    second = harness.add(4)
    envelopes, state, _ = read_all(make(), commit=False)
    assert keys_of(envelopes) == first + second
    assert all(e.ok and check_record(e.record) == [] for e in envelopes)
    loc = envelopes[0].location
    assert loc.file == str(drop / listing(drop)[0])
    assert (loc.record, loc.line) == (1, 3)
    assert envelopes[3].location.record == 1  # positions count within each file
    delivered = state["delivered"]
    assert [d["name"] for d in delivered] == listing(drop)
    digest = hashlib.sha256((drop / delivered[0]["name"]).read_bytes()).hexdigest()
    assert delivered[0]["sha256"] == digest


def test_nothing_is_acknowledged_before_commit(make: Make, harness: FilesHarness, drop: Path):
    keys = harness.add(5)
    before = tree(drop)
    read = make().read("cases")
    assert keys_of(list(read)) == keys
    read.state()
    read.close()  # the hub failed before committing: nothing moves
    assert tree(drop) == before
    again, _, _ = read_all(make())  # and the next run reads the same again
    assert keys_of(again) == keys


def test_commit_moves_files_to_done_and_the_next_run_yields_nothing(
    make: Make, harness: FilesHarness, drop: Path
) -> None:
    harness.add(5)
    _, state, read = read_all(make())
    assert read.acknowledged and tree(drop) == ["done", f"done/{read.acknowledged[0]}"]
    envelopes, state2, _ = read_all(make(), state)
    assert envelopes == [] and state2 == {"delivered": []}


def test_a_new_file_yields_exactly_its_records(make: Make, harness: FilesHarness) -> None:
    harness.add(5)
    _, state, _ = read_all(make())
    new = harness.add(3)
    envelopes, _, _ = read_all(make(), state)
    assert keys_of(envelopes) == new


def test_crash_between_commit_and_ack_delivers_once_and_retries_the_ack(
    make: Make, harness: FilesHarness, drop: Path
) -> None:
    harness.add(4)
    _, state, _ = read_all(make(), commit=False)  # hub committed state, died before ack
    assert "done" not in listing(drop)
    envelopes, state2, read = read_all(make(), state)
    assert envelopes == []
    assert state2 == state  # still unacknowledged when the state was taken
    assert read.acknowledged == [state["delivered"][0]["name"]]
    assert listing(drop) == ["done"]
    assert read_all(make(), state2)[1] == {"delivered": []}


def test_a_replaced_file_of_the_same_name_is_delivered_again(
    make: Make, drop: Path, tmp_path: Path
) -> None:
    write_records(drop / "cases.xml", [make_case()])
    _, state, _ = read_all(make())
    write_records(drop / "cases.xml", [make_case(dept_case_no="NS2")])
    envelopes, _, _ = read_all(make(), state)
    assert [e.record.dept_case_no for e in envelopes] == ["NS2"]
    assert len(listing(drop / "done")) == 2  # the earlier delivery is not overwritten


def test_files_being_written_are_left_for_the_next_run(
    make: Make, drop: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_records(drop / "done-already.xml", [make_case()])
    (drop / "cases2.xml.part").write_text("<cases ")
    (drop / ".cases3.xml").write_text("<cases ")
    (drop / "cases4.tmp.xml").write_bytes((drop / "done-already.xml").read_bytes())
    source = make(streams={"cases": {"kind": "case", "patterns": ["*"]}})
    with caplog.at_level(logging.INFO):
        envelopes, state, read = read_all(source)
    assert sorted(d["name"] for d in state["delivered"]) == ["cases4.tmp.xml", "done-already.xml"]
    deferred = {n.name for n in read.notices if n.action == "deferred"}
    assert deferred == {"'cases2.xml.part'", "'.cases3.xml'"}
    assert "still being written" in caplog.text
    os.replace(drop / "cases2.xml.part", drop / "cases2.xml")
    write_records(drop / "cases2.xml", [make_case(dept_case_no="LATE")])
    envelopes, _, _ = read_all(source, state)
    assert [e.record.dept_case_no for e in envelopes] == ["LATE"]


def test_a_file_changing_between_two_looks_is_left(make: Make, drop: Path, monkeypatch) -> None:
    write_records(drop / "a.xml", [make_case()])
    source = make(settle_seconds=0.01)
    real_sleep = __import__("time").sleep

    def sleep_while_writing(seconds: float) -> None:
        with open(drop / "a.xml", "a", encoding="utf-8") as fh:
            fh.write("<!-- still writing -->\n")
        real_sleep(seconds)

    monkeypatch.setattr("adapters.builtin.drop_read.time.sleep", sleep_while_writing)
    envelopes, state, read = read_all(source)
    assert envelopes == [] and state == {"delivered": []}
    assert "changing" in str(read.notices[0])


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_file_modified_while_copied_is_not_ingested(
    make: Make, drop: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    write_records(drop / "a.xml", [make_case()])
    real_fetch = LocalFolder.fetch

    def fetch(self: LocalFolder, name: str, entry, part: Path) -> None:
        if when == "after":
            real_fetch(self, name, entry, part)
        with open(drop / name, "a", encoding="utf-8") as fh:
            fh.write("<!-- appended -->\n")
        if when == "before":
            real_fetch(self, name, entry, part)

    monkeypatch.setattr(LocalFolder, "fetch", fetch)
    envelopes, state, read = read_all(make())
    assert envelopes == [] and state == {"delivered": []}
    assert read.notices[0].action == "deferred"
    assert "modified while being read" in read.notices[0].reason
    assert listing(drop) == ["a.xml"]
    assert not any((drop.parent / "staging").rglob("*.*"))  # no copy left behind
    monkeypatch.undo()
    envelopes, _, _ = read_all(make())
    assert len(envelopes) == 1 and envelopes[0].ok


def test_symbolic_links_are_refused(make: Make, drop: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.xml"
    write_records(outside, [make_case(dept_case_no="OUTSIDE")])
    write_records(drop / "real.xml", [make_case()])
    os.symlink(outside, drop / "escape.xml")
    os.symlink("real.xml", drop / "alias.xml")
    envelopes, _, read = read_all(make())
    assert [e.record.dept_case_no for e in envelopes] == [make_case().dept_case_no]
    reasons = {n.name: n.reason for n in read.notices}
    assert "pointing outside the drop folder" in reasons["'escape.xml'"]
    assert "symbolic link" in reasons["'alias.xml'"]
    assert outside.exists() and (drop / "escape.xml").is_symlink()


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../x.xml", "path separator"),
        ("/etc/passwd", "absolute path"),
        ("a\\..\\..\\x.xml", "path separator"),
        ("x\x00.xml", "NUL"),
        ("..", "directory"),
        ("", "empty"),
        ("a\nb.xml", "control characters"),
        ("办件" * 50 + ".xml", "255 bytes"),
    ],
)
def test_names_that_could_leave_the_folder_are_refused(name: str, why: str) -> None:
    reason = unsafe_name_reason(name)
    assert reason is not None and why in reason


def test_plain_names_pass() -> None:
    assert unsafe_name_reason("办件_2026-03-02.xml") is None
    assert unsafe_name_reason("..hidden..xml") is None


def manifest(drop: Path, **files: dict[str, Any]) -> None:
    (drop / "MANIFEST.json").write_text(json.dumps({"files": files}), encoding="utf-8")


def test_manifest_sha256_mismatch_is_refused_and_not_ingested(
    make: Make, drop: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_records(drop / "good.xml", [make_case(dept_case_no="GOOD")])
    write_records(drop / "bad.xml", [make_case(dept_case_no="BAD")])
    good = drop / "good.xml"
    manifest(
        drop,
        **{
            "good.xml": {
                "size": good.stat().st_size,
                "sha256": hashlib.sha256(good.read_bytes()).hexdigest(),
            },
            "bad.xml": {"sha256": "0" * 64},
        },
    )
    with caplog.at_level(logging.WARNING):
        envelopes, state, read = read_all(make())
    assert [e.record.dept_case_no for e in envelopes] == ["GOOD"]
    assert [d["name"] for d in state["delivered"]] == ["good.xml"]
    (notice,) = read.notices
    assert (
        notice.action == "refused"
        and "does not match" in notice.reason
        and "0" * 64 in notice.reason
    )
    assert "bad.xml" in caplog.text and "refused" in caplog.text
    assert listing(drop) == ["MANIFEST.json", "bad.xml", "done"]


def test_sidecar_digest_is_checked_and_moves_with_the_file(make: Make, drop: Path) -> None:
    write_records(drop / "a.xml", [make_case()])
    digest = hashlib.sha256((drop / "a.xml").read_bytes()).hexdigest()
    (drop / "a.xml.sha256").write_text(f"{digest}  a.xml\n")
    write_records(drop / "b.xml", [make_case(dept_case_no="B")])
    (drop / "b.xml.sha256").write_text("f" * 64 + "\n")
    envelopes, _, read = read_all(make())
    assert len(envelopes) == 1
    assert "does not match" in read.notices[0].reason
    assert listing(drop / "done") == ["a.xml", "a.xml.sha256"]


def test_a_file_smaller_than_its_manifest_entry_is_still_arriving(make: Make, drop: Path) -> None:
    write_records(drop / "a.xml", [make_case()])
    manifest(drop, **{"a.xml": {"size": (drop / "a.xml").stat().st_size + 100}})
    envelopes, _, read = read_all(make())
    assert envelopes == [] and read.notices[0].action == "deferred"
    manifest(drop, **{"a.xml": {"size": (drop / "a.xml").stat().st_size - 1}})
    envelopes, _, read = read_all(make())
    assert envelopes == [] and read.notices[0].action == "refused"


def test_required_manifest_waits_for_the_entry(make: Make, drop: Path) -> None:
    write_records(drop / "a.xml", [make_case()])
    source = make(manifest="required")
    envelopes, _, read = read_all(source)
    assert envelopes == [] and "no manifest entry" in read.notices[0].reason
    manifest(drop, **{"a.xml": {"size": (drop / "a.xml").stat().st_size}})
    assert len(read_all(source)[0]) == 1


def test_a_broken_manifest_stops_every_file(make: Make, drop: Path) -> None:
    write_records(drop / "a.xml", [make_case()])
    (drop / "MANIFEST.json").write_text('{"files": {"a.xml": {"size": ')
    envelopes, _, read = read_all(make())
    assert envelopes == [] and "no file is read until it is fixed" in read.notices[0].reason


def test_manifest_entries_with_escaping_names_are_refused() -> None:
    with pytest.raises(AdapterError, match="path separator"):
        Manifest.parse(json.dumps({"files": {"../x.xml": {"size": 1}}}).encode(), "M")


def test_marker_acknowledgement_leaves_the_file_and_skips_it_next_time(
    make: Make, harness: FilesHarness, drop: Path
) -> None:
    keys = harness.add(3)
    source = make(acknowledge="marker")
    envelopes, state, read = read_all(source)
    assert keys_of(envelopes) == keys
    name = read.acknowledged[0]
    assert (
        json.loads((drop / f"{name}.done").read_text())["sha256"] == state["delivered"][0]["sha256"]
    )
    assert read_all(source, state)[0] == []
    assert read_all(source, None)[0] == []  # the marker alone is enough


def test_a_damaged_file_yields_its_good_records_and_reports_the_rest(
    make: Make, drop: Path
) -> None:
    write_records(drop / "a.xml", [make_case(), make_case(dept_case_no="N2")])
    text = (drop / "a.xml").read_text(encoding="utf-8")
    (drop / "a.xml").write_text(text[: text.rindex("<case>")] + "<case><source_system>", "utf-8")
    envelopes, state, _ = read_all(make())
    assert envelopes[0].ok
    last = envelopes[-1]
    assert last.record is None and last.findings[0].rule == "xml.malformed"
    assert last.location.file == str(drop / "a.xml")
    assert state["delivered"][0]["name"] == "a.xml"  # reported and quarantined, not retried


def test_personal_ids_in_file_names_are_masked_in_notices_and_logs(
    make: Make, drop: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"{PERSON}.xml"  # a department's naming choice must not leak an ID into logs
    write_records(drop / name, [make_case()])
    (drop / f"{name}.sha256").write_text("0" * 64)
    with caplog.at_level(logging.INFO):
        _, _, read = read_all(make())
    assert "does not match" in read.notices[0].reason
    assert PERSON not in str(read.notices[0]) and PERSON not in caplog.text
    assert PERSON[:4] in read.notices[0].name


def test_check_reports_a_missing_folder(tmp_path: Path) -> None:
    source = FilesSource.from_config(
        {"path": "nowhere", "streams": {"cases": {"kind": "case"}}}, base_dir=tmp_path
    )
    with pytest.raises(ConnectionCheckError, match="does not exist"):
        source.check()


def test_configuration_errors_name_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        FilesSource.from_config({"path": "d", "streams": {"cases": {"patterns": ["../*.xml"]}}})
    assert [p for p, _ in err.value.problems] == ["streams.cases.patterns"]
    with pytest.raises(ConfigError, match="give kind"):
        FilesSource.from_config({"path": "d", "streams": {"cases": {"patterns": ["*.xml"]}}})
    with pytest.raises(ConfigError, match="no stream configured"):
        FilesSource.from_config({"path": "d"})
    # a stream's encoding is checked when the configuration loads, not by the first file
    with pytest.raises(ConfigError) as err:
        FilesSource.from_config(
            {"path": "d", "streams": {"cases": {"kind": "case", "encoding": "big5"}}}
        )
    ((path, message),) = err.value.problems
    assert path == "streams.cases.encoding"
    assert message == "encoding 'big5' is not supported; use one of utf-8, gbk, gb18030"
    source = FilesSource.from_config(
        {"path": "d", "streams": {"cases": {"kind": "case", "encoding": " GB2312 "}}}
    )
    assert source.config.streams["cases"].encoding == "gbk"  # type: ignore[attr-defined]


class MarketDrop(FilesSource):
    stream = "cases"
    kind = "case"
    patterns = ("market_*.xml",)


def test_department_style_class_attributes(tmp_path: Path, drop: Path) -> None:
    source = MarketDrop.from_config({"path": str(drop), "settle_seconds": 0}, base_dir=tmp_path)
    assert source.stream("cases").primary_key == ("source_system", "dept_case_no")
    write_records(drop / "market_1.xml", [make_case()])
    write_records(drop / "other.xml", [make_case(dept_case_no="X")])
    read = source.read("cases")
    assert [e.record.dept_case_no for e in read] == [make_case().dept_case_no]


def test_bulk_writes_several_files(make: Make, harness: FilesHarness, drop: Path) -> None:
    harness.bulk_file_records = 1000
    harness.add_bulk(2500)
    assert len(listing(drop)) == 3
    envelopes, _, _ = read_all(make())
    assert len(envelopes) == 2500 and all(e.ok for e in envelopes)
    assert len(set(keys_of(envelopes))) == 2500


GBK_MAPPING = """\
kind: case
encoding: gbk
timezone: "+08:00"
code_tables:
  states: {"受理": "3", "收件": "1"}
fields:
  source_system: {const: SZ-MARKET}
  dept_case_no: {from: 办件编号, transforms: [trim, halfwidth]}
  impl_code: {from: 实施编码, transforms: [trim, upper]}
  applicant.name: {from: 申请人, transforms: [trim]}
  applicant.id_type: {const: "111"}
  applicant.id_number: {from: 证件号码, transforms: [trim, upper]}
  accepted_at: {from: 受理时间, datetime: ["%Y年%m月%d日 %H时%M分"]}
  events:
    from_columns:
      - {state: "1", at: {from: 收件时间, datetime: ["%Y-%m-%d %H:%M:%S"]}}
      - {state: "3", at: {from: 受理时间, datetime: ["%Y年%m月%d日 %H时%M分"]}}
"""


def write_gbk_csv(path: Path, impl: str) -> None:
    rows = [
        "办件编号,实施编码,申请人,证件号码,收件时间,受理时间",
        f"ＳＺ０００１,{impl.lower()},张伟,{PERSON},2026-03-02 09:00:00,2026年3月2日 10时30分",
        f"SZ0002,{impl},欧阳娜娜,{PERSON},2026-03-02 09:05:00,二〇二六年三月",
    ]
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("gbk"))


def test_gbk_csv_is_mapped(tmp_path: Path, drop: Path) -> None:
    (tmp_path / "cases.yaml").write_text(GBK_MAPPING, encoding="utf-8")
    impl = make_case().impl_code
    write_gbk_csv(drop / "cases_20260302.csv", impl)
    source = FilesSource.from_config(
        {
            "path": "drop",
            "streams": {"cases": {"patterns": ["*.csv"], "mapping": "cases.yaml"}},
            "settle_seconds": 0,
            "staging_dir": str(tmp_path / "staging"),
        },
        base_dir=tmp_path,
    )
    assert source.stream("cases").kind == "case"
    envelopes, state, _ = read_all(source)
    first, second = envelopes
    assert first.ok and check_record(first.record) == []
    assert first.record.dept_case_no == "SZ0001"
    assert first.record.applicant.name == "张伟"
    assert first.record.impl_code == impl
    assert first.record.accepted_at.isoformat() == "2026-03-02T10:30:00+08:00"
    assert first.location.file == str(drop / "cases_20260302.csv") and first.location.line == 2
    assert second.record is None and second.findings[0].rule == "mapping.date"
    assert second.raw["申请人"] == "欧阳娜娜"
    assert state["delivered"][0]["name"] == "cases_20260302.csv"


UTF8_MAPPING = GBK_MAPPING.replace("encoding: gbk\n", "")


def mapped_source(tmp_path: Path, stream: dict[str, Any]) -> FilesSource:
    (tmp_path / "cases.yaml").write_text(UTF8_MAPPING, encoding="utf-8")
    return FilesSource.from_config(
        {
            "path": "drop",
            "streams": {"cases": {"mapping": "cases.yaml", **stream}},
            "settle_seconds": 0,
            "staging_dir": str(tmp_path / "staging"),
        },
        base_dir=tmp_path,
    )


def test_department_xml_is_mapped_by_record_tag(tmp_path: Path, drop: Path) -> None:
    impl = make_case().impl_code
    (drop / "export.xml").write_bytes(
        (
            '<?xml version="1.0" encoding="GBK"?>\n<导出><办件列表>'
            f"<办件><办件编号>A1</办件编号><实施编码>{impl}</实施编码><申请人>张伟</申请人>"
            f"<证件号码>{PERSON}</证件号码><收件时间>2026-03-02 09:00:00</收件时间>"
            "<受理时间>2026年3月2日 10时30分</受理时间></办件>"
            "</办件列表></导出>\n"
        ).encode("gbk")
    )
    source = mapped_source(tmp_path, {"patterns": ["*.xml"], "record_tag": "办件"})
    (envelope,) = read_all(source)[0]
    assert envelope.ok and envelope.record.dept_case_no == "A1"
    assert envelope.record.applicant.name == "张伟"
    assert envelope.location.file == str(drop / "export.xml")


def test_department_xml_without_record_tag_is_a_configuration_error(
    tmp_path: Path, drop: Path
) -> None:
    (drop / "export.xml").write_text("<a/>")
    with pytest.raises(ConfigError, match="record_tag"):
        read_all(mapped_source(tmp_path, {"patterns": ["*.xml"]}))


def test_json_lines_are_mapped_and_a_bad_line_is_reported(tmp_path: Path, drop: Path) -> None:
    impl = make_case().impl_code
    row = {
        "办件编号": "J1",
        "实施编码": impl,
        "申请人": "王芳",
        "证件号码": PERSON,
        "收件时间": "2026-03-02 09:00:00",
        "受理时间": "2026年3月2日 10时30分",
    }
    lines = [
        json.dumps(row, ensure_ascii=False),
        "{not json",
        json.dumps({**row, "办件编号": "J2"}),
    ]
    (drop / "cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    envelopes = read_all(mapped_source(tmp_path, {"patterns": ["*.jsonl"]}))[0]
    assert [e.record.dept_case_no if e.record else None for e in envelopes] == ["J1", None, "J2"]
    assert envelopes[1].findings[0].rule == "payload.malformed"
    assert envelopes[1].location.line == 2


def test_the_kit_refuses_a_drop_folder_it_did_not_mark(drop: Path) -> None:
    """Pointed at a production drop by mistake, the harness deletes nothing."""
    (drop / "done").mkdir()
    (drop / "done" / "cases_2024.xml").write_text("<cases/>", encoding="utf-8")
    (drop / "unread.xml").write_text("<cases/>", encoding="utf-8")
    with pytest.raises(AdapterError, match="holds files it did not put there"):
        FilesHarness(drop, "cases", "case")
    assert listing(drop) == ["done", "unread.xml"]
    assert listing(drop / "done") == ["cases_2024.xml"]


def test_the_kit_claims_an_empty_folder_and_empties_only_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "kit-drop"
    harness = FilesHarness(folder, "cases", "case")
    harness.add(3)
    assert len(listing(folder)) == 1 and (folder / MARK).is_file()
    harness.reset()
    assert listing(folder) == [] and (folder / MARK).is_file()
    FilesHarness(folder, "cases", "case").add(1)  # marked: a later run may use it again
    (folder / MARK).unlink()
    with pytest.raises(AdapterError, match="did not put there"):
        harness.reset()  # the mark gone, the folder is no longer the kit's
    assert len(listing(folder)) == 1
