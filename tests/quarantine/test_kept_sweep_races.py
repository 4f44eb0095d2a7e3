"""Kept copies of quarantined materials' files: the sweep beside running batches.

Function-level interleavings of a sweep with a keep (the sweep's look, its move aside,
its put-back; the keep's touch), a sweep that cannot handle one file, a sweep on SQLite
while another connection holds the write lock, a rolled-back batch's copies, a batch
committing after a sweep took its copy, the throttle, and the rules a keep adds. Both
backends (the ``hub`` fixture); the export and mapping are test_replay_kept_files.py's.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import shutil
import time
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from test_kept_file_sweep import OTHER, OTHER_SHA, _drop, _material, _source
from test_replay_kept_files import FIXED_MAPPING, PDF, SHA, _entries, _kept_files, _pull, _row

import tongyuan.libraries.materials as materials_module
import tongyuan.materials.kept as kept_module
from standards.records import SourceLocation
from standards.validation.findings import Finding
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.batches import open_batch
from tongyuan.libraries.quarantine import add_quarantined
from tongyuan.materials.kept import (
    ASIDE_FOLDER,
    KEPT_GRACE,
    keep_material_file,
    kept_path,
    kept_root,
    sweep_kept_files,
    with_kept_file,
)
from tongyuan.privacy import PiiProtector

HOLDER = Finding("material.holder_id.invalid", "m", None)
LONG_AGO = time.time() - 2 * KEPT_GRACE.total_seconds()


def _old_copy(hub: Settings, sha256: str, data: bytes = b"x") -> Path:
    path = kept_path(hub, sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (LONG_AGO, LONG_AGO))
    return path


def _sweep(hub: Settings) -> int:
    engine = make_engine(hub.database_url)
    try:
        return sweep_kept_files(hub, engine)
    finally:
        engine.dispose()


def _delivered(tmp_path: Path) -> Path:
    drop = tmp_path / "drop"
    (drop / "files").mkdir(parents=True, exist_ok=True)
    (drop / "files" / "a.pdf").write_bytes(PDF)
    return drop


def _name_it(hub: Settings, session: Session, sha: str | None) -> None:
    """Commit-to-be: an open entry naming the copy, as a load quarantining M-2 adds it."""
    batch = open_batch(session, "load.material", "test")
    add_quarantined(
        session, batch.id, kind="material", location=SourceLocation("m2.jsonl", 1, 1),
        payload={"CLBH": "M-2"}, findings=[HOLDER], protector=PiiProtector(hub.pii_key()),
        origin=with_kept_file({"path": "load"}, sha),
    )  # fmt: skip


def _commit_entry_naming(hub: Settings, sha: str) -> None:
    """Another process commits an open entry naming the copy ``sha``."""
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            _name_it(hub, session, sha)
    finally:
        engine.dispose()


def test_the_sweep_reads_beside_a_writer_holding_the_lock(hub: Settings) -> None:
    """Finding 1: on SQLite another process writing holds the write lock; the sweep's
    read (a DEFERRED reader) does not wait for it, and removes the stale copy at once."""
    left = _old_copy(hub, OTHER_SHA, OTHER)
    engine = make_engine(hub.database_url)
    writer = make_engine(hub.database_url)
    try:
        with writer.connect() as connection:
            # SQLite: BEGIN IMMEDIATE (the write lock), like a long batch; PostgreSQL: a
            # transaction that wrote a row.
            connection.execute(text("UPDATE quarantine SET status = status WHERE id = -1"))
            started = time.monotonic()
            assert sweep_kept_files(hub, engine) == 1
            assert time.monotonic() - started < 5
            connection.rollback()
    finally:
        engine.dispose()
        writer.dispose()
    assert not left.exists()


def _keep(
    hub: Settings,
    tmp_path: Path,
    *,
    commit: bool,
    meanwhile: Callable[[Session], None] | None = None,
) -> tuple[str | None, list[Finding]]:
    """A batch keeping M-2's file and quarantining it; ``meanwhile`` runs before it names
    the copy (another process's sweep, say)."""
    engine = make_engine(hub.database_url)
    session = make_session_factory(engine)()
    try:
        session.begin()
        sha, problems = keep_material_file(
            hub, session, _material("M-2"), [HOLDER], base_dir=_delivered(tmp_path)
        )
        if meanwhile is not None:
            meanwhile(session)
        _name_it(hub, session, sha)
        if commit:
            session.commit()
        else:
            session.rollback()
        return sha, problems
    finally:
        session.close()
        engine.dispose()


def test_a_sweep_taking_the_copy_just_kept_does_not_fail_the_batch(
    hub: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 2: a sweep moves the copy aside right after the store placed it (its look
    came before); the keep judged the bytes before they entered the area and never reads
    the copy, and the commit copies it anew from its source."""
    real = kept_module.store_blob

    swept: list[Path] = []

    def store_then_swept(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        if not swept:  # the sweep's move, once (not put back)
            target = kept_path(hub, SHA)
            swept.append(target.rename(target.with_suffix(".aside")))
        return out

    monkeypatch.setattr(kept_module, "store_blob", store_then_swept)
    assert _keep(hub, tmp_path, commit=True) == (SHA, [])
    assert swept
    assert kept_path(hub, SHA).read_bytes() == PDF


def test_the_hub_failing_to_read_its_copy_keeps_none_and_no_rule(
    hub: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """Finding 2: EIO while the copy is judged is the hub's: logged, no copy, no rule."""

    def broken(path: Path) -> str:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(kept_module, "sniff_file", broken)
    with caplog.at_level(logging.WARNING, logger="tongyuan.materials.kept"):
        assert _keep(hub, tmp_path, commit=True) == (None, [])
    assert "Input/output error" in caplog.text
    assert _kept_files(hub) == []


def test_one_file_the_sweep_cannot_move_leaves_the_others_swept(
    hub: Settings, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """Finding 3: a copy of another Unix user (EACCES) is counted and left; the other
    stale copies go, into the area's own aside folder (never across a mount)."""
    shas = sorted(hashlib.sha256(str(i).encode()).hexdigest() for i in range(5))
    for sha in shas:
        _old_copy(hub, sha)
    real = os.rename
    asides: list[Path] = []

    def rename(source: Any, target: Any) -> None:
        if Path(source).name == shas[0]:
            raise PermissionError(errno.EACCES, "Permission denied", str(source))
        asides.append(Path(target))
        real(source, target)

    monkeypatch.setattr(kept_module.os, "rename", rename)
    with caplog.at_level(logging.WARNING, logger="tongyuan.materials.kept"):
        assert _sweep(hub) == 4
        assert _sweep(hub) == 0
    assert _kept_files(hub) == [kept_path(hub, shas[0])]
    assert {p.parent for p in asides} == {kept_root(hub) / ASIDE_FOLDER}
    assert "1 file(s) or folder(s) left as they were" in caplog.text


def test_a_folder_the_sweep_cannot_read_is_skipped(
    hub: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 3: a shard folder removed or unreadable while it walks is skipped."""
    shas = sorted(hashlib.sha256(str(i).encode()).hexdigest() for i in range(5))
    for sha in shas:
        _old_copy(hub, sha)
    unreadable = kept_path(hub, shas[0]).parent
    real = os.scandir

    def scandir(folder: Any) -> Any:
        if Path(folder) == unreadable:
            raise PermissionError(errno.EACCES, "Permission denied", str(folder))
        return real(folder)

    monkeypatch.setattr(kept_module.os, "scandir", scandir)
    assert _sweep(hub) == 4
    monkeypatch.undo()  # os.scandir is rglob's too
    assert _kept_files(hub) == [kept_path(hub, shas[0])]


def test_aside_files_a_stopped_sweep_left_are_settled(
    hub: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 3 (and the put-back stranded by a concurrent prune): an aside file kept
    recently goes back where it was; an old one no entry names is removed."""
    monkeypatch.setattr(kept_module, "_STRANDED", timedelta(0))
    folder = kept_root(hub) / ASIDE_FOLDER
    folder.mkdir(parents=True)
    fresh = folder / f"{SHA}.1-ab.swept"
    fresh.write_bytes(PDF)
    stale = folder / f"{OTHER_SHA}.1-cd.swept"
    stale.write_bytes(OTHER)
    os.utime(stale, (LONG_AGO, LONG_AGO))
    assert _sweep(hub) == 0
    assert kept_path(hub, SHA).read_bytes() == PDF
    assert not fresh.exists() and not stale.exists()
    assert not kept_path(hub, OTHER_SHA).exists()


def test_an_old_aside_file_an_open_entry_names_goes_back(
    hub: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Third review, finding 3: an aside file a stopped sweep left long ago whose content
    an open entry still names goes back where it was (no copy there), and stays."""
    monkeypatch.setattr(kept_module, "_STRANDED", timedelta(0))
    _commit_entry_naming(hub, SHA)
    folder = kept_root(hub) / ASIDE_FOLDER
    folder.mkdir(parents=True)
    stranded = folder / f"{SHA}.1-ab.swept"
    stranded.write_bytes(PDF)
    os.utime(stranded, (LONG_AGO, LONG_AGO))
    assert _sweep(hub) == 0
    assert not stranded.exists()
    assert kept_path(hub, SHA).read_bytes() == PDF


def test_a_touch_between_the_sweeps_look_and_its_move_puts_the_copy_back(
    hub: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 4: the sweep saw an old copy; a batch keeps the same content (touches it)
    before the move aside; the sweep looks again and puts it back."""
    path = _old_copy(hub, SHA, PDF)
    real = os.rename

    def touched_first(source: Any, target: Any) -> None:
        os.utime(source)  # a batch keeping the same content
        real(source, target)

    monkeypatch.setattr(kept_module.os, "rename", touched_first)
    assert _sweep(hub) == 0
    assert path.read_bytes() == PDF
    assert list((kept_root(hub) / ASIDE_FOLDER).iterdir()) == []


def test_a_put_back_racing_a_prune_of_its_folder_still_puts_it_back(
    hub: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Minor: another sweep prunes the emptied shard folder between the put-back's mkdir
    and its move; the put-back makes the folder again."""
    path = _old_copy(hub, SHA, PDF)
    real_rename, real_replace = os.rename, os.replace
    pruned: list[Path] = []

    def touched_first(source: Any, target: Any) -> None:
        os.utime(source)
        real_rename(source, target)

    def pruned_first(source: Any, target: Any) -> None:
        if not pruned:
            pruned.append(Path(target).parent)
            os.rmdir(Path(target).parent)
        real_replace(source, target)

    monkeypatch.setattr(kept_module.os, "rename", touched_first)
    monkeypatch.setattr(kept_module.os, "replace", pruned_first)
    assert _sweep(hub) == 0
    assert pruned == [path.parent]
    assert path.read_bytes() == PDF


def test_a_keep_finding_the_copy_swept_before_its_touch_copies_it_anew(
    hub: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 4: the store finds the copy there; a sweep moves it aside before the
    touch; the store places its own verified copy instead."""
    path = _old_copy(hub, SHA, PDF)
    real = os.utime

    def swept_first(target: Any, *args: Any, **kwargs: Any) -> None:
        if Path(target) == path and path.exists():
            path.unlink()  # the sweep's move aside and removal
        real(target, *args, **kwargs)

    monkeypatch.setattr(materials_module.os, "utime", swept_first)
    assert _keep(hub, tmp_path, commit=True) == (SHA, [])
    assert path.read_bytes() == PDF


def test_a_rolled_back_batch_removes_the_copies_it_made(hub: Settings, tmp_path: Path) -> None:
    """Finding 5: a dry run or a failed batch leaves no copy; one it found already kept
    (another entry's) stays."""
    assert _keep(hub, tmp_path, commit=False) == (SHA, [])
    assert _kept_files(hub) == []

    def kept_again(session: Session) -> None:  # a second record of the same content
        kept = keep_material_file(hub, session, _material("M-3"), [HOLDER],
                                  base_dir=tmp_path / "drop")  # fmt: skip
        assert kept == (SHA, [])

    assert _keep(hub, tmp_path, commit=False, meanwhile=kept_again) == (SHA, [])
    assert _kept_files(hub) == []
    other = _old_copy(hub, SHA, PDF)  # kept before by someone else
    assert _keep(hub, tmp_path, commit=False) == (SHA, [])
    assert other.exists()


def test_a_rollback_leaves_a_copy_another_batch_placed_while_it_read_the_source(
    hub: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Third review, finding 1: while batch A reads and hashes its source (no copy there
    yet), batch B keeps the same content and commits an entry naming it; A's store only
    touches that copy, so A's rollback (a dry run) must not take it as its own."""
    real = kept_module.store_blob
    other: list[tuple[str | None, list[Finding]] | None] = []

    def other_batch_commits_first(*args: Any, **kwargs: Any) -> Any:
        if not other:  # batch B, another process, during A's read of the source
            other.append(None)  # B's own store is not intercepted
            other[0] = _keep(hub, tmp_path / "b", commit=True)
            assert kept_path(hub, SHA).exists()
        return real(*args, **kwargs)

    monkeypatch.setattr(kept_module, "store_blob", other_batch_commits_first)
    assert _keep(hub, tmp_path / "a", commit=False) == (SHA, [])
    assert other == [(SHA, [])]
    assert kept_path(hub, SHA).read_bytes() == PDF


def test_a_rollback_leaves_a_copy_a_running_batch_placed_while_it_read_the_source(
    hub: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Third review, finding 1: batch B, still running, keeps the same content while A
    reads its source; no entry names the copy yet, so only A's store saying it found the
    copy there (not moved it in) keeps A's rollback off it. B's delivery is gone when it
    commits (an sftp staging tree): the entry it commits still names a copy that is there."""
    real = kept_module.store_blob
    engine = make_engine(hub.database_url)
    other = make_session_factory(engine)()
    started: list[bool] = []

    def other_batch_keeps_first(*args: Any, **kwargs: Any) -> Any:
        if not started:  # batch B, another process, during A's read of the source
            started.append(True)
            kept = keep_material_file(hub, other, _material("M-2"), [HOLDER],
                                      base_dir=_delivered(tmp_path / "b"))  # fmt: skip
            assert kept == (SHA, [])
        return real(*args, **kwargs)

    monkeypatch.setattr(kept_module, "store_blob", other_batch_keeps_first)
    try:
        other.begin()
        assert _keep(hub, tmp_path / "a", commit=False) == (SHA, [])
        assert kept_path(hub, SHA).read_bytes() == PDF
        shutil.rmtree(tmp_path / "b")
        _name_it(hub, other, SHA)
        other.commit()
    finally:
        other.close()
        engine.dispose()
    assert kept_path(hub, SHA).read_bytes() == PDF


def test_a_rollback_leaves_a_copy_it_made_that_a_committed_entry_names(
    hub: Settings, tmp_path: Path
) -> None:
    """Third review, finding 1: batch A moved the copy in; batch B names the same content
    in an entry it commits (its touch in the same clock tick as A's, so the mtime tells
    nothing); A rolls back and asks the open entries first: the copy stays."""

    def other_batch_names_it(session: Session) -> None:
        _commit_entry_naming(hub, SHA)

    assert _keep(hub, tmp_path, commit=False, meanwhile=other_batch_names_it) == (SHA, [])
    assert kept_path(hub, SHA).read_bytes() == PDF


def test_a_batch_committing_after_a_sweep_took_its_copy_copies_it_again(
    hub: Settings, tmp_path: Path
) -> None:
    """Finding 5: a batch longer than the grace; the sweep removed its unnamed copy before
    it committed; the commit copies it again from the delivery, so the entry names a copy
    that is there."""

    def long_batch_swept(session: Session) -> None:
        os.utime(kept_path(hub, SHA), (LONG_AGO, LONG_AGO))  # the batch ran 48 hours
        assert sweep_kept_files(hub, session.get_bind()) == 1

    assert _keep(hub, tmp_path, commit=True, meanwhile=long_batch_swept) == (SHA, [])
    assert kept_path(hub, SHA).read_bytes() == PDF


def test_a_transaction_that_kept_a_file_sweeps_at_most_every_few_minutes(
    hub: Settings, tmp_path: Path
) -> None:
    """Finding 6: the first keep sweeps (the stale unnamed copy goes); another within
    SWEEP_EVERY does not walk the area again; once the last sweep is older, it does."""
    left = _old_copy(hub, OTHER_SHA, OTHER)
    _keep(hub, tmp_path, commit=True)
    assert not left.exists()
    left = _old_copy(hub, OTHER_SHA, OTHER)
    _keep(hub, tmp_path, commit=True)
    assert left.exists()
    then = time.time() - kept_module.SWEEP_EVERY.total_seconds() - 1
    os.utime(kept_root(hub) / kept_module._MARKER, (then, then))
    _keep(hub, tmp_path, commit=True)
    assert not left.exists()


def test_a_polyglot_gets_its_rule_once(hub: Settings, in_session: Any, tmp_path: Path) -> None:
    """Finding 7: admission rejected the polyglot; the keep does not add the rule again."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "x")
    data = PDF + buffer.getvalue()
    row = {**_row("M-QY-P", file="files/p.pdf", sha256=hashlib.sha256(data).hexdigest()),
           "DX": len(data)}  # fmt: skip
    _drop(tmp_path, [row], {"files/p.pdf": data})
    assert _pull(hub, _source(tmp_path, FIXED_MAPPING), "materials").quarantined == 1
    (entry,) = in_session(_entries)
    assert [r["rule"] for r in entry.rules] == ["material.media_type.mismatch"]
    assert "kept_file" not in entry.origin
    assert _kept_files(hub) == []


def test_a_file_removed_from_the_delivery_before_its_copy_is_missing(
    hub: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 8: the department removes the file after its check, before the copy: the
    entry gets material.file.missing (the department's), not a hub disk error."""
    real = kept_module.check_material_file

    def checked_then_removed(material: Any, base_dir: Path) -> list[Finding]:
        problems = real(material, base_dir)
        (base_dir / material.file).unlink()
        return problems

    monkeypatch.setattr(kept_module, "check_material_file", checked_then_removed)
    sha, problems = _keep(hub, tmp_path, commit=True)
    assert sha is None
    assert [p.rule for p in problems] == ["material.file.missing"]
