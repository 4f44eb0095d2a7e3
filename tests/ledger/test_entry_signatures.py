"""Entry signatures: anyone who can write the database can append a consistent entry of
their own; only the hub can sign it. Unsigned entries from before signing stay valid."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from ledger_world import item_batch
from sqlalchemy import Engine, text
from tamper import run_sql, scalar

from tongyuan.config import Settings
from tongyuan.db import make_session_factory
from tongyuan.ledger import verify_ledger, write_checkpoint
from tongyuan.ledger.checkpoints import CheckpointRefused
from tongyuan.ledger.digests import BY_TABLE, records_hash
from tongyuan.ledger.entries import compute_entry_hash
from tongyuan.ledger.hubkey import load_hub_key, private_key_path, public_key_path
from tongyuan.libraries.base import utcnow
from tongyuan.libraries.ledger import LedgerEntry
from tongyuan.loading import Loader


def _checkpoint(engine: Engine, settings: Settings) -> None:
    with make_session_factory(engine).begin() as session:
        write_checkpoint(session, settings)


def _hub_pem(settings: Settings) -> list[str]:
    return [public_key_path(settings).read_text(encoding="ascii")]


def _forge_case_and_append(engine: Engine, *, copy_signature: bool = False) -> int:
    """The auditor's forgery: change a case pinned by a checkpoint, then append a batch,
    its one ledger record (the altered row's digest, ledger.md §4) and an entry chained
    on the head, with the head moved — no hub key needed. Returns the forged seq."""
    spec = BY_TABLE["cases"]
    batches = spec.table.metadata.tables["batches"]
    entries = LedgerEntry.__table__
    now = utcnow()
    with engine.begin() as connection:
        case_id = connection.execute(text("SELECT min(id) FROM cases")).scalar_one()
        connection.execute(
            text("UPDATE cases SET applicant_name = '李四（伪造）' WHERE id = :i"), {"i": case_id}
        )
        row = connection.execute(spec.select().where(spec.table.c.id == case_id)).mappings().one()
        digest = spec.digest_of(row)
        batch_id = uuid.uuid4().hex
        connection.execute(
            batches.insert().values(
                id=batch_id, kind="load.case", source="cases/cases.xml", started_at=now,
                finished_at=now, status="committed", read_count=1, accepted_count=1,
                quarantined_count=0, unchanged_count=0, content_hash=None, meta={},
            )
        )  # fmt: skip
        connection.execute(
            text("INSERT INTO ledger_records VALUES (:b, 'case', :k, :d)"),
            {"b": batch_id, "k": str(case_id), "d": digest},
        )  # fmt: skip
        content, count = records_hash([("case", str(case_id), digest)])
        head_seq, head_hash = connection.execute(
            text("SELECT seq, entry_hash FROM ledger_head")
        ).one()
        entry = LedgerEntry(
            seq=head_seq + 1, batch_id=batch_id, kind="load.case", source="cases/cases.xml",
            status="committed", read_count=1, accepted_count=1, quarantined_count=0,
            unchanged_count=0, input_hash=None, records_hash=content, record_count=count,
            signer_fingerprint=None, recorded_at=now, prev_hash=head_hash,
        )  # fmt: skip
        entry.entry_hash = compute_entry_hash(entry)
        key_id = signature = None
        if copy_signature:  # a real hub signature, lifted from the entry before
            key_id, signature = connection.execute(
                text("SELECT key_id, signature FROM ledger_entries WHERE seq = :s"),
                {"s": head_seq},
            ).one()
        values = {c.name: getattr(entry, c.name) for c in entries.columns}
        connection.execute(
            entries.insert().values({**values, "key_id": key_id, "signature": signature})
        )
        connection.execute(
            text("UPDATE ledger_head SET seq = :s, entry_hash = :h"),
            {"s": entry.seq, "h": entry.entry_hash},
        )
    return entry.seq


@pytest.mark.parametrize("copy_signature", [False, True], ids=["unsigned", "lifted-signature"])
def test_forged_entry_appended_after_a_checkpoint_fails_and_is_never_signed_over(
    loaded: Loader, hub_settings: Settings, ledger_engine: Engine, copy_signature: bool
):
    _checkpoint(ledger_engine, hub_settings)
    trusted = _hub_pem(hub_settings)
    assert verify_ledger(ledger_engine, trusted_keys=trusted).ok
    forged = _forge_case_and_append(ledger_engine, copy_signature=copy_signature)
    result = verify_ledger(ledger_engine, trusted_keys=trusted)
    # the chain, records and rows agree with each other; only the signature knows better
    assert [(p.code, p.seq) for p in result.problems] == [("entry.signature", forged)]
    assert f"ledger entry seq {forged}" in result.problems[0].message
    with pytest.raises(CheckpointRefused, match=f"entry seq {forged}"):
        _checkpoint(ledger_engine, hub_settings)  # the daily checkpoint does not bless it
    assert scalar(ledger_engine, "SELECT max(seq) FROM ledger_checkpoints") == forged - 1


def test_removing_the_signatures_after_a_checkpoint_does_not_make_entries_legacy(
    hub_settings: Settings, ledger_engine: Engine
):
    item_batch(ledger_engine, hub_settings, "一")
    _checkpoint(ledger_engine, hub_settings)
    item_batch(ledger_engine, hub_settings, "二")
    run_sql(ledger_engine, "UPDATE ledger_entries SET key_id = NULL, signature = NULL")
    result = verify_ledger(ledger_engine, trusted_keys=_hub_pem(hub_settings))
    # the checkpoint at seq 0 (written before the first signed entry) promised them signed
    assert [(p.code, p.seq) for p in result.problems] == [
        ("entry.signature", 1),
        ("entry.signature", 2),
    ]
    assert "says every later entry is signed" in result.problems[0].message


def _make_legacy(engine: Engine) -> None:
    """What a ledger written before entries were signed looks like: no signatures, and
    no checkpoint of the signed-entries kind."""
    run_sql(engine, "DELETE FROM ledger_checkpoints")
    run_sql(engine, "UPDATE ledger_entries SET key_id = NULL, signature = NULL")


def test_legacy_unsigned_entries_verify_with_a_note_and_are_pinned_before_signing(
    hub_settings: Settings, ledger_engine: Engine
):
    item_batch(ledger_engine, hub_settings, "一")
    item_batch(ledger_engine, hub_settings, "二")
    _make_legacy(ledger_engine)
    before = verify_ledger(ledger_engine)
    assert before.ok and before.unsigned_legacy_entries == 2 and before.unpinned_entries == 2
    item_batch(ledger_engine, hub_settings, "三")  # the upgraded hub's first entry
    # the hub pinned the unsigned entries with a checkpoint before signing its first one
    assert scalar(ledger_engine, "SELECT seq FROM ledger_checkpoints") == 2
    trusted = _hub_pem(hub_settings)
    after = verify_ledger(ledger_engine, trusted_keys=trusted)
    assert after.ok, after.problems
    assert (after.unsigned_legacy_entries, after.signed_after, after.unpinned_entries) == (2, 2, 1)
    run_sql(ledger_engine, "UPDATE ledger_entries SET signature = NULL WHERE seq = 3")
    assert [p.code for p in verify_ledger(ledger_engine, trusted_keys=trusted).problems] == [
        "entry.signature"
    ]


def test_unsigned_entries_followed_by_signed_ones_must_be_pinned(
    hub_settings: Settings, ledger_engine: Engine
):
    item_batch(ledger_engine, hub_settings, "一")
    _make_legacy(ledger_engine)
    item_batch(ledger_engine, hub_settings, "二")
    run_sql(ledger_engine, "DELETE FROM ledger_checkpoints")  # the one over the legacy entry
    result = verify_ledger(ledger_engine)  # no key known: self-consistency only
    assert [(p.code, p.seq) for p in result.problems] == [("entry.signature", 1)]
    assert "no checkpoint pins them" in result.problems[0].message


@pytest.mark.parametrize("backend", ["sqlite"])  # dropping the columns shows it on one
def test_a_copy_from_before_entry_signatures_is_read_as_it_is(
    hub_settings: Settings, ledger_engine: Engine, db_url: str
):
    item_batch(ledger_engine, hub_settings, "一")
    _make_legacy(ledger_engine)
    run_sql(ledger_engine, "ALTER TABLE ledger_entries DROP COLUMN signature")
    run_sql(ledger_engine, "ALTER TABLE ledger_entries DROP COLUMN key_id")
    result = verify_ledger(ledger_engine)
    assert result.ok and result.unsigned_legacy_entries == 1


def test_signed_entries_refuse_a_downgrade_below_them(
    hub_settings: Settings, ledger_engine: Engine, db_url: str
):
    """Without the columns every signed entry would read as forged, for good; dropping
    everything (base) stays possible."""
    from alembic.util import CommandError

    from tongyuan.db import current_revision, downgrade, head_revision

    item_batch(ledger_engine, hub_settings, "一")
    ledger_engine.dispose()
    with pytest.raises(CommandError, match="refusing to downgrade below 0011"):
        downgrade(db_url, "0010")
    assert current_revision(db_url) == head_revision()
    assert verify_ledger(ledger_engine, trusted_keys=_hub_pem(hub_settings)).ok
    ledger_engine.dispose()
    downgrade(db_url, "base")
    assert current_revision(db_url) is None


def _db_upgrade(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    from typer.testing import CliRunner

    from tongyuan.cli.app import app

    monkeypatch.setenv("TONGYUAN_HOME", str(settings.home))
    monkeypatch.setenv("TONGYUAN_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(app, ["db", "upgrade"], terminal_width=300)
    return result.exit_code, result.output


def test_db_upgrade_pins_the_unsigned_entries_an_older_version_wrote(
    hub_settings: Settings, ledger_engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    """Until then anyone able to write the database could slip unsigned entries in among
    them, and the first batch's checkpoint would pin those too."""
    item_batch(ledger_engine, hub_settings, "一")
    item_batch(ledger_engine, hub_settings, "二")
    _make_legacy(ledger_engine)
    code, output = _db_upgrade(hub_settings, monkeypatch)
    assert code == 0, output
    assert "unsigned entries up to seq 2" in output
    assert scalar(ledger_engine, "SELECT seq FROM ledger_checkpoints") == 2
    result = verify_ledger(ledger_engine, trusted_keys=_hub_pem(hub_settings))
    assert result.ok and result.unpinned_entries == 0, result.problems
    code, output = _db_upgrade(hub_settings, monkeypatch)  # nothing left to pin
    assert code == 0 and "ledger:" not in output
    assert scalar(ledger_engine, "SELECT count(*) FROM ledger_checkpoints") == 1


def test_db_upgrade_signs_no_checkpoint_over_altered_legacy_entries(
    hub_settings: Settings, ledger_engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    item_batch(ledger_engine, hub_settings, "一")
    _make_legacy(ledger_engine)
    run_sql(ledger_engine, "UPDATE ledger_entries SET source = 'forged' WHERE seq = 1")
    code, output = _db_upgrade(hub_settings, monkeypatch)
    assert code == 1 and "ledger not pinned" in output, output
    assert scalar(ledger_engine, "SELECT count(*) FROM ledger_checkpoints") == 0


def test_a_new_hub_gets_no_checkpoint_from_db_upgrade(
    hub_settings: Settings, ledger_engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    code, output = _db_upgrade(hub_settings, monkeypatch)
    assert code == 0 and "ledger:" not in output, output
    assert scalar(ledger_engine, "SELECT count(*) FROM ledger_checkpoints") == 0


def test_db_upgrade_under_another_home_makes_no_hub_key_and_leaves_pinning_to_the_hub(
    hub_settings: Settings, ledger_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path
):
    """A deploy user, CI or a DBA's machine upgrading the shared database has no hub key:
    none is made there (it would sign with a key the hub does not have), nothing is
    signed, and the hub's first batch pins the entries with its own key."""
    item_batch(ledger_engine, hub_settings, "一")
    _make_legacy(ledger_engine)
    elsewhere = dataclasses.replace(hub_settings, home=tmp_path / "dba-home")
    code, output = _db_upgrade(elsewhere, monkeypatch)
    assert code == 0, output
    assert "not pinned here" in output and "first batch pins them" in output
    assert len(output.strip().splitlines()) == 2, output  # the revision, then one line
    assert not private_key_path(elsewhere).exists()
    assert scalar(ledger_engine, "SELECT count(*) FROM ledger_checkpoints") == 0
    item_batch(ledger_engine, hub_settings, "二")  # the hub itself
    assert scalar(ledger_engine, "SELECT seq FROM ledger_checkpoints") == 1
    assert verify_ledger(ledger_engine, trusted_keys=_hub_pem(hub_settings)).ok


def _older_version_checkpoint(engine: Engine, settings: Settings, *, seq: int) -> None:
    """A checkpoint as versions before entry signatures wrote it (chained, without the
    signed-entries promise), over the legacy entry ``seq``, with the hub key."""
    from tongyuan.ledger.checkpoints import checkpoint_link, checkpoint_statement
    from tongyuan.ledger.hubkey import ALGORITHM, sign_statement
    from tongyuan.libraries.ledger import LedgerCheckpoint

    key = load_hub_key(settings)
    with make_session_factory(engine).begin() as session:
        entry_hash = session.scalar(
            text(f"SELECT entry_hash FROM ledger_entries WHERE seq = {seq}")
        )
        at = utcnow()
        statement = checkpoint_statement(
            seq, entry_hash, at, key.key_id, number=1, previous=checkpoint_link(None)
        )
        session.add(
            LedgerCheckpoint(
                seq=seq, entry_hash=entry_hash, created_at=at, algorithm=ALGORITHM,
                key_id=key.key_id, public_key=key.public_pem,
                signature=sign_statement(key, statement),
            )
        )  # fmt: skip


def test_db_upgrade_under_a_home_with_another_key_leaves_pinning_to_the_hub(
    hub_settings: Settings, ledger_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path
):
    """A home that has a key of its own (an old CI run's, a copied home) signed the
    checkpoint with a key the hub does not hold: the ledger records the hub's (its
    checkpoint an older version wrote), so that home leaves the pinning to the hub."""
    item_batch(ledger_engine, hub_settings, "一")
    item_batch(ledger_engine, hub_settings, "二")
    _make_legacy(ledger_engine)
    _older_version_checkpoint(ledger_engine, hub_settings, seq=1)
    elsewhere = dataclasses.replace(hub_settings, home=tmp_path / "old-ci-home")
    load_hub_key(elsewhere)  # a key of its own, readable there
    code, output = _db_upgrade(elsewhere, monkeypatch)
    assert code == 0, output
    assert "not pinned here" in output and "not the hub key the ledger records" in output
    assert "first batch pins them" in output
    assert len(output.strip().splitlines()) == 2, output  # the revision, then one line
    assert scalar(ledger_engine, "SELECT count(*) FROM ledger_checkpoints") == 1
    code, output = _db_upgrade(hub_settings, monkeypatch)  # the hub's own key: pinned
    assert code == 0 and "unsigned entries up to seq 2" in output, output
    assert scalar(ledger_engine, "SELECT max(seq) FROM ledger_checkpoints") == 2
    assert verify_ledger(ledger_engine, trusted_keys=_hub_pem(hub_settings)).ok


def test_db_upgrade_with_an_unusable_hub_key_says_so_in_one_line(
    hub_settings: Settings, ledger_engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    item_batch(ledger_engine, hub_settings, "一")
    _make_legacy(ledger_engine)
    key = private_key_path(hub_settings)
    key.write_text("not a key\n", encoding="ascii")
    code, output = _db_upgrade(hub_settings, monkeypatch)
    assert code == 1, output
    assert "Traceback" not in output and "ledger not pinned" in output, output
    assert "the hub key could not be used" in output and str(key) in output
    assert len(output.strip().splitlines()) == 2, output
    assert scalar(ledger_engine, "SELECT count(*) FROM ledger_checkpoints") == 0
