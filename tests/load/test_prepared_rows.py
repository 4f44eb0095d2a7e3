"""Cases prepared in worker processes: the same library, quarantine and ledger as here."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import date

import pytest
from bulk_world import case_drop, library_snapshot, numbered_cases
from sqlalchemy import select
from std_factories import IMPL, make_case

import standards.formats.segments as segments_mod
import tongyuan.validating as validating
from standards.formats import write_records
from standards.identifiers.case_serial import format_case_serial
from tongyuan.db import upgrade
from tongyuan.ledger import verify_ledger
from tongyuan.ledger.digests import BY_KIND
from tongyuan.libraries.base import utcnow
from tongyuan.libraries.ledger import LedgerRecord
from tongyuan.loading import Loader
from tongyuan.loading_rows import CasePreparer, PreparedCase, PrepContext


def _bigger_drop(root):
    """The shared drop plus enough cases to span several segments, a key repeated across
    segments, and cases with and without a promised limit."""
    drop = case_drop(root)
    cases = numbered_cases(79, lambda n: (n % 7) or None)
    cases.append(make_case(dept_case_no="NS-7", serial=None))  # repeats a key far back
    write_records(drop / "cases" / "cases.xml", cases)
    return drop


def _load(settings, drop, workers):
    loader = Loader(settings, workers=workers)
    try:
        summary = loader.load([drop], relative_to=drop)
        return summary, library_snapshot(loader), loader.engine.url
    finally:
        loader.close()


def test_workers_write_what_one_process_writes(settings, tmp_path, monkeypatch):
    drop = _bigger_drop(tmp_path / "drop")
    one = dataclasses.replace(settings, database_url=f"sqlite:///{tmp_path / 'one.db'}")
    many = dataclasses.replace(settings, database_url=f"sqlite:///{tmp_path / 'many.db'}")
    upgrade(one.database_url)
    upgrade(many.database_url)
    alone, here, _ = _load(one, drop, workers=0)

    # Segments of a few records each, so every worker path runs on a small file.
    monkeypatch.setattr(validating, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(validating, "LOAD_SEGMENT_BYTES", 8 << 10)
    monkeypatch.setattr(segments_mod, "MIN_SEGMENT_BYTES", 8 << 10)
    segments = validating.plan_load_segments(drop / "cases" / "cases.xml", 2)
    assert segments is not None and len(segments) >= 4
    parallel, there, _ = _load(many, drop, workers=2)

    assert here == there
    assert alone.totals()["case"] == parallel.totals()["case"]
    totals = parallel.totals()["case"]
    assert (totals["read"], totals["quarantined"]) == (82, 2)
    assert there["quarantine"] == [(81, "case.timestamps"), (82, "case.key.duplicate")]
    for hub in (one, many):
        from tongyuan.db import make_engine

        engine = make_engine(hub.database_url)
        try:
            assert verify_ledger(engine).ok
        finally:
            engine.dispose()


def test_digests_written_with_the_rows_are_the_digests_of_the_stored_rows(settings, tmp_path):
    drop = _bigger_drop(tmp_path / "drop")
    hub = dataclasses.replace(settings, database_url=f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(hub.database_url)
    loader = Loader(hub, workers=0)
    try:
        loader.load([drop], relative_to=drop)
        with loader.sessions() as session:
            for kind in ("case", "case_event"):
                spec = BY_KIND[kind]
                recorded = dict(
                    session.execute(
                        select(LedgerRecord.key, LedgerRecord.digest).where(
                            LedgerRecord.kind == kind
                        )
                    ).all()
                )
                stored = {
                    spec.key_of(row): spec.digest_of(row)
                    for row in session.execute(spec.select()).mappings()
                }
                assert stored and recorded == stored
    finally:
        loader.close()


def _context(settings) -> PrepContext:
    return PrepContext(
        batch_id="b-1",
        updated_at=utcnow(),
        database_url="sqlite://",
        pii_key=settings.pii_key(),
        today=date(2026, 3, 20),
        digests=True,
    )


def test_a_prepared_case_travels_whole_and_keeps_no_key(settings):
    context = _context(settings)
    case = make_case(promised_limit_days=3)
    raw = {"dept_case_no": case.dept_case_no, "nested": {"list": ["一", "二"]}}
    from standards.records import SourceLocation

    prepared = CasePreparer(context).prepare(case, raw, SourceLocation("f.xml", 4, 9), 1, ())
    back = pickle.loads(pickle.dumps(prepared))
    assert isinstance(back, PreparedCase)
    assert back.raw == raw and back.location == prepared.location
    for name in ("case_row", "event_rows", "case_digest", "event_digests", "timeliness"):
        assert getattr(back, name) == getattr(prepared, name)
    assert back.timeliness_flags == prepared.timeliness_flags and back.history is None
    assert settings.pii_key() not in pickle.dumps(prepared)
    assert settings.pii_key().hex() not in repr(context)
    assert case.applicant.id_number not in repr(back.case_row)


@pytest.mark.parametrize("limit", [None, 2])
def test_history_travels_only_when_the_item_decides_the_limit(settings, limit):
    context = PrepContext("b", utcnow(), "sqlite://", settings.pii_key(), date(2026, 3, 20), False)
    from standards.records import SourceLocation

    prepared = CasePreparer(context).prepare(
        make_case(promised_limit_days=limit), {}, SourceLocation("f", 1), 0, ()
    )
    assert (prepared.history is None) == (limit is not None)
    assert (prepared.timeliness is None) == (limit is None)
    assert prepared.case_digest is None and prepared.event_digests is None


def test_a_serial_twice_in_one_chunk_sends_only_the_second_one_by_one(settings, tmp_path):
    from standards.records import SourceLocation
    from tongyuan.libraries.batches import open_batch
    from tongyuan.libraries.ledger import prerecorded
    from tongyuan.loading_bulk import BulkCaseWriter
    from tongyuan.storing import StoreCounts

    drop = case_drop(tmp_path / "drop")
    hub = dataclasses.replace(settings, database_url=f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(hub.database_url)
    loader = Loader(hub, workers=0)
    try:
        loader.load([drop / "items"], relative_to=drop)
        with loader.sessions.begin() as session:
            batch = open_batch(session, "load", "chunk-test")
            context = PrepContext(
                batch.id, utcnow(), hub.database_url, hub.pii_key(), date(2026, 3, 20), True
            )
            counts = StoreCounts()
            writer = BulkCaseWriter(
                loader.store, counts, context=context, source="t", now=utcnow(), base_dir=None
            )
            serial = format_case_serial(IMPL, date(2026, 3, 2), 5)
            cases = [
                make_case(dept_case_no="A"),
                make_case(dept_case_no="B"),  # A's serial again (no batch uniqueness here)
                make_case(dept_case_no="C", serial=serial),
            ]
            for n, case in enumerate(cases, 1):
                writer.add(
                    session, kind="case", location=SourceLocation("t.xml", n), raw={"n": n},
                    record=case, findings=[],
                )  # fmt: skip
            writer.finish(session)
            assert (counts.added, counts.quarantined) == (2, 1)
            assert dict(counts.rules) == {"case.serial.duplicate": 1}
            assert prerecorded(session, batch.id) == {"case": 2, "case_event": 8}
    finally:
        loader.close()


def test_a_segment_answer_comes_back_in_file_order_after_the_trip(settings):
    from standards.records import SourceLocation
    from tongyuan.loading_feed import WiredOutcomes

    context = _context(settings)
    preparer = CasePreparer(context)

    def prepared(n: int) -> PreparedCase:
        case = make_case(dept_case_no=f"NS-{n}", promised_limit_days=3)
        return preparer.prepare(case, {"n": n}, SourceLocation("f.xml", n, n), 0, ())

    # Bad records (raw, record, findings) first, between and last, and two in a row.
    outcomes = [("bad", 0), prepared(1), prepared(2), ("bad", 3), ("bad", 4), prepared(5)]
    outcomes.append(("bad", 6))
    back = pickle.loads(pickle.dumps(WiredOutcomes(outcomes)))
    assert len(back) == len(outcomes)
    got = list(back)
    for sent, came in zip(outcomes, got, strict=True):
        if isinstance(sent, PreparedCase):
            assert isinstance(came, PreparedCase)
            assert came.to_wire() == sent.to_wire() and came.raw == sent.raw
        else:
            assert came == sent
