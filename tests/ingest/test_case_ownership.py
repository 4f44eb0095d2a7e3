"""A stored case changes only with deliveries of whoever first delivered it, keeps its
实施编码, and takes its later events after its item is cancelled."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from ingest_world import DEPT, World
from sqlalchemy import event, select, update
from std_factories import at, make_case, make_item
from two_departments import OTHER, two_departments

from standards.codes.enums import CaseState, ReviewStatus
from standards.formats import write_records
from standards.identifiers import make_impl_code
from standards.records import CaseEvent
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.ingest import ingest_department
from tongyuan.ingest.engine import IngestResult
from tongyuan.ledger import verify_ledger
from tongyuan.libraries.batches import Batch, close_batch, open_batch
from tongyuan.libraries.case_owners import ReplayedOwners, case_owner
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseEventRow, CaseRow, case_events, find_case
from tongyuan.libraries.items import cancel_item
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.loading import Loader
from tongyuan.quarantine.replay import replay_ids


def _ingest(world: World, dept: str, *cases) -> IngestResult:  # type: ignore[no-untyped-def]
    drop = world.settings.home / "drops" / dept
    name = f"cases_{len(list(drop.glob('cases_*')))}.xml"
    write_records(drop / f".{name}", list(cases))
    (drop / f".{name}").replace(drop / name)
    result = ingest_department(world.settings, world.topology, dept)
    assert result.status == "committed", result.error
    return result


def _load_file(world: World, *cases) -> dict[str, int]:  # type: ignore[no-untyped-def]
    folder = world.tmp / f"cases-{len(list(world.tmp.glob('cases-*')))}"
    folder.mkdir()
    write_records(folder / "cases.xml", list(cases))
    loader = Loader(world.settings)
    try:
        return dict(loader.load([folder]).totals()["case"])
    finally:
        loader.close()


def _last_entry(world: World) -> QuarantineEntry:
    return world.query(select(QuarantineEntry).order_by(QuarantineEntry.id.desc()).limit(1))[0][0]


def _stored(world: World) -> CaseRow:
    return world.query(select(CaseRow))[0][0]


def _open(world: World, *, decided: bool = False, **over):  # type: ignore[no-untyped-def]
    """An accepted case (no serial: the hub assigns one); with its 办结 when ``decided``."""
    events = [
        CaseEvent(state=CaseState.RECEIVED, at=at(2)),
        CaseEvent(state=CaseState.ACCEPTED, at=at(2, 10)),
    ]
    extra: dict[str, object] = {"decided_at": None, "delivered_at": None}
    if decided:
        events.append(CaseEvent(state=CaseState.DONE_APPROVED, at=at(5)))
        extra = {"decided_at": at(5), "delivered_at": None}
    return make_case(events=events, **{"serial": None, **extra, **over})


@pytest.fixture
def two(hub: Settings, tmp_path: Path) -> World:
    return two_departments(hub, tmp_path)


def test_another_department_cannot_change_a_stored_case(two: World) -> None:
    assert _ingest(two, DEPT, _open(two)).added == 1
    before = _stored(two)

    intruder = _open(two, decided=True)
    intruder = intruder.model_copy(
        update={"applicant": intruder.applicant.model_copy(update={"name": "冒名者"})}
    )
    result = _ingest(two, OTHER, intruder)
    assert (result.changed, result.quarantined) == (0, 1)
    assert result.rules == {"case.owner.mismatch": 1}
    entry = _last_entry(two)
    assert entry.rule == "case.owner.mismatch"
    assert f"department {DEPT}" in entry.message and f"department {OTHER}" in entry.message
    after = _stored(two)
    assert (after.applicant_name, after.current_state) == (before.applicant_name, "3")
    assert two.count(CaseEventRow) == 2

    # The owner's own next delivery is accepted.
    own = _ingest(two, DEPT, _open(two, decided=True))
    assert (own.changed, own.quarantined) == (1, 0)
    assert _stored(two).current_state == CaseState.DONE_APPROVED.value


def test_a_case_loaded_from_a_file_is_no_department_s(two: World) -> None:
    """File loads name no department: a department's delivery cannot take their cases
    over, and a file load cannot change a department's case."""
    assert _load_file(two, _open(two))["added"] == 1
    result = _ingest(two, OTHER, _open(two, decided=True))
    assert result.rules == {"case.owner.mismatch": 1}
    assert "loaded from a file" in _last_entry(two).message
    # The operator's next file load of it is accepted.
    assert _load_file(two, _open(two, decided=True))["changed"] == 1

    owned = _open(two, dept_case_no="D-1")
    assert _ingest(two, DEPT, owned).added == 1
    totals = _load_file(two, _open(two, decided=True, dept_case_no="D-1"))
    assert (totals.get("changed", 0), totals["quarantined"]) == (0, 1)
    assert "this is a file load" in _last_entry(two).message


def test_a_case_stored_by_a_replay_belongs_to_the_department_that_delivered_it(
    two: World,
) -> None:
    draft = make_item(status=ReviewStatus.REVIEWED)
    two.load_items([draft])
    assert _ingest(two, DEPT, _open(two)).rules == {"case.item.unpublished": 1}
    two.load_items([draft.model_copy(update={"status": ReviewStatus.PUBLISHED})])
    summary = replay_ids(two.settings, [_last_entry(two).id])
    assert [o.outcome for o in summary.outcomes] == ["added"]

    assert _ingest(two, OTHER, _open(two, decided=True)).rules == {"case.owner.mismatch": 1}
    assert _ingest(two, DEPT, _open(two, decided=True)).changed == 1


def test_department_of_source() -> None:
    from tongyuan.libraries.case_owners import department_of_source

    assert department_of_source(f"adapter:dept:{DEPT}:cases") == DEPT
    assert department_of_source(f"dept:{DEPT}:cases/cases") == DEPT
    for source in ("file:cases.xml", "replay", "adapter:sql:dept", "cases/cases.xml", None):
        assert department_of_source(source) is None


@pytest.mark.parametrize("serial", [False, True])
def test_a_changed_impl_code_is_quarantined(world: World, serial: bool) -> None:
    """The serial was made from the first 实施编码: a delivery with another one, with or
    without the serial, would leave a stored serial that no longer matches."""
    other = make_item(impl_code=make_impl_code(DEPT, "4", "440107008002"),
                      basic_code="440107008002")  # fmt: skip
    world.load_items([other])
    assert _ingest(world, DEPT, _open(world)).added == 1
    stored = _stored(world)
    moved = _open(world, impl_code=other.impl_code, serial=stored.serial if serial else None)
    result = _ingest(world, DEPT, moved)
    assert (result.changed, result.quarantined) == (0, 1)
    assert result.rules == {"case.serial.mismatch": 1}
    if not serial:
        message = _last_entry(world).message
        assert stored.impl_code in message and other.impl_code in message
    assert _stored(world).impl_code == stored.impl_code


@pytest.mark.parametrize("cancel", ["status", "tombstone"])
def test_a_stored_case_takes_its_decision_after_its_item_is_cancelled(
    world: World, cancel: str
) -> None:
    assert _ingest(world, DEPT, _open(world, promised_limit_days=5)).added == 1
    item = make_item()
    if cancel == "status":
        world.load_items([item.model_copy(update={"status": ReviewStatus.CANCELLED})])
    else:
        engine = make_engine(world.settings.database_url)
        try:
            with make_session_factory(engine).begin() as session:
                batch = open_batch(session, "sync.items", "test")
                assert cancel_item(session, batch.id, item.impl_code, source="test",
                                   now=datetime.now(UTC))  # fmt: skip
                close_batch(session, batch, read=1, accepted=1, quarantined=0, unchanged=0,
                            status="committed", settings=world.settings)  # fmt: skip
        finally:
            engine.dispose()

    result = _ingest(world, DEPT, _open(world, decided=True, promised_limit_days=5))
    assert (result.changed, result.quarantined) == (1, 0), result.rules
    assert _stored(world).current_state == CaseState.DONE_APPROVED.value
    assert world.query(select(CaseTimeliness.overdue))[0][0] is False

    # A new case under the cancelled item is still refused.
    fresh = _ingest(world, DEPT, _open(world, dept_case_no="NEW-1"))
    assert set(fresh.rules) == {
        "case.item.unpublished" if cancel == "status" else "case.item.unknown"
    }
    # The latest published version still bounds the promised limit of the stored case.
    too_long = _open(world, decided=True, promised_limit_days=item.statutory_limit_days + 1)
    assert _ingest(world, DEPT, too_long).rules == {"case.time_limit": 1}


def _mixed_replay(world: World) -> str:
    """One replay storing a case of each department, their entries holding department rows.

    Both deliveries are quarantined (their item is not published yet), then replayed
    together (as ``quarantine replay --all`` does). The payloads are then made what an
    sql/http department's entry holds, its own row: nothing in them names the case.
    Returns the replay batch's id.
    """
    draft = make_item(status=ReviewStatus.REVIEWED)
    world.load_items([draft])
    assert _ingest(world, DEPT, _open(world)).rules == {"case.item.unpublished": 1}
    mine = _last_entry(world).id
    assert _ingest(world, OTHER, _open(world, dept_case_no="B-1")).rules == {
        "case.item.unpublished": 1
    }
    theirs = _last_entry(world).id
    world.load_items([draft.model_copy(update={"status": ReviewStatus.PUBLISHED})])
    summary = replay_ids(world.settings, [mine, theirs])
    assert [o.outcome for o in summary.outcomes] == ["added", "added"]
    assert summary.batch_id is not None
    engine = make_engine(world.settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            session.execute(update(QuarantineEntry).values(payload_masked={"SJBH": "x", "ZT": "3"}))
    finally:
        engine.dispose()
    return summary.batch_id


def _edit_batch(world: World, batch_id: str, **values: object) -> None:
    engine = make_engine(world.settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            session.execute(update(Batch).where(Batch.id == batch_id).values(**values))
    finally:
        engine.dispose()


def test_a_replay_of_two_departments_rows_keeps_each_case_s_owner(two: World) -> None:
    """The reviewer's case: one replay stores cases of two departments from their own rows.
    Each case stays its department's: the owner's deliveries are accepted, the other
    department's and a file load's refused."""
    replay = _mixed_replay(two)
    meta, content_hash = two.query(
        select(Batch.meta, Batch.content_hash).where(Batch.id == replay)
    )[0]
    keys = two.query(select(CaseRow.source_system, CaseRow.dept_case_no))
    mine = next((system, number) for system, number in keys if number != "B-1")
    theirs = next((system, number) for system, number in keys if number == "B-1")
    assert meta["case_owners"] == {
        DEPT: {mine[0]: [mine[1]]},
        OTHER: {theirs[0]: [theirs[1]]},
    }
    assert content_hash is not None

    refused = _ingest(two, OTHER, _open(two, decided=True))
    assert refused.rules == {"case.owner.mismatch": 1}
    assert f"department {DEPT}" in _last_entry(two).message
    totals = _load_file(two, _open(two, decided=True))
    assert (totals.get("changed", 0), totals["quarantined"]) == (0, 1)
    assert "this is a file load" in _last_entry(two).message
    own = _ingest(two, DEPT, _open(two, decided=True))
    assert (own.changed, own.quarantined) == (1, 0), own.rules

    assert _ingest(two, DEPT, _open(two, decided=True, dept_case_no="B-1")).rules == {
        "case.owner.mismatch": 1
    }
    theirs = _ingest(two, OTHER, _open(two, decided=True, dept_case_no="B-1"))
    assert (theirs.changed, theirs.quarantined) == (1, 0), theirs.rules


def test_the_owners_a_replay_recorded_are_read_once_per_batch(two: World) -> None:
    replay = _mixed_replay(two)
    engine = make_engine(two.settings.database_url)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    try:
        with make_session_factory(engine)() as session:
            cases = [find_case(session, r.source_system, r.dept_case_no)
                     for r in session.scalars(select(CaseRow)).all()]  # fmt: skip
            events = {c.id: case_events(session, c.id) for c in cases if c is not None}
            event.listen(engine, "before_cursor_execute", seen)
            owners = {c.dept_case_no: case_owner(session, c, events[c.id]) for c in cases if c}
            event.remove(engine, "before_cursor_execute", seen)
    finally:
        engine.dispose()
    assert {k: sorted(map(str, o.allowed)) for k, o in owners.items()} == {
        "B-1": [OTHER],
        _stored(two).dept_case_no: [DEPT],
    }
    assert all(events[c.id][0].batch_id == replay for c in cases if c)
    assert len(statements) == 1, statements  # the replay batch, once for both cases
    assert "FROM batches" in statements[0] and "quarantine" not in statements[0].split("FROM")[1]


def _ledger_problems(world: World) -> list[tuple[str, str | None, str]]:
    """What ``ledger verify`` says about batch rows (``_mixed_replay`` edits the entries'
    payloads, which verify rightly reports as altered quarantine rows)."""
    engine = make_engine(world.settings.database_url)
    try:
        problems = verify_ledger(engine).problems
        return [(p.code, p.batch_id, p.message) for p in problems if p.code.startswith("batch.")]
    finally:
        engine.dispose()


def _assert_owners_refused_and_reported(world: World, replay: str) -> None:
    """Every delivery of the replay's cases is refused, and ``ledger verify`` names the
    replay batch and its owner record."""
    for dept in (DEPT, OTHER):
        assert _ingest(world, dept, _open(world, decided=True)).rules == {"case.owner.mismatch": 1}
        assert "was altered" in _last_entry(world).message
        assert _ingest(world, dept, _open(world, decided=True, dept_case_no="B-1")).rules == {
            "case.owner.mismatch": 1
        }
    assert _load_file(world, _open(world, decided=True))["quarantined"] == 1
    problems = _ledger_problems(world)
    assert [(code, batch) for code, batch, _ in problems] == [("batch.altered", replay)]
    assert "meta.case_owners" in problems[0][2]


def test_an_altered_record_of_a_replay_s_owners_refuses_every_delivery(two: World) -> None:
    replay = _mixed_replay(two)
    assert _ledger_problems(two) == []
    meta = two.query(select(Batch.meta).where(Batch.id == replay))[0][0]
    owners = meta["case_owners"]
    owners[OTHER], owners[DEPT] = owners[DEPT], owners[OTHER]  # hand the cases over
    _edit_batch(two, replay, meta={**meta, "case_owners": owners})
    _assert_owners_refused_and_reported(two, replay)


def test_a_removed_record_of_a_replay_s_owners_refuses_every_delivery(two: World) -> None:
    """Without the record, its content hash still says the replay made one: the cases are
    not handed to the legacy fallback (which would let either department change both)."""
    replay = _mixed_replay(two)
    meta = two.query(select(Batch.meta).where(Batch.id == replay))[0][0]
    _edit_batch(two, replay, meta={k: v for k, v in meta.items() if k != "case_owners"})
    _assert_owners_refused_and_reported(two, replay)


def test_a_record_rehashed_into_the_batch_is_reported_against_the_ledger(two: World) -> None:
    """Owners handed over and the batch's content hash made to match them: the ledger
    entry still holds the replay's own hash, so verify names the record as well."""
    replay = _mixed_replay(two)
    meta = two.query(select(Batch.meta).where(Batch.id == replay))[0][0]
    owners = meta["case_owners"]
    owners[OTHER], owners[DEPT] = owners[DEPT], owners[OTHER]
    _edit_batch(
        two,
        replay,
        meta={**meta, "case_owners": owners},
        content_hash=ReplayedOwners.digest(owners),
    )
    problems = _ledger_problems(two)
    assert [(code, batch) for code, batch, _ in problems] == [("batch.altered", replay)]
    assert "content_hash" in problems[0][2] and "meta.case_owners" in problems[0][2]


def test_a_replay_from_before_owners_were_recorded_admits_only_its_departments(
    two: World,
) -> None:
    """Without the record, a case no entry names may be any of the departments whose rows
    that replay stored: their deliveries are accepted (the real owner is never locked
    out), a file load's is not."""
    replay = _mixed_replay(two)
    _edit_batch(two, replay, meta={"entries": 2}, content_hash=None)

    totals = _load_file(two, _open(two, decided=True))
    assert (totals.get("changed", 0), totals["quarantined"]) == (0, 1)
    message = _last_entry(two).message
    assert "did not record whose case" in message
    assert f"department {DEPT}" in message and f"department {OTHER}" in message
    own = _ingest(two, DEPT, _open(two, decided=True))
    assert (own.changed, own.quarantined) == (1, 0), own.rules
