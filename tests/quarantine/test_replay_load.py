"""Replay of a record loaded from an exchange file: the standard form, read again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from std_factories import AUTHORITY, make_case, make_item

from standards.formats import write_records
from standards.identifiers import make_impl_code
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.batches import close_batch, open_batch
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.items import write_item
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.loading import Loader
from tongyuan.quarantine.replay import replay
from tongyuan.quarantine.selection import Selection

OTHER_BASIC = "440107009000"
OTHER_IMPL = make_impl_code(AUTHORITY, "4", OTHER_BASIC)


def publish(hub, item) -> None:
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            batch = open_batch(session, "load.item", "late item")
            write_item(session, batch.id, item, source="test", now=datetime.now(UTC))
            close_batch(session, batch, read=1, accepted=1, quarantined=0, unchanged=0,
                        status="committed", settings=hub)  # fmt: skip
    finally:
        engine.dispose()


def _load(hub, folder: Path, case):  # type: ignore[no-untyped-def]
    """Load one case from ``folder/cases.xml``; the load's summary."""
    folder.mkdir(parents=True)
    write_records(folder / "cases.xml", [case])
    loader = Loader(hub)
    try:
        return loader.load([folder.parent], relative_to=folder.parent)
    finally:
        loader.close()


def _quarantined_twice(hub, tmp_path: Path, dept_case_no: str):  # type: ignore[no-untyped-def]
    """Two deliveries of one case (two events, then all four), both quarantined for the
    item they name, which is then published; the newer delivery."""
    newer = make_case(impl_code=OTHER_IMPL, serial=None, dept_case_no=dept_case_no)
    older = newer.model_copy(
        update={"events": newer.events[:2], "decided_at": None, "delivered_at": None}
    )
    _load(hub, tmp_path / "first" / "cases", older)
    _load(hub, tmp_path / "second" / "cases", newer)
    publish(hub, make_item(basic_code=OTHER_BASIC, impl_code=OTHER_IMPL, name="食品生产许可"))
    return newer


def test_case_waiting_for_its_item_is_accepted_once_the_item_is_published(
    hub, in_session, tmp_path: Path
):
    case = make_case(impl_code=OTHER_IMPL, serial=None, dept_case_no="LATE-1")
    summary = _load(hub, tmp_path / "drop" / "cases", case)
    assert summary.totals()["case"]["quarantined"] == 1
    entry = in_session(lambda s: s.scalars(select(QuarantineEntry)).one())
    assert entry.rule == "case.item.unknown"

    assert replay(hub, Selection(status="open", everything=True)).still_open == 1
    publish(hub, make_item(basic_code=OTHER_BASIC, impl_code=OTHER_IMPL, name="食品生产许可"))
    summary = replay(hub, Selection(rule="case.item.unknown", status="open"))
    assert [o.outcome for o in summary.outcomes] == ["added"]

    def stored(s):
        rows = s.scalars(select(CaseRow).where(CaseRow.dept_case_no == "LATE-1")).all()
        entry = s.scalars(select(QuarantineEntry)).one()
        return len(rows), entry.status, entry.replay_count

    assert in_session(stored) == (1, "resolved", 2)


def test_two_deliveries_of_one_case_replayed_together_keep_the_newer(
    hub, in_session, tmp_path: Path
):
    """The older entry is replayed first; the newer one is not 'superseded' by it."""
    newer = _quarantined_twice(hub, tmp_path, "TWICE-1")
    summary = replay(hub, Selection(rule="case.item.unknown", status="open"))
    assert [o.outcome for o in summary.outcomes] == ["added", "changed"]

    def stored(s):
        row = s.scalars(select(CaseRow).where(CaseRow.dept_case_no == "TWICE-1")).one()
        return row.current_state, [e.status for e in s.scalars(select(QuarantineEntry))]

    assert in_session(stored) == (newer.current_state.value, ["resolved", "resolved"])


def test_an_older_entry_replayed_earlier_does_not_close_a_newer_one(
    hub, in_session, tmp_path: Path
):
    newer = _quarantined_twice(hub, tmp_path, "TWICE-2")
    first_id = in_session(lambda s: min(s.scalars(select(QuarantineEntry.id))))
    assert [o.outcome for o in replay(hub, Selection(ids=(first_id,))).outcomes] == ["added"]
    # A replay that started after the newer entry was quarantined wrote the row, but
    # with the older data: the newer entry is stored, not closed as superseded.
    summary = replay(hub, Selection(rule="case.item.unknown", status="open"))
    assert [o.outcome for o in summary.outcomes] == ["changed"]
    state = in_session(
        lambda s: s.scalar(select(CaseRow.current_state).where(CaseRow.dept_case_no == "TWICE-2"))
    )
    assert state == newer.current_state.value


def _material_quarantined_for_its_file(hub, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Load a material manifest whose file is not delivered yet (kept at ``tmp_path /
    "a.pdf"``): the material is quarantined. The drop folder the load read."""
    from std_factories import make_material

    drop = tmp_path / "drop"
    (drop / "materials").mkdir(parents=True)
    material = make_material(drop / "materials")
    (drop / "materials" / "files" / "a.pdf").rename(tmp_path / "a.pdf")
    write_records(drop / "materials" / "manifest.xml", [material])
    loader = Loader(hub)
    try:
        loader.load([drop], relative_to=drop)
    finally:
        loader.close()
    return drop


def test_a_material_replayed_away_from_its_delivery_finds_the_folder_it_was_loaded_from(
    hub, in_session, tmp_path: Path, monkeypatch
):
    """The entry names its file relative to the load; the load records the folder, so a
    replay run from elsewhere finds the fixed file there — and ``--files-dir`` still
    points a replay at a folder the delivery has moved to."""
    drop = _material_quarantined_for_its_file(hub, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (outcome,) = replay(hub, Selection(status="open", everything=True)).outcomes
    assert outcome.outcome != "added"  # the file is still missing
    (tmp_path / "a.pdf").rename(drop / "materials" / "files" / "a.pdf")  # fixed in place
    (outcome,) = replay(hub, Selection(status="open", everything=True)).outcomes
    assert outcome.outcome == "added", outcome.message


def test_a_material_whose_delivery_moved_is_replayed_with_files_dir(
    hub, in_session, tmp_path: Path, monkeypatch
):
    drop = _material_quarantined_for_its_file(hub, tmp_path)
    moved = tmp_path / "moved"
    (drop / "materials").rename(moved)
    (tmp_path / "a.pdf").rename(moved / "files" / "a.pdf")
    monkeypatch.chdir(tmp_path)
    (outcome,) = replay(hub, Selection(status="open", everything=True)).outcomes
    assert outcome.outcome != "added"
    summary = replay(hub, Selection(status="open", everything=True), base_dir=moved)
    assert [o.outcome for o in summary.outcomes] == ["added"]


@pytest.mark.parametrize("char", ["\u0000", "\u000b"])
def test_a_record_with_a_character_xml_cannot_carry_is_quarantined_on_each_backend(
    hub, in_session, tmp_path: Path, char: str
):
    """PostgreSQL's JSONB refuses U+0000: the quarantined payload must still be stored (the
    rest of the file too), with the rule naming the field."""
    import json

    good = make_case(serial=None, dept_case_no="GOOD-1")
    bad = make_case(serial=None, dept_case_no="BAD-1", item_name=f"食品{char}经营许可")
    folder = tmp_path / "drop" / "cases"
    folder.mkdir(parents=True)
    (folder / "cases.jsonl").write_text(
        "".join(
            json.dumps({"kind": "case", **c.model_dump(mode="json", exclude_none=True)}) + "\n"
            for c in (good, bad)
        ),
        encoding="utf-8",
    )
    loader = Loader(hub)
    try:
        summary = loader.load([folder.parent], relative_to=folder.parent)
    finally:
        loader.close()
    assert not summary.failed, summary.failed
    assert summary.totals()["case"]["added"] == 1
    assert summary.totals()["case"]["quarantined"] == 1
    entry = in_session(lambda s: s.scalars(select(QuarantineEntry)).one())
    assert entry.rule == "schema.xml_char"
    assert "item_name" in json.dumps(entry.rules, ensure_ascii=False) + entry.message


def test_show_prints_the_folder_a_loaded_material_is_looked_for_in(
    hub, in_session, tmp_path: Path, monkeypatch
):
    """docs/quarantine.md says `quarantine show` prints files_dir: only --json had it, and
    the text said "adapter None stream None" for a record no adapter pulled."""
    from typer.testing import CliRunner

    from tongyuan.cli import app
    from tongyuan.config import ENV_DATABASE_URL, ENV_PII_KEY

    drop = _material_quarantined_for_its_file(hub, tmp_path)
    entry_id = in_session(lambda s: s.scalars(select(QuarantineEntry.id)).one())
    monkeypatch.setenv(ENV_DATABASE_URL, hub.database_url)
    monkeypatch.setenv(ENV_PII_KEY, hub.pii_key_b64)
    out = CliRunner().invoke(app, ["quarantine", "show", str(entry_id)], terminal_width=400)
    assert out.exit_code == 0, out.output
    assert f"files_dir {(drop / 'materials').resolve()}" in out.output
    assert "None" not in out.output
