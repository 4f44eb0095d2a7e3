"""The material library: manifests in the database, files in a content-addressed store.

Files are stored once per content (sha256), under ``<blobs>/ab/cd/<sha256>``. A blob is
written to a temporary file in the store, hashed while it is copied, synced, and only then
renamed into place, so a crash or a hash mismatch never leaves a partial or wrong file
under a content address.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO, Literal

from sqlalchemy import BigInteger, Date, ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from standards.records import Material
from tongyuan.config import Settings
from tongyuan.libraries.base import Base, UtcDateTime, json_hash, utcnow
from tongyuan.libraries.protected import protect_id
from tongyuan.privacy import PiiProtector

WriteOutcome = Literal["added", "changed", "unchanged"]

DEFAULT_MAX_BLOB_BYTES = 512 * 1024 * 1024
_CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStoreError(ValueError):
    """A file could not be stored: too large, or not the content it claimed to be."""


class BlobRow(Base):
    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(127))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # What the content itself says it is (magic bytes), beside the declared type (0007).
    sniffed_media_type: Mapped[str | None] = mapped_column(String(127))


class MaterialRow(Base):
    __tablename__ = "materials"

    material_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    material_type: Mapped[str] = mapped_column(String(64))
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_id_type: Mapped[str] = mapped_column(String(8))
    holder_id_enc: Mapped[str] = mapped_column(Text)
    holder_id_hash: Mapped[str] = mapped_column(String(64), index=True)
    holder_id_masked: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    file_name: Mapped[str] = mapped_column(String(255))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    source_case: Mapped[str | None] = mapped_column(String(64), index=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


def blob_path(settings: Settings, sha256: str, root: Path | None = None) -> Path:
    """Where content ``sha256`` lives under ``root`` (the blob store unless given)."""
    if not _SHA256.match(sha256):
        raise BlobStoreError(f"not a lower-case sha256 hex digest: {sha256!r}")
    return (root or settings.blobs_dir) / sha256[:2] / sha256[2:4] / sha256


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_blob(
    settings: Settings,
    source_path: Path | str | BinaryIO,
    expected_sha256: str | None = None,
    max_bytes: int = DEFAULT_MAX_BLOB_BYTES,
    *,
    root: Path | None = None,
    inspect: Callable[[Path], None] | None = None,
    placed: Callable[[bool], None] | None = None,
) -> tuple[str, int]:
    """Copy a file into the store; returns its (sha256, size). Idempotent by content.

    ``root`` is another content-addressed area of the store with the same layout (the
    files kept for quarantined materials, :mod:`tongyuan.materials.kept`).
    ``source_path`` may be a file the caller opened (binary, read from its position), so
    that failing to open the source is told apart from failing to write the store.
    ``inspect`` judges the verified temporary copy before it enters the store (it raises
    to refuse it): the bytes judged are the bytes stored, and a refused file is never
    written, nor an existing copy touched. ``placed`` is told whether this call moved the
    file in (True) or found it there and only touched it (False): a caller that undoes
    what it created (a rolled-back transaction) must not take a copy another batch placed
    while this one was reading, hashing or inspecting the source, whatever it saw before
    the call."""
    if expected_sha256 is not None:
        expected_sha256 = expected_sha256.strip().lower()
        blob_path(settings, expected_sha256)  # validates the digest's shape up front
    tmp_dir = settings.blobs_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    tmp = tmp_dir / f"{os.getpid()}-{os.urandom(8).hex()}.part"
    label = _source_label(source_path)
    try:
        with _reader(source_path) as reader, tmp.open("xb") as writer:
            while chunk := reader.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise BlobStoreError(f"{label}: file exceeds the limit of {max_bytes} bytes")
                digest.update(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        sha256 = digest.hexdigest()
        if expected_sha256 is not None and sha256 != expected_sha256:
            raise BlobStoreError(
                f"{label}: content sha256 is {sha256}, the manifest says {expected_sha256}"
            )
        if inspect is not None:
            inspect(tmp)
        created = _place(tmp, blob_path(settings, sha256, root), size)
        if placed is not None:
            placed(created)
        return sha256, size
    finally:
        tmp.unlink(missing_ok=True)


def _source_label(source: Path | str | BinaryIO) -> str:
    """How errors name the source: its whole path (two deliveries may both hold a
    ``sig.p7s``), an open file's name, or ``<stream>``."""
    if isinstance(source, str | Path):
        return str(source)
    return str(getattr(source, "name", "<stream>"))


def _reader(source: Path | str | BinaryIO) -> contextlib.AbstractContextManager[BinaryIO]:
    """The source to read: a path opened here, or the caller's open file (left open)."""
    if isinstance(source, str | Path):
        return Path(source).open("rb")
    return contextlib.nullcontext(source)


def _place(tmp: Path, target: Path, size: int) -> bool:
    """Move the verified ``tmp`` to ``target`` (True), or touch ``target`` holding it
    already (False).

    Touched: a batch that copied it in and rolls back leaves a file another batch has
    used (tongyuan.materials.pending_blobs), and a sweep of the kept area leaves a copy
    kept recently. Such a sweep may remove the file, or its emptied shard folder, between
    the look and the touch or the move: the copy is then placed anew (a few tries).
    """
    for attempt in range(3):
        try:
            if target.exists() and target.stat().st_size == size:
                os.utime(target)
                return False
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
            return True
        except FileNotFoundError:
            if attempt == 2 or not tmp.exists():
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _ensure_blob(
    session: Session, material: Material, sha256: str, sniffed_media_type: str | None = None
) -> None:
    blob = session.get(BlobRow, sha256)
    if blob is None:
        session.add(
            BlobRow(
                sha256=sha256,
                size=material.size,
                media_type=material.media_type,
                created_at=utcnow(),
                sniffed_media_type=sniffed_media_type,
            )
        )
        session.flush()
        return
    if blob.sniffed_media_type is None and sniffed_media_type is not None:
        blob.sniffed_media_type = sniffed_media_type
    if blob.size != material.size:
        raise BlobStoreError(
            f"material {material.material_id}: manifest size {material.size} differs from the "
            f"stored blob {sha256} ({blob.size} bytes)"
        )


def write_material(
    session: Session,
    batch_id: str,
    material: Material,
    *,
    protector: PiiProtector,
    sha256: str,
    sniffed_media_type: str | None = None,
) -> WriteOutcome:
    """Upsert a material's manifest; ``sha256`` is what :func:`store_blob` returned.

    ``sniffed_media_type`` is what the content's own bytes say (recorded on the blob).
    """
    if material.sha256 != sha256:
        raise BlobStoreError(
            f"material {material.material_id}: manifest sha256 {material.sha256} differs from "
            f"the stored file's {sha256}"
        )
    protected = protect_id(protector, material.holder_id_number, material.holder_id_type)
    doc = material.model_dump(mode="json", exclude_none=True, exclude={"holder_id_number"})
    content_hash = json_hash({**doc, "holder_id_hash": protected.hash})
    row = session.get(MaterialRow, material.material_id)
    if row is not None and row.content_hash == content_hash:
        return "unchanged"
    _ensure_blob(session, material, sha256, sniffed_media_type)
    outcome: WriteOutcome = "changed"
    if row is None:
        row = MaterialRow(material_id=material.material_id)
        session.add(row)
        outcome = "added"
    if row.holder_id_hash != protected.hash:
        row.holder_id_enc = protected.enc
        row.holder_id_hash = protected.hash
    row.holder_id_masked = protected.masked
    row.holder_id_type = material.holder_id_type.value
    row.holder_name = material.holder_name
    row.sha256 = sha256
    row.name = material.name
    row.material_type = material.material_type
    row.media_type = material.media_type
    row.size = material.size
    row.file_name = material.file
    row.valid_from = material.valid_from
    row.valid_to = material.valid_to
    row.source_case = material.source_case
    row.batch_id = batch_id
    row.content_hash = content_hash
    row.updated_at = utcnow()
    session.flush()
    return outcome


def find_material(session: Session, material_id: str) -> MaterialRow | None:
    return session.scalars(
        select(MaterialRow).where(MaterialRow.material_id == material_id)
    ).one_or_none()
