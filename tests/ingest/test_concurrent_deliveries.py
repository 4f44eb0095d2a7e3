"""Two departments delivering the same cases at the same time, on PostgreSQL.

The ingest lock is per department, so two departments' case systems may write the same
(来源系统, 办件编号) at once. The one whose transaction commits second must not fail whole:
its insert waits for the first transaction and is refused by the unique index, and the
case is then judged as if the first commit had been there all along (another
department's case: ``case.owner.mismatch``).

Deterministic: the first ingest is held open at its commit with its rows inserted, the
second runs in a thread until PostgreSQL shows it waiting for a lock, then the first
commits.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from ingest_world import DEPT, World
from pg_locks import wait_for_a_lock_wait
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from std_factories import at, make_case
from two_departments import OTHER, two_departments

from standards.codes.enums import CaseState
from standards.formats import write_records
from standards.identifiers.case_serial import format_case_serial
from standards.records import Case, CaseEvent
from tongyuan import storing
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.ingest import ingest_department
from tongyuan.ingest.engine import COUNT_NAMES, IngestResult
from tongyuan.libraries.batches import open_batch
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.cases import write_case as write_case_for_real
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.libraries.serials import DbSerialAllocator
from tongyuan.privacy import PiiProtector

POSTGRES_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def _cases(count: int, *, serials: bool) -> list[Case]:
    events = [
        CaseEvent(state=CaseState.RECEIVED, at=at(2)),
        CaseEvent(state=CaseState.ACCEPTED, at=at(2, 10)),
    ]
    out = []
    for n in range(count):
        base = make_case(events=events, decided_at=None, delivered_at=None,
                         dept_case_no=f"SHARED-{n:04d}")  # fmt: skip
        if not serials:
            base = base.model_copy(update={"serial": None})
        else:
            serial = format_case_serial(base.impl_code, date(2026, 3, 2), n + 1)
            base = base.model_copy(update={"serial": serial})
        out.append(base)
    return out


def _deliver(world: World, dept: str, cases: list[Case]) -> None:
    drop = world.settings.home / "drops" / dept
    write_records(drop / ".cases_1.xml", cases)
    (drop / ".cases_1.xml").replace(drop / "cases_1.xml")


def _race(world: World, first: str, second: str) -> tuple[IngestResult, IngestResult]:
    """``first`` holds its case transaction open at its commit while ``second`` runs."""
    held, release, second_done = threading.Event(), threading.Event(), threading.Event()
    results: dict[str, IngestResult] = {}
    errors: list[BaseException] = []
    pulls: list[str] = []

    def hold(stage: str) -> None:
        pulls.append(stage)
        if pulls.count("before_commit") == 2:  # materials, then cases: hold the cases
            held.set()
            assert release.wait(120), "the test never released the first ingest"

    def run(name: str, dept: str, checkpoint: Callable[[str], None] | None) -> None:
        try:
            results[name] = ingest_department(
                world.settings, world.topology, dept, checkpoint=checkpoint
            )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            held.set()
        finally:
            if checkpoint is None:
                second_done.set()

    one = threading.Thread(target=run, args=("first", first, hold))
    one.start()
    assert held.wait(120), "the first ingest never reached its commit"
    two = threading.Thread(target=run, args=("second", second, None))
    two.start()
    waiting = wait_for_a_lock_wait(world.settings.database_url, second_done)
    release.set()
    one.join(120)
    two.join(120)
    assert not errors, errors
    # The race this is about: the second insert waited for the first transaction.
    assert waiting is not None and waiting.startswith("INSERT INTO cases "), waiting
    return results["first"], results["second"]


def _adds_up(result: IngestResult) -> bool:
    counts = result.counts
    return counts["read"] == sum(counts[n] for n in COUNT_NAMES if n != "read")


@POSTGRES_ONLY
@pytest.mark.parametrize("serials", [False, True], ids=["hub-serials", "own-serials"])
def test_the_later_of_two_departments_delivering_the_same_cases_quarantines_them(
    hub: Settings, tmp_path: Path, serials: bool
) -> None:
    world = two_departments(hub, tmp_path)
    cases = _cases(5, serials=serials)
    _deliver(world, DEPT, cases)
    _deliver(world, OTHER, cases)

    first, second = _race(world, DEPT, OTHER)

    assert first.status == "committed", first.error
    assert (first.read, first.added) == (5, 5)
    assert second.status == "committed", (second.error, second.counts)
    assert (second.read, second.added, second.quarantined) == (5, 0, 5)
    assert second.rules == {"case.owner.mismatch": 5}
    assert _adds_up(first) and _adds_up(second)
    assert world.count(CaseRow) == 5
    assert world.count(QuarantineEntry, QuarantineEntry.rule == "case.owner.mismatch") == 5


def _ingest_refused(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    message: str,
    *,
    cases: int = 2,
    meanwhile: Callable[[int], None] = lambda attempt: None,
) -> tuple[IngestResult, list[int]]:
    """``cases`` cases ingested while every write of a case raises
    ``IntegrityError(message)``, ``meanwhile(n)`` run before the n-th write; the result
    and how many writes were tried."""
    tried: list[int] = []

    def write_case(*args: object, **kwargs: object) -> str:
        tried.append(len(tried) + 1)
        meanwhile(len(tried))
        raise IntegrityError("INSERT INTO cases …", {}, sqlite3.IntegrityError(message))

    monkeypatch.setattr(storing, "write_case", write_case)
    _deliver(world, DEPT, _cases(cases, serials=False))
    return ingest_department(world.settings, world.topology, DEPT), tried


def _store_elsewhere(settings: Settings, case: Case) -> None:
    """``case`` written and committed by another transaction (as another ingest would)."""
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            batch = open_batch(session, "load.file", "elsewhere")
            write_case_for_real(
                session, batch.id, case, protector=PiiProtector(settings.pii_key()),
                allocator=DbSerialAllocator(engine),
            )  # fmt: skip
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_write_a_unique_index_refuses_every_time_fails_the_batch(
    world: World, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """SQLite has one writer: a unique refusal there cannot be a race, it is a bug and
    fails the batch at once. PostgreSQL retries (a race is possible), and when no other
    transaction stored the key meanwhile the refusal fails the batch too: it was never
    quarantined with a story of another writer nobody saw."""
    result, tried = _ingest_refused(world, monkeypatch, "UNIQUE constraint failed: cases.serial")
    assert result.status == "failed"
    assert result.error is not None and "UNIQUE constraint failed: cases.serial" in result.error
    assert tried == ([1] if backend == "sqlite" else [1, 2, 3])
    assert world.count(QuarantineEntry) == 0 and world.count(CaseRow) == 0


@POSTGRES_ONLY
def test_a_write_refused_while_other_transactions_commit_its_key_is_quarantined_saying_so(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused on every attempt, and between them another transaction committed the case's
    key: that record alone is quarantined, the message saying what happened."""
    (case,) = _cases(1, serials=False)

    def meanwhile(attempt: int) -> None:
        if attempt == 2:
            _store_elsewhere(world.settings, case)

    result, tried = _ingest_refused(
        world, monkeypatch, "UNIQUE constraint failed: cases.source_system", cases=1,
        meanwhile=meanwhile,
    )  # fmt: skip
    assert tried == [1, 2, 3]
    assert result.status == "committed", result.error
    assert (result.read, result.quarantined) == (1, 1) and _adds_up(result)
    assert result.rules == {"library.conflict": 1}
    entry = world.query(select(QuarantineEntry).limit(1))[0][0]
    assert "refused the write on each of 3 attempts" in entry.message
    assert "other transactions committed rows holding its key" in entry.message
    assert "case SZ-SCJGJ/SHARED-0000" in entry.message
    assert world.count(CaseRow) == 1  # the other transaction's


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_integrity_error_other_than_a_unique_one_still_fails_the_batch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a unique index is retried: any other refusal is a bug and must show."""
    result, tried = _ingest_refused(world, monkeypatch, "NOT NULL constraint failed: cases.x")
    assert result.status == "failed" and tried == [1]
    assert result.error is not None and "NOT NULL" in result.error
