"""Ingesting a department's case system: stored once, re-runs idle, events only appended."""

from __future__ import annotations

from pathlib import Path

from ingest_world import DEPT
from sqlalchemy import select
from std_factories import at, make_case, make_material

from standards.codes.enums import CaseState
from standards.records import CaseEvent
from tongyuan.ingest import ingest_department
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseEventRow, CaseRow
from tongyuan.libraries.quarantine import QuarantineEntry


def _open_case(no: str, **over):  # a case accepted, not yet decided
    events = [
        CaseEvent(state=CaseState.RECEIVED, at=at(2)),
        CaseEvent(state=CaseState.ACCEPTED, at=at(2, 10)),
    ]
    return make_case(dept_case_no=no, serial=None, events=events, decided_at=None,
                     delivered_at=None, **over)  # fmt: skip


def test_ingest_stores_cases_and_a_rerun_changes_nothing(world) -> None:
    world.deliver(
        "cases_001.xml", [make_case(serial=None), make_case(dept_case_no="NS-2", serial=None)]
    )
    first = ingest_department(world.settings, world.topology, DEPT)
    assert first.status == "committed", first.error
    assert (first.read, first.added, first.quarantined) == (2, 2, 0)
    assert len(first.batch_ids) == 2  # materials stream, cases stream
    assert world.count(CaseRow) == 2 and world.count(CaseEventRow) == 8
    assert world.count(CaseTimeliness) == 2
    assert not list(world.drop.glob("cases_*.xml"))  # acknowledged into done/
    assert (world.drop / "done" / "cases_001.xml").exists()

    again = ingest_department(world.settings, world.topology, DEPT)
    assert again.status == "committed" and again.read == 0
    assert world.count(CaseRow) == 2 and world.count(QuarantineEntry) == 0

    # The same file delivered again: every record unchanged, nothing written.
    world.deliver(
        "cases_002.xml", [make_case(serial=None), make_case(dept_case_no="NS-2", serial=None)]
    )
    third = ingest_department(world.settings, world.topology, DEPT)
    assert (third.read, third.unchanged, third.accepted) == (2, 2, 0)
    assert world.count(CaseEventRow) == 8


def test_events_are_appended_never_rewritten(world) -> None:
    world.deliver("cases_001.xml", [_open_case("NS-9")])
    assert ingest_department(world.settings, world.topology, DEPT).added == 1
    (first_batch,) = world.query(select(CaseEventRow.batch_id).where(CaseEventRow.seq == 1))

    longer = _open_case("NS-9").model_copy(
        update={
            "events": [*_open_case("NS-9").events, CaseEvent(state=CaseState.DONE_APPROVED,
                                                             at=at(5))],
            "decided_at": at(5),
        }
    )  # fmt: skip
    world.deliver("cases_002.xml", [longer])
    result = ingest_department(world.settings, world.topology, DEPT)
    assert result.changed == 1
    rows = world.query(select(CaseEventRow.seq, CaseEventRow.state, CaseEventRow.batch_id)
                       .order_by(CaseEventRow.seq))  # fmt: skip
    assert [(s, st) for s, st, _ in rows] == [(1, "1"), (2, "3"), (3, "11")]
    assert rows[0][2] == first_batch[0]  # the stored events kept their batch
    assert rows[2][2] == result.batch_ids[-1]

    # A history that disagrees with what is stored is quarantined under its own rule.
    rewritten = longer.model_copy(
        update={"events": [longer.events[0], CaseEvent(state=CaseState.ACCEPTED, at=at(3)),
                           longer.events[2]]}
    )  # fmt: skip
    rewritten = rewritten.model_copy(update={"accepted_at": at(3)})
    world.deliver("cases_003.xml", [rewritten])
    bad = ingest_department(world.settings, world.topology, DEPT)
    assert bad.quarantined == 1 and bad.rules == {"case.events.rewritten": 1}
    assert world.count(CaseEventRow) == 3
    batches = world.query(select(Batch.kind, Batch.status).where(Batch.id.in_(bad.batch_ids)))
    assert {k for k, _ in batches} == {"ingest.material", "ingest.case"}


def test_a_serial_given_by_the_department_is_never_allocated_again(world) -> None:
    given = make_case(dept_case_no="G-1")  # carries the hub-format serial …0001
    world.deliver("cases_001.xml", [given, make_case(serial=None, dept_case_no="G-2")])
    result = ingest_department(world.settings, world.topology, DEPT)
    assert (result.status, result.added) == ("committed", 2), result.error
    serials = [s for (s,) in world.query(select(CaseRow.serial).order_by(CaseRow.dept_case_no))]
    assert serials[0] == given.serial and serials[1] == given.serial[:-4] + "0002"


def test_a_dry_run_writes_and_acknowledges_nothing(world) -> None:
    world.deliver("cases_001.xml", [make_case(serial=None)])
    dry = ingest_department(world.settings, world.topology, DEPT, dry_run=True)
    assert (dry.status, dry.read, dry.added, dry.batch_ids) == ("dry-run", 1, 1, [])
    assert world.count(CaseRow) == 0 and world.count(Batch) == 1  # the item load's batch
    assert (world.drop / "cases_001.xml").exists()
    assert ingest_department(world.settings, world.topology, DEPT).added == 1


def test_a_dry_run_leaves_no_material_file_in_the_blob_store(world) -> None:
    """Rolled back, the batch takes the files it copied into the store with it."""
    material = make_material(world.drop, content="营业执照副本（演练）".encode())
    world.deliver("materials_001.xml", [material])
    world.deliver("cases_001.xml", [make_case(serial=None, material_ids=[material.material_id])])

    def blobs() -> list[Path]:
        return [p for p in world.settings.blobs_dir.rglob("*") if p.is_file()]

    dry = ingest_department(world.settings, world.topology, DEPT, dry_run=True)
    assert (dry.status, dry.added, dry.quarantined) == ("dry-run", 2, 0), dry.error
    assert blobs() == []
    real = ingest_department(world.settings, world.topology, DEPT)
    assert (real.status, real.added) == ("committed", 2), real.error
    assert [p.name for p in blobs()] == [material.sha256]


def test_a_dry_run_predicts_the_real_run(world) -> None:
    """The real run commits the materials before it reads the cases; the dry run must
    let its cases see the materials delivered with them too, or every case citing one
    would be a false case.material.missing."""
    cited = []
    for n in range(3):
        content = f"scan {n}".encode()
        (world.drop / "files").mkdir(exist_ok=True)
        (world.drop / "files" / f"m{n}.pdf").write_bytes(content)
        cited.append(
            make_material(world.drop, content=content).model_copy(
                update={"material_id": f"M-DR-{n}", "file": f"files/m{n}.pdf"}
            )
        )
    world.deliver("materials_001.xml", cited)
    world.deliver(
        "cases_001.xml",
        [
            make_case(dept_case_no=f"DR-{n}", serial=None, material_ids=[m.material_id])
            for n, m in enumerate(cited)
        ]
        + [make_case(dept_case_no="DR-X", serial=None, material_ids=["MAT-NEVER-DELIVERED"])],
    )
    dry = ingest_department(world.settings, world.topology, DEPT, dry_run=True)
    assert dry.status == "dry-run", dry.error
    real = ingest_department(world.settings, world.topology, DEPT)
    assert real.status == "committed", real.error
    assert dict(dry.rules) == dict(real.rules) == {"case.material.missing": 1}
    assert dry.counts == real.counts
    assert (real.materials_written, real.cases_written, real.quarantined) == (3, 3, 1)
