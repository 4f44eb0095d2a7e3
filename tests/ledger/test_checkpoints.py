"""Checkpoints: signed by the hub key, checked against the chain, forgeries found."""

from __future__ import annotations

import stat

import pytest
from ledger_world import item_batch
from sqlalchemy import Engine
from tamper import run_sql, scalar

from tongyuan.config import Settings
from tongyuan.db import make_session_factory
from tongyuan.ledger import verify_ledger, write_checkpoint
from tongyuan.ledger.append import ENV_CHECKPOINT_EVERY
from tongyuan.ledger.checkpoints import CheckpointRefused
from tongyuan.ledger.entries import compute_entry_hash
from tongyuan.ledger.hubkey import (
    HubKey,
    load_hub_key,
    private_key_path,
    public_key_path,
    sign_statement,
)
from tongyuan.libraries.ledger import LedgerEntry, LedgerHead


def _checkpoint(engine: Engine, settings: Settings) -> None:
    with make_session_factory(engine).begin() as session:
        write_checkpoint(session, settings)


def _hub_pem(settings: Settings) -> list[str]:
    return [public_key_path(settings).read_text(encoding="ascii")]


def test_checkpoint_is_signed_by_a_private_hub_key(hub_settings: Settings, ledger_engine: Engine):
    for name in ("一", "二", "三"):
        item_batch(ledger_engine, hub_settings, name)
    _checkpoint(ledger_engine, hub_settings)
    assert stat.S_IMODE(private_key_path(hub_settings).stat().st_mode) == 0o600
    # the first over the empty chain, written before the hub signed its first entry
    assert scalar(ledger_engine, "SELECT min(seq) FROM ledger_checkpoints") == 0
    assert scalar(ledger_engine, "SELECT max(seq) FROM ledger_checkpoints") == 3
    result = verify_ledger(ledger_engine, trusted_keys=_hub_pem(hub_settings))
    assert result.ok and result.checkpoints == 2 and result.unsigned_legacy_entries == 0


def test_forged_checkpoint_signature_is_found(hub_settings: Settings, ledger_engine: Engine):
    item_batch(ledger_engine, hub_settings, "一")
    _checkpoint(ledger_engine, hub_settings)
    signature = scalar(ledger_engine, "SELECT signature FROM ledger_checkpoints WHERE seq = 1")
    forged = ("A" if signature[0] != "A" else "B") + signature[1:]
    run_sql(ledger_engine, "UPDATE ledger_checkpoints SET signature = :s WHERE seq = 1", s=forged)
    result = verify_ledger(ledger_engine)
    assert [p.code for p in result.problems] == ["checkpoint.signature"]


def test_moved_checkpoint_no_longer_verifies(hub_settings: Settings, ledger_engine: Engine):
    item_batch(ledger_engine, hub_settings, "一")
    item_batch(ledger_engine, hub_settings, "二")
    _checkpoint(ledger_engine, hub_settings)
    hash_1 = scalar(ledger_engine, "SELECT entry_hash FROM ledger_entries WHERE seq = 1")
    run_sql(
        ledger_engine,
        "UPDATE ledger_checkpoints SET seq = 1, entry_hash = :h WHERE seq = 2",
        h=hash_1,
    )
    assert [p.code for p in verify_ledger(ledger_engine).problems] == ["checkpoint.signature"]


def test_checkpoint_signed_by_another_key_is_refused_when_the_hub_key_is_known(
    hub_settings: Settings, ledger_engine: Engine, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    item_batch(ledger_engine, hub_settings, "一")
    intruder = Settings(home=tmp_path / "intruder", database_url="sqlite://")
    other = load_hub_key(intruder)
    assert other.public_pem != load_hub_key(hub_settings).public_pem
    with pytest.raises(CheckpointRefused, match="which is not the hub key"):
        _checkpoint(ledger_engine, intruder)  # the entries are not signed by that key
    # The intruder's own tools sign without looking.
    monkeypatch.setattr("tongyuan.ledger.checkpoints.unpinned_entry_problems", lambda *a: [])
    _checkpoint(ledger_engine, intruder)
    assert verify_ledger(ledger_engine).ok  # self-consistent …
    result = verify_ledger(ledger_engine, trusted_keys=_hub_pem(hub_settings))
    # … but not the hub's
    assert [p.code for p in result.problems] == ["checkpoint.key"]


def _rewrite_chain_from(engine: Engine, seq: int) -> None:
    """What a careful intruder does: re-hash every entry from ``seq`` on, and the head."""
    with make_session_factory(engine).begin() as session:
        entries = session.query(LedgerEntry).filter(LedgerEntry.seq >= seq)
        previous = session.get(LedgerEntry, seq - 1)
        prev_hash = previous.entry_hash if previous else "0" * 64
        for entry in entries.order_by(LedgerEntry.seq):
            entry.prev_hash = prev_hash
            entry.entry_hash = compute_entry_hash(entry)
            prev_hash = entry.entry_hash
        head = session.get(LedgerHead, 1)
        assert head is not None
        head.entry_hash = prev_hash


def test_rewritten_chain_is_caught_by_an_earlier_checkpoint(
    hub_settings: Settings, ledger_engine: Engine
):
    for name in ("一", "二", "三"):
        item_batch(ledger_engine, hub_settings, name)
    _checkpoint(ledger_engine, hub_settings)
    item_batch(ledger_engine, hub_settings, "四")
    run_sql(ledger_engine, "UPDATE batches SET read_count = 7")
    run_sql(ledger_engine, "UPDATE ledger_entries SET read_count = 7")
    _rewrite_chain_from(ledger_engine, 1)
    result = verify_ledger(ledger_engine, trusted_keys=_hub_pem(hub_settings))
    # The chain itself is consistent again; only the hub's signatures still know better.
    assert [(p.code, p.seq) for p in result.problems] == [("checkpoint.chain", 3)] + [
        ("entry.signature", seq) for seq in (1, 2, 3, 4)
    ]
    assert "entries up to seq 3 were rewritten" in result.problems[0].message


def test_periodic_checkpoints(
    hub_settings: Settings, ledger_engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(ENV_CHECKPOINT_EVERY, "2")
    for name in ("一", "二", "三", "四", "五"):
        item_batch(ledger_engine, hub_settings, name)
    seqs = scalar(ledger_engine, "SELECT count(*) FROM ledger_checkpoints")
    assert seqs == 3  # at seq 0 (before the first signed entry), 2 and 4
    result = verify_ledger(ledger_engine, trusted_keys=_hub_pem(hub_settings))
    assert result.ok and result.checkpoints == 3


def test_bad_checkpoint_setting_is_refused(
    hub_settings: Settings, ledger_engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(ENV_CHECKPOINT_EVERY, "often")
    with pytest.raises(ValueError, match="TONGYUAN_LEDGER_CHECKPOINT_EVERY must be a whole"):
        item_batch(ledger_engine, hub_settings, "一")
    assert scalar(ledger_engine, "SELECT count(*) FROM ledger_entries") == 0


def test_hub_key_is_stable(hub_settings: Settings):
    first: HubKey = load_hub_key(hub_settings)
    again = load_hub_key(hub_settings)
    assert first.public_pem == again.public_pem
    assert sign_statement(first, b"x") == sign_statement(again, b"x")  # Ed25519 is deterministic


def _failed_batch(engine: Engine, settings: Settings, name: str) -> str:
    """A closed batch that wrote no rows: its entry can be cut off without other traces."""
    from tongyuan.libraries.batches import record_failed_batch

    with make_session_factory(engine).begin() as session:
        return record_failed_batch(
            session, "load.failed", name, error="unreadable", read=1, settings=settings
        ).id


def test_checkpoints_are_numbered_and_chained(hub_settings: Settings, ledger_engine: Engine):
    for name in ("a", "b", "c"):
        _failed_batch(ledger_engine, hub_settings, name)
        _checkpoint(ledger_engine, hub_settings)
    result = verify_ledger(ledger_engine, trusted_keys=_hub_pem(hub_settings))
    assert result.ok and result.latest_checkpoint is not None
    assert result.latest_checkpoint["number"] == 4 and result.unpinned_entries == 0
    run_sql(ledger_engine, "DELETE FROM ledger_checkpoints WHERE seq = 2")
    result = verify_ledger(ledger_engine, trusted_keys=_hub_pem(hub_settings))
    assert [(p.code, p.seq) for p in result.problems] == [("checkpoint.signature", 3)]
    assert "a checkpoint before it was deleted" in result.problems[0].message


def test_cut_off_end_with_its_checkpoints_is_found_against_what_the_auditor_kept(
    hub_settings: Settings, ledger_engine: Engine
):
    from tongyuan.ledger.verify import CheckpointExpectation

    _failed_batch(ledger_engine, hub_settings, "a")
    _failed_batch(ledger_engine, hub_settings, "b")
    _checkpoint(ledger_engine, hub_settings)
    trusted = _hub_pem(hub_settings)
    last = _failed_batch(ledger_engine, hub_settings, "c")
    _checkpoint(ledger_engine, hub_settings)
    kept = verify_ledger(ledger_engine, trusted_keys=trusted).latest_checkpoint
    assert kept is not None and (kept["number"], kept["seq"]) == (3, 3)
    hash_2 = scalar(ledger_engine, "SELECT entry_hash FROM ledger_entries WHERE seq = 2")
    run_sql(ledger_engine, "DELETE FROM ledger_checkpoints WHERE seq = 3")
    run_sql(ledger_engine, "DELETE FROM ledger_entries WHERE seq = 3")
    run_sql(ledger_engine, "DELETE FROM batches WHERE id = :b", b=last)
    run_sql(ledger_engine, "UPDATE ledger_head SET seq = 2, entry_hash = :h", h=hash_2)
    # The database alone cannot tell: the end after the last checkpoint left is gone.
    assert verify_ledger(ledger_engine, trusted_keys=trusted).ok
    by_number = verify_ledger(
        ledger_engine, trusted_keys=trusted, expect=CheckpointExpectation(at_least=3)
    )
    assert [p.code for p in by_number.problems] == ["checkpoint.missing"]
    by_copy = verify_ledger(
        ledger_engine, trusted_keys=trusted, expect=CheckpointExpectation(copies=(kept,))
    )
    assert [p.code for p in by_copy.problems] == ["checkpoint.missing", "checkpoint.chain"]
    assert "entries up to seq 3 were rewritten or removed" in by_copy.problems[1].message
    # Every checkpoint deleted: the hub signs them, so a known hub key with none left fails.
    run_sql(ledger_engine, "DELETE FROM ledger_checkpoints")
    assert verify_ledger(ledger_engine).ok  # no key known: nothing to hold against it
    bare = verify_ledger(ledger_engine, trusted_keys=trusted)
    assert [p.code for p in bare.problems] == ["checkpoint.none"]
    assert bare.unpinned_entries == 2


def test_forged_checkpoint_copy_is_refused(hub_settings: Settings, ledger_engine: Engine):
    from tongyuan.ledger.verify import CheckpointExpectation

    _failed_batch(ledger_engine, hub_settings, "a")
    _checkpoint(ledger_engine, hub_settings)
    kept = verify_ledger(ledger_engine).latest_checkpoint
    assert kept is not None
    forged = {**kept, "seq": 0}
    result = verify_ledger(
        ledger_engine,
        trusted_keys=_hub_pem(hub_settings),
        expect=CheckpointExpectation(copies=(forged,)),
    )
    assert [p.code for p in result.problems] == ["checkpoint.copy"]
