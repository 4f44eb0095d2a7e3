"""verify_ledger: intact after loads; every kind of alteration found and named."""

from __future__ import annotations

import re

from ledger_world import write_drop  # at module level: at run time 'conftest' may be another's
from sqlalchemy import Engine, select
from std_factories import PERSON
from tamper import entry_count, run_sql, run_sql_without_foreign_keys, scalar

from tongyuan.config import Settings
from tongyuan.db import make_session_factory
from tongyuan.ledger import LedgerVerification, verify_ledger
from tongyuan.ledger.digests import COVERED
from tongyuan.libraries.base import utcnow
from tongyuan.libraries.batches import Batch, close_batch, open_batch, record_failed_batch
from tongyuan.libraries.ledger import LedgerEntry, LedgerRecord
from tongyuan.loading import Loader

# The personal ID in the test data; a hex batch id may hold 18 digits in a row, so a
# pattern would not do.
CLEAR_ID = re.compile(re.escape(PERSON))


def _verify(engine: Engine) -> LedgerVerification:
    result = verify_ledger(engine)
    for problem in result.problems:  # never a personal ID in clear, whatever went wrong
        assert not CLEAR_ID.search(problem.message), problem.message
    return result


def _codes(result: LedgerVerification) -> list[str]:
    return [p.code for p in result.problems]


def test_loads_leave_an_intact_chain_covering_every_row(loaded: Loader, ledger_engine: Engine):
    result = _verify(ledger_engine)
    assert result.ok, result.problems
    with make_session_factory(ledger_engine)() as session:
        batches = session.scalars(select(Batch).where(Batch.status != "running")).all()
        entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq)).all()
        kinds = set(session.scalars(select(LedgerRecord.kind)))
    assert [e.seq for e in entries] == list(range(1, len(batches) + 1))
    assert {e.batch_id for e in entries} == {b.id for b in batches}
    assert {"item_version", "case", "case_event", "material", "license", "quarantine"} <= kinds
    # The second load closed the first item version: its new valid_to is on record too.
    assert scalar(ledger_engine, "SELECT count(*) FROM item_versions") == 2
    assert result.rows >= 2 + 1 + 4 + 1 + 1 + 1
    assert result.records > result.rows  # the first item version is recorded twice


def test_altered_case_is_named_by_table_and_key(loaded: Loader, ledger_engine: Engine):
    case_id = scalar(ledger_engine, "SELECT min(id) FROM cases")
    run_sql(ledger_engine, "UPDATE cases SET applicant_name = '李四' WHERE id = :i", i=case_id)
    result = _verify(ledger_engine)
    assert not result.ok
    first = result.first
    assert first is not None and first.code == "row.altered"
    assert (first.table, first.key) == ("cases", str(case_id))
    assert f"cases row {case_id} was altered" in first.message


def test_reopened_item_version_is_found(loaded: Loader, ledger_engine: Engine):
    """Making the old catalogue entry current again touches two versions: both are named."""
    run_sql(ledger_engine, "UPDATE item_versions SET valid_to = valid_from WHERE version_no = 2")
    run_sql(ledger_engine, "UPDATE item_versions SET valid_to = NULL WHERE version_no = 1")
    result = _verify(ledger_engine)
    assert [(p.code, p.table) for p in result.problems] == [("row.altered", "item_versions")] * 2


def test_altered_event_material_and_license_rows_are_each_found(
    loaded: Loader, ledger_engine: Engine
):
    run_sql(ledger_engine, "UPDATE case_events SET note = 'x' WHERE seq = 2")
    run_sql(ledger_engine, "UPDATE materials SET size = size + 1")
    run_sql(ledger_engine, "UPDATE licenses SET status = 'revoked'")
    result = _verify(ledger_engine)
    assert {(p.code, p.table) for p in result.problems} == {
        ("row.altered", "case_events"),
        ("row.altered", "materials"),
        ("row.altered", "licenses"),
    }


def test_workflow_columns_may_change_outside_batches(loaded: Loader, ledger_engine: Engine):
    run_sql(ledger_engine, "UPDATE licenses SET indication = 'PASSED'")
    run_sql(ledger_engine, "UPDATE quarantine SET status = 'discarded', replay_count = 2")
    assert _verify(ledger_engine).ok


def test_deleted_row_is_found(loaded: Loader, ledger_engine: Engine):
    run_sql(ledger_engine, "DELETE FROM licenses")
    result = _verify(ledger_engine)
    assert _codes(result) == ["row.missing"]
    assert result.problems[0].table == "licenses"


def test_row_written_outside_a_batch_is_found(loaded: Loader, ledger_engine: Engine):
    with make_session_factory(ledger_engine).begin() as session:
        batch = open_batch(session, "manual", "psql")  # never closed
        batch_id = batch.id
    run_sql(ledger_engine, "UPDATE materials SET batch_id = :b", b=batch_id)
    result = _verify(ledger_engine)
    assert _codes(result) == ["row.altered"]  # the row no longer matches its record
    run_sql(ledger_engine, "DELETE FROM ledger_records WHERE kind = 'material'")
    result = _verify(ledger_engine)
    assert "row.unrecorded" in _codes(result)


def test_altered_entry_counts_are_found(loaded: Loader, ledger_engine: Engine):
    run_sql(ledger_engine, "UPDATE ledger_entries SET accepted_count = 9 WHERE seq = 2")
    result = _verify(ledger_engine)
    first = result.first
    assert first is not None and (first.code, first.seq) == ("entry.hash", 2)
    assert "ledger entry seq 2" in first.message
    assert "batch.altered" in _codes(result)  # the batch row still says otherwise


def test_altered_batch_row_is_found(loaded: Loader, ledger_engine: Engine):
    run_sql(ledger_engine, "UPDATE batches SET quarantined_count = 0 WHERE quarantined_count > 0")
    result = _verify(ledger_engine)
    assert _codes(result) == ["batch.altered"]
    assert "quarantined_count" in result.problems[0].message


def test_batch_row_marked_running_again_is_still_compared(loaded: Loader, ledger_engine: Engine):
    """'running' is what open batches say; a closed batch re-marked so must not escape."""
    last = entry_count(ledger_engine)
    batch_id = scalar(ledger_engine, "SELECT batch_id FROM ledger_entries WHERE seq = :s", s=last)
    run_sql(ledger_engine, "UPDATE batches SET status = 'running', read_count = 999999, "
            "source = 'forged', content_hash = NULL WHERE id = :b", b=batch_id)  # fmt: skip
    result = _verify(ledger_engine)
    assert _codes(result) == ["batch.altered"]
    first = result.problems[0]
    assert (first.seq, first.batch_id) == (last, batch_id)
    assert "status" in first.message and "read_count" in first.message


def test_deleted_batch_row_of_an_entry_is_found(hub_settings, ledger_engine: Engine):
    with make_session_factory(ledger_engine).begin() as session:
        for name, read in (("cases/x.xml", 3), ("cases/y.xml", 1)):
            record_failed_batch(
                session, "load.failed", name, error="unreadable", read=read, settings=hub_settings
            )
    batch_id = scalar(ledger_engine, "SELECT batch_id FROM ledger_entries WHERE seq = 1")
    run_sql_without_foreign_keys(ledger_engine, "DELETE FROM batches WHERE id = :b", b=batch_id)
    result = _verify(ledger_engine)
    assert _codes(result) == ["batch.missing"]
    assert (result.problems[0].seq, result.problems[0].batch_id) == (1, batch_id)


def test_deleted_entry_is_found(loaded: Loader, ledger_engine: Engine):
    run_sql(ledger_engine, "DELETE FROM ledger_entries WHERE seq = 2")
    result = _verify(ledger_engine)
    first = result.first
    assert first is not None and (first.code, first.seq) == ("entry.gap", 3)
    assert "entries 2..2 are missing" in first.message
    assert {"entry.prev_hash", "batch.no_entry", "records.no_entry"} <= set(_codes(result))


def test_deleted_last_entry_is_found_through_the_head(loaded: Loader, ledger_engine: Engine):
    last = entry_count(ledger_engine)
    run_sql(ledger_engine, "DELETE FROM ledger_records WHERE batch_id = "
            "(SELECT batch_id FROM ledger_entries WHERE seq = :s)", s=last)  # fmt: skip
    run_sql(ledger_engine, "DELETE FROM ledger_entries WHERE seq = :s", s=last)
    result = _verify(ledger_engine)
    assert result.first is not None and result.first.code == "head"


def test_reordered_entries_are_found(loaded: Loader, ledger_engine: Engine):
    run_sql(ledger_engine, "UPDATE ledger_entries SET seq = -1 WHERE seq = 2")
    run_sql(ledger_engine, "UPDATE ledger_entries SET seq = 2 WHERE seq = 3")
    run_sql(ledger_engine, "UPDATE ledger_entries SET seq = 3 WHERE seq = -1")
    result = _verify(ledger_engine)
    first = result.first
    assert first is not None and first.seq == 2
    assert first.code in ("entry.prev_hash", "entry.hash")


def test_altered_ledger_record_is_found(loaded: Loader, ledger_engine: Engine):
    batch_id = scalar(ledger_engine, "SELECT batch_id FROM ledger_records WHERE kind = 'license'")
    run_sql(
        ledger_engine, "UPDATE ledger_records SET digest = :d WHERE kind = 'license'", d="0" * 64
    )
    result = _verify(ledger_engine)
    first = result.first
    assert first is not None and (first.code, first.batch_id) == ("records.altered", batch_id)
    assert ("row.altered", "licenses") in {(p.code, p.table) for p in result.problems}


def test_failed_batches_are_chained(hub_settings, ledger_engine: Engine):
    with make_session_factory(ledger_engine).begin() as session:
        record_failed_batch(
            session, "load.failed", "cases/x.xml", error="unreadable", read=3, settings=hub_settings
        )
    result = _verify(ledger_engine)
    assert result.ok and result.entries == 1
    assert scalar(ledger_engine, "SELECT status FROM ledger_entries") == "failed"


def test_a_failed_batch_stores_its_error_with_ids_masked(hub_settings, ledger_engine: Engine):
    """The error of a failed batch is a failure's own text (a source's reply, a driver's
    message): an ID in it was stored in clear in batches.meta, which commands and the
    report show; the chain over the masked text still verifies."""
    with make_session_factory(ledger_engine).begin() as session:
        batch = record_failed_batch(
            session, "pull.failed", "dept/cases", settings=hub_settings,
            error=f"HTTP 500: applicant {PERSON} not found",
        )  # fmt: skip
        batch_id = batch.id
    meta = scalar(ledger_engine, "SELECT meta FROM batches WHERE id = :b", b=batch_id)
    assert PERSON not in str(meta) and "HTTP 500: applicant" in str(meta)
    assert _verify(ledger_engine).ok


def test_every_covered_table_exists_and_has_a_batch_id() -> None:
    for spec in COVERED:
        assert "batch_id" in spec.table.c, spec.table_name


def test_signer_fingerprint_is_chained(hub_settings: Settings, ledger_engine: Engine):
    fingerprint = "ab" * 32
    with make_session_factory(ledger_engine).begin() as session:
        batch = open_batch(session, "ingest", "sz-market", meta={"signer_fingerprint": fingerprint})
        close_batch(session, batch, read=0, accepted=0, quarantined=0, unchanged=0,
                    status="committed", settings=hub_settings)  # fmt: skip
    assert scalar(ledger_engine, "SELECT signer_fingerprint FROM ledger_entries") == fingerprint
    assert _verify(ledger_engine).ok
    run_sql(ledger_engine, "UPDATE batches SET meta = :m", m='{"signer_fingerprint": "cd"}')
    result = _verify(ledger_engine)
    assert _codes(result) == ["batch.altered"]
    assert "meta.signer_fingerprint" in result.problems[0].message


def test_records_written_in_chunks_hash_the_same(
    hub_settings, ledger_engine: Engine, tmp_path, monkeypatch
):
    """Big batches are recorded chunk by chunk; the boundaries must not change anything."""
    import tongyuan.ledger.append as append_module

    monkeypatch.setattr(append_module, "_CHUNK", 2)
    drop = write_drop(tmp_path / "drop")
    hub = Loader(hub_settings)
    try:
        assert not hub.load([drop], relative_to=drop).failed
    finally:
        hub.close()
    result = _verify(ledger_engine)
    assert result.ok, result.problems
    assert scalar(ledger_engine, "SELECT max(record_count) FROM ledger_entries") >= 5


def test_quarantine_replay_history_is_covered(
    loaded: Loader, hub_settings: Settings, ledger_engine: Engine
):
    """A discard's history row is recorded by its batch; a forged one attributed to a load
    batch, or an edited reason, is found (quarantine_replays were covered by nothing)."""
    from tongyuan.quarantine.replay import discard

    entry_id = scalar(ledger_engine, "SELECT min(id) FROM quarantine")
    summary = discard(hub_settings, [entry_id], reason="来源系统已撤回")
    assert summary.batch_id is not None
    assert verify_ledger(ledger_engine).ok
    run_sql(ledger_engine, "UPDATE quarantine_replays SET message = '经科长批准作废'")
    edited = verify_ledger(ledger_engine)
    assert [(p.code, p.table) for p in edited.problems] == [("row.altered", "quarantine_replays")]
    load_batch = scalar(ledger_engine, "SELECT batch_id FROM quarantine WHERE id = :i", i=entry_id)
    run_sql(
        ledger_engine,
        "INSERT INTO quarantine_replays (batch_id, entry_id, outcome, rules, message, created_at)"
        " VALUES (:b, :e, 'discarded', '[]', '伪造', :t)",
        b=load_batch, e=entry_id, t=utcnow(),
    )  # fmt: skip
    forged = verify_ledger(ledger_engine)
    assert ("row.unrecorded", "quarantine_replays") in [(p.code, p.table) for p in forged.problems]
