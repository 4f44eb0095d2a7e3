"""Loading files into the libraries: store or quarantine, one transaction per file, re-runs idle."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select
from std_factories import PERSON, make_case, make_item, make_license, make_material

from standards.formats import write_records
from tongyuan.inventory import library_counts, open_quarantine_by_rule
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.loading import Loader


@pytest.fixture
def loader(settings, db_url):
    hub = Loader(dataclasses.replace(settings, database_url=db_url))
    yield hub
    hub.close()


def make_drop(root: Path) -> Path:
    (root / "items").mkdir(parents=True)
    (root / "cases").mkdir()
    (root / "materials").mkdir()
    (root / "licenses").mkdir()
    item = make_item()
    bad_item = make_item(
        impl_code=item.impl_code[:-3] + "001",
        basic_code=item.basic_code[:-3] + "001",
        promised_limit_days=99,
    )
    write_records(root / "items" / "items.xml", [item, bad_item])
    good = make_case()
    bad = make_case(dept_case_no="NS-2", serial=None, decided_at=None)  # case.timestamps
    write_records(root / "cases" / "cases.xml", [good, bad])
    write_records(root / "materials" / "manifest.xml", [make_material(root / "materials")])
    write_records(root / "licenses" / "licenses.jsonl", [make_license()])
    return root


def test_load_stores_valid_and_quarantines_invalid_then_rerun_changes_nothing(loader, tmp_path):
    drop = make_drop(tmp_path / "drop")
    summary = loader.load([drop], relative_to=drop)
    totals = summary.totals()
    assert totals["item"]["added"] == 1 and totals["item"]["quarantined"] == 1
    assert totals["case"]["added"] == 1 and totals["case"]["quarantined"] == 1
    assert totals["material"]["added"] == 1 and totals["license"]["added"] == 1
    assert not summary.failed
    with loader.sessions() as session:
        counts = library_counts(session)
        assert counts["items_current"] == 1 and counts["cases"] == 1 and counts["case_events"] == 4
        assert counts["materials"] == 1 and counts["blobs"] == 1 and counts["licenses"] == 1
        assert open_quarantine_by_rule(session) == {"item.time_limit": 1, "case.timestamps": 1}
        entry = session.scalars(
            select(QuarantineEntry).where(QuarantineEntry.rule == "case.timestamps")
        ).one()
        assert entry.source_file == "cases/cases.xml" and entry.record_index == 2
        assert PERSON not in str(entry.payload_masked)
        assert loader.protector.decrypt(entry.payload_enc).count(PERSON) == 1
        batches_before = session.scalar(select(Batch.id).order_by(Batch.started_at.desc()))

    again = loader.load([drop], relative_to=drop)
    assert {f.status for f in again.files} == {"skipped"}
    with loader.sessions() as session:
        assert library_counts(session) == counts
        assert session.scalar(select(Batch.id).order_by(Batch.started_at.desc())) == batches_before


def test_changed_file_reloads_record_by_record(loader, tmp_path):
    drop = make_drop(tmp_path / "drop")
    loader.load([drop], relative_to=drop)
    changed = make_item(location="深圳市南山区政务服务中心二楼")
    write_records(drop / "items" / "items.xml", [changed])
    summary = loader.load([drop / "items"], relative_to=drop)
    assert summary.totals()["item"]["changed"] == 1
    with loader.sessions() as session:
        counts = library_counts(session)
    assert counts["items_current"] == 1 and counts["item_versions"] == 2


def test_file_broken_part_way_is_rolled_back_whole(loader, tmp_path):
    drop = tmp_path / "drop"
    (drop / "items").mkdir(parents=True)
    path = drop / "items" / "items.xml"
    write_records(path, [make_item(), make_item(name="另一个事项")])
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.rindex("<item>") + 20], encoding="utf-8")  # cut in record 2
    summary = loader.load([drop], relative_to=drop)
    (result,) = summary.files
    assert result.status == "failed" and "xml.malformed" in (result.error or "")
    with loader.sessions() as session:
        assert library_counts(session)["item_versions"] == 0
        failed = session.scalars(select(Batch).where(Batch.status == "failed")).one()
        assert failed.source == "items/items.xml" and failed.meta["error"]


def test_a_file_rolled_back_leaves_its_keys_free_for_the_next_file(loader, tmp_path):
    """A.xml fails part-way (malformed after its first case): B.xml's copy of that case
    is the first one stored, not a duplicate of a record that never was."""
    drop = tmp_path / "drop"
    (drop / "items").mkdir(parents=True)
    write_records(drop / "items" / "items.xml", [make_item()])
    (drop / "cases").mkdir()
    write_records(drop / "cases" / "b_cases.xml", [make_case()])
    whole = (drop / "cases" / "b_cases.xml").read_text(encoding="utf-8")
    cut = whole.index("</case>") + len("</case>")
    (drop / "cases" / "a_cases.xml").write_text(whole[:cut] + "\n<case><oops", encoding="utf-8")
    summary = loader.load([drop], relative_to=drop)
    by_name = {f.file: f for f in summary.files}
    assert by_name["cases/a_cases.xml"].status == "failed"
    assert (by_name["cases/b_cases.xml"].added, by_name["cases/b_cases.xml"].quarantined) == (1, 0)
