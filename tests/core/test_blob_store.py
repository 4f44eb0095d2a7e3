from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import pytest
from factories import CITIZEN_ID, make_material
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import tongyuan.libraries.materials as materials_module
from tongyuan.config import Settings
from tongyuan.db import make_session_factory
from tongyuan.libraries import (
    BlobRow,
    BlobStoreError,
    blob_path,
    find_material,
    open_batch,
    store_blob,
    write_material,
)
from tongyuan.materials.pending_blobs import note_new_blob
from tongyuan.privacy import PiiProtector


def _stored_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.blobs_dir.rglob("*") if p.is_file())


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_content_addressed_and_deduplicated(settings: Settings, tmp_path: Path) -> None:
    content = "营业执照".encode() * 1000
    digest = hashlib.sha256(content).hexdigest()
    sha, size = store_blob(settings, _write(tmp_path, "a.pdf", content))
    assert (sha, size) == (digest, len(content))
    target = blob_path(settings, sha)
    assert target == settings.blobs_dir / digest[:2] / digest[2:4] / digest
    assert target.read_bytes() == content
    inode = target.stat().st_ino
    assert store_blob(settings, _write(tmp_path, "copy.pdf", content), expected_sha256=digest) == (
        digest,
        len(content),
    )
    assert _stored_files(settings) == [target]
    assert target.stat().st_ino == inode  # not written again (only touched)


def test_hash_mismatch_rejected_and_nothing_left(settings: Settings, tmp_path: Path) -> None:
    wrong = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(BlobStoreError, match="manifest says"):
        store_blob(settings, _write(tmp_path, "a.pdf", b"content"), expected_sha256=wrong)
    assert _stored_files(settings) == []
    with pytest.raises(BlobStoreError, match="sha256"):
        store_blob(settings, _write(tmp_path, "b.pdf", b"x"), expected_sha256="../../etc/passwd")


def test_size_limit(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(BlobStoreError, match="exceeds the limit of 10 bytes"):
        store_blob(settings, _write(tmp_path, "big", b"x" * 11), max_bytes=10)
    assert _stored_files(settings) == []
    assert store_blob(settings, _write(tmp_path, "ok", b"x" * 10), max_bytes=10)[1] == 10


def test_errors_name_the_whole_source_path(settings: Settings, tmp_path: Path) -> None:
    """Third review, finding 2: two deliveries may both hold a ``sig.p7s``; the error
    names the one at fault by its whole path (a Path or a str), an open file by its
    name, and a stream with no name as ``<stream>``."""
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    first = _write(tmp_path / "x", "sig.p7s", b"x" * 11)
    second = _write(tmp_path / "y", "sig.p7s", b"y" * 11)
    with pytest.raises(BlobStoreError, match=f"^{re.escape(str(first))}: file exceeds"):
        store_blob(settings, first, max_bytes=10)
    wrong = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(BlobStoreError, match=f"^{re.escape(str(second))}: content sha256"):
        store_blob(settings, str(second), expected_sha256=wrong)
    with second.open("rb") as opened, pytest.raises(BlobStoreError, match=re.escape(str(second))):
        store_blob(settings, opened, max_bytes=10)
    with pytest.raises(BlobStoreError, match=r"^<stream>: file exceeds"):
        store_blob(settings, io.BytesIO(b"z" * 11), max_bytes=10)


def test_store_blob_says_whether_it_moved_the_file_in(settings: Settings, tmp_path: Path) -> None:
    """A caller undoing what it created (kept.py's rollback) takes only a copy this call
    moved in, never one it found there and touched."""
    source = _write(tmp_path, "a.pdf", b"content")
    placed: list[bool] = []
    store_blob(settings, source, placed=placed.append)
    store_blob(settings, source, placed=placed.append)
    assert placed == [True, False]


def test_failing_copy_leaves_no_file(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(materials_module.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk gone"):
        store_blob(settings, _write(tmp_path, "a", b"payload" * 100))
    assert _stored_files(settings) == []


def test_interrupted_read_leaves_no_file(settings: Settings, tmp_path: Path) -> None:
    class Exploding:
        def __init__(self) -> None:
            self.calls = 0

        def __call__(self, *args: object) -> bytes:
            self.calls += 1
            if self.calls > 1:
                raise OSError("read error")
            return b"x" * 1024

    source = _write(tmp_path, "a", b"")
    real_open = Path.open

    def fake_open(self: Path, mode: str = "r", *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        handle = real_open(self, mode, *args, **kwargs)  # type: ignore[arg-type]
        if self == source:
            handle.read = Exploding()  # type: ignore[method-assign]
        return handle

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Path, "open", fake_open)
        with pytest.raises(OSError, match="read error"):
            store_blob(settings, source)
    assert _stored_files(settings) == []


def test_write_material(
    session: Session, settings: Settings, tmp_path: Path, protector: PiiProtector
) -> None:
    content = b"%PDF-1.7 material"
    sha, size = store_blob(settings, _write(tmp_path, "m.pdf", content))
    batch = open_batch(session, "materials", "sz-market")
    material = make_material(sha, size)
    assert write_material(session, batch.id, material, protector=protector, sha256=sha) == "added"
    assert (
        write_material(session, batch.id, material, protector=protector, sha256=sha) == "unchanged"
    )
    renamed = make_material(sha, size, name="营业执照正本")
    assert write_material(session, batch.id, renamed, protector=protector, sha256=sha) == "changed"
    second = make_material(sha, size, material_id="M-0002")
    assert write_material(session, batch.id, second, protector=protector, sha256=sha) == "added"
    session.commit()
    assert session.scalar(select(func.count()).select_from(BlobRow)) == 1
    row = find_material(session, "M-0001")
    assert row is not None and row.name == "营业执照正本"
    assert row.holder_id_masked == "4403**********123X"
    assert protector.decrypt(row.holder_id_enc) == CITIZEN_ID
    for record in session.execute(text("SELECT * FROM materials")):
        assert CITIZEN_ID not in repr(tuple(record))

    other_sha = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(BlobStoreError, match="differs from the stored file"):
        write_material(session, batch.id, material, protector=protector, sha256=other_sha)
    with pytest.raises(BlobStoreError, match="manifest size"):
        write_material(
            session,
            batch.id,
            make_material(sha, size + 1, material_id="M-0003"),
            protector=protector,
            sha256=sha,
        )


def test_store_has_no_temp_leftovers(settings: Settings, tmp_path: Path) -> None:
    store_blob(settings, _write(tmp_path, "a", os.urandom(3000)))
    assert list((settings.blobs_dir / "tmp").iterdir()) == []


def test_a_rolled_back_batch_leaves_a_blob_another_batch_has_used(
    settings: Settings, engine, tmp_path: Path
) -> None:
    """Batch A copies new content in and rolls back; batch B stored the same content
    meanwhile (found it, touched it) and has not committed yet: the file stays."""
    sessions = make_session_factory(engine)
    content = "同一份材料".encode() * 100
    with sessions() as first:
        first.begin()
        sha, _ = store_blob(settings, _write(tmp_path, "a.pdf", content))
        note_new_blob(first, blob_path(settings, sha), sha)
        other = _write(tmp_path, "b.pdf", content)
        os.utime(blob_path(settings, sha), ns=(0, 0))  # make the touch below visible
        note_new_blob(first, blob_path(settings, sha), sha)
        store_blob(settings, other)  # batch B finds it stored
        first.rollback()
    assert blob_path(settings, sha).exists()
    with sessions() as lone:
        lone.begin()
        sha2, _ = store_blob(settings, _write(tmp_path, "c.pdf", b"only mine"))
        note_new_blob(lone, blob_path(settings, sha2), sha2)
        lone.rollback()
    assert not blob_path(settings, sha2).exists()
