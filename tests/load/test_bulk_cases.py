"""New cases written in bulk: the same rows, outcomes and quarantine as one by one."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date
from typing import Any

import pytest
from bulk_world import case_drop, library_snapshot, numbered_cases
from sqlalchemy import select
from std_factories import IMPL, make_case, make_item

from standards.formats import write_records
from standards.identifiers.case_serial import format_case_serial
from tongyuan.db import upgrade
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseEventRow, CaseRow
from tongyuan.loading import Loader
from tongyuan.loading_bulk import BulkCaseWriter


def _one_by_one(self: BulkCaseWriter, session: Any, **kw: Any) -> None:
    self._store_one(session, kw["kind"], kw["location"], kw["raw"], kw["record"], kw["findings"])


@pytest.mark.parametrize("rows_at_a_time", [1000, 2])
def test_bulk_writes_what_one_by_one_writes(
    settings, db_url, tmp_path, monkeypatch, rows_at_a_time
):
    import tongyuan.loading_bulk as bulk

    monkeypatch.setattr(bulk, "CHUNK", rows_at_a_time)
    drop = case_drop(tmp_path / "drop")
    hub = dataclasses.replace(settings, database_url=db_url)
    loader = Loader(hub)
    try:
        summary = loader.load([drop], relative_to=drop)
        fast = library_snapshot(loader)
    finally:
        loader.close()
    totals = summary.totals()["case"]
    assert (totals["read"], totals["added"], totals["quarantined"]) == (8, 6, 2)
    assert fast["quarantine"] == [(7, "case.timestamps"), (8, "case.key.duplicate")]
    assert len(fast["cases"]) == 6
    assert all(len(c["events"]) == 4 and c["timeliness"] for c in fast["cases"].values())

    # The same drop into a second library, every case through RecordStore.store.
    # Same home (same PII key, so the same lookup hashes), another database.
    if not db_url.startswith("sqlite"):
        return  # the comparison runs on SQLite; on PostgreSQL the bulk rows are checked
    other = dataclasses.replace(hub, database_url=f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other.database_url)
    monkeypatch.setattr(BulkCaseWriter, "add", _one_by_one)
    slow_loader = Loader(other)
    try:
        slow_loader.load([drop], relative_to=drop)
        slow = library_snapshot(slow_loader)
    finally:
        slow_loader.close()
    assert fast == slow


def test_a_known_case_is_updated_one_by_one_with_its_new_events(settings, db_url, tmp_path):
    drop = case_drop(tmp_path / "drop")
    full = make_case()
    early = make_case(events=full.events[:3], decided_at=None, delivered_at=None)
    write_records(drop / "cases" / "cases.xml", [early])
    loader = Loader(dataclasses.replace(settings, database_url=db_url))
    try:
        assert loader.load([drop], relative_to=drop).totals()["case"]["added"] == 1
        fresh = make_case(
            dept_case_no="NS-new", serial=format_case_serial(IMPL, date(2026, 3, 2), 99)
        )
        write_records(drop / "cases" / "cases.xml", [full, fresh])
        totals = loader.load([drop / "cases"], relative_to=drop).totals()["case"]
        assert (totals["added"], totals["changed"], totals["quarantined"]) == (1, 1, 0)
        with loader.sessions() as session:
            row = session.scalars(
                select(CaseRow).where(CaseRow.dept_case_no == full.dept_case_no)
            ).one()
            states = session.scalars(
                select(CaseEventRow.state)
                .where(CaseEventRow.case_id == row.id)
                .order_by(CaseEventRow.seq)
            ).all()
            assert states == [e.state.value for e in full.events]
            timeliness = session.get(CaseTimeliness, row.id)
            assert timeliness is not None and timeliness.status.startswith("done")
    finally:
        loader.close()


def test_a_redelivery_under_new_numbers_is_quarantined_as_one_by_one_would(
    settings, tmp_path, monkeypatch
):
    """Serials the library holds, brought again by cases under new numbers: each case is
    quarantined for its serial, with the finding the write itself gives, in file order."""
    import tongyuan.loading_bulk as bulk

    monkeypatch.setattr(bulk, "CHUNK", 3)  # the re-delivery spans chunks
    cases = numbered_cases(6, lambda n: n)[:-2]  # with serials, none quarantined
    again = [
        *(c.model_copy(update={"dept_case_no": f"{c.dept_case_no}-again"}) for c in cases[1:]),
        make_case(dept_case_no="NS-fresh", serial=format_case_serial(IMPL, date(2026, 3, 2), 77)),
    ]
    again.insert(2, again[0].model_copy(update={"dept_case_no": "NS-twice"}))

    def load_twice(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
        drop = tmp_path / "drop"  # the same path both times: it is in the lookup hashes
        shutil.rmtree(drop, ignore_errors=True)
        (drop / "items").mkdir(parents=True)
        (drop / "cases").mkdir()
        write_records(drop / "items" / "items.xml", [make_item()])
        write_records(drop / "cases" / "cases.xml", cases)
        loader = Loader(dataclasses.replace(settings, database_url=url))
        try:
            loader.load([drop], relative_to=drop)
            write_records(drop / "cases" / "cases.xml", again)
            totals = loader.load([drop / "cases"], relative_to=drop).totals()["case"]
            return totals, library_snapshot(loader)
        finally:
            loader.close()

    url = f"sqlite:///{tmp_path / 'fast.db'}"
    upgrade(url)
    totals, fast = load_twice(url)
    assert (totals["read"], totals["added"], totals["quarantined"]) == (7, 1, 6)
    assert [d[1] for d in fast["quarantine_detail"]] == [1, 2, 3, 4, 5, 6]
    assert {d[5] for d in fast["quarantine_detail"]} == {"case.serial.duplicate"}
    assert "already belongs to another case" in fast["quarantine_detail"][0][6]

    monkeypatch.setattr(BulkCaseWriter, "add", _one_by_one)
    url = f"sqlite:///{tmp_path / 'slow.db'}"
    upgrade(url)
    assert load_twice(url) == (totals, fast)
