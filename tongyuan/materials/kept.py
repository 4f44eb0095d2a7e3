"""Material files kept for quarantined materials, so that a replay needs no re-delivery.

A remote source (``sftp``) downloads a material's file into a staging tree that is
removed when the read ends; a local drop folder may be cleaned by the department. A
material the hub quarantines for a rule unrelated to its file (a holder ID a wrong
mapping code made invalid, a bad validity, a media type the mapping declared wrongly)
would then lose the file it was delivered with, and replaying it after the fix would
need the department to deliver it again.

So when the hub quarantines a material whose file is there and verified (a plain path
inside the delivery's folder, a regular file, the record's ``size`` within
``TONGYUAN_MATERIAL_MAX_BYTES``, the record's ``sha256``), it copies the file into a
content-addressed area of the blob store of its own, ``<blobs>/quarantine/ab/cd/<sha256>``
— never the library's ``<blobs>/ab/cd/…``, so a kept file is no library material, is not
offered for reuse and is not looked at by the integrity suite. The entry's origin names
it (``kept_file``: the digest). A file that failed its own checks (missing, unsafe path,
size, sha256, size limit, a hostile archive) is not kept: the entry's rules say why.

A replay admits the kept copy like any delivered file (the checks of
:func:`tongyuan.materials.intake.admit_material_file`), into the library's store. A kept
file is removed once no open entry names it: its entry resolved (accepted, superseded)
or discarded, or the transaction that kept it rolled back (a dry run, a failed batch).
The removal happens when the outermost transaction has ended, and only for a file no
committed open entry names and no other batch has touched since (as
:mod:`tongyuan.materials.pending_blobs` does for the library's blobs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from standards.records import Material
from standards.validation.findings import Finding
from standards.validation.material_files import check_material_file, safe_relative_path
from tongyuan.config import Settings
from tongyuan.libraries.materials import BlobStoreError, blob_path, store_blob
from tongyuan.libraries.quarantine import KEPT_FILE, QuarantineEntry
from tongyuan.materials.limits import MaterialLimits

KEPT_FOLDER = "quarantine"  # under the blob store; no shard folder is named like it
ORIGIN_KEY = KEPT_FILE  # in a quarantine entry's origin: the kept file's sha256

# Findings that say the file itself is not what was delivered, or must not be kept.
_NOT_KEPT = frozenset(
    {
        "material.file.missing",
        "material.file.unsafe_path",
        "material.file.size",
        "material.file.sha256",
        "material.size.limit",
    }
)
_SESSION_KEY = "tongyuan.materials.kept"


def kept_root(settings: Settings) -> Path:
    return settings.blobs_dir / KEPT_FOLDER


def kept_path(settings: Settings, sha256: str) -> Path:
    """Where the kept copy of content ``sha256`` lives (BlobStoreError for a bad digest)."""
    return blob_path(settings, sha256, kept_root(settings))


def _file_refused(findings: list[Finding]) -> bool:
    """Whether a finding says the file failed its own checks: such a file is not kept.

    A hostile archive (``material.archive.*``) is refused by its content, which no fix
    elsewhere changes, so it is not kept on the hub's disk either.
    """
    return any(f.rule in _NOT_KEPT or f.rule.startswith("material.archive.") for f in findings)


def keep_material_file(
    settings: Settings,
    session: Session,
    material: Material,
    findings: list[Finding],
    *,
    base_dir: Path | None,
    source_path: Path | None = None,
) -> tuple[str | None, list[Finding]]:
    """Keep the file of a material being quarantined; (its sha256 or None, new findings).

    ``source_path`` is the file itself when it is known (a replay's kept copy), else it
    is ``material.file`` under ``base_dir``. The new findings say why a file that was not
    judged yet could not be kept (missing, unsafe path, size, sha256, size limit); a
    material whose findings already refuse its file, or with no folder known, keeps none.
    """
    if _file_refused(findings) or (source_path is None and base_dir is None):
        return None, []
    limits = MaterialLimits.from_environ()
    if material.size > limits.max_file_bytes:
        return None, []  # admission refuses it too (material.size.limit)
    if source_path is None:
        assert base_dir is not None
        problems = check_material_file(material, base_dir)
        if problems:
            return None, problems
        source_path = safe_relative_path(base_dir, material.file)
        assert source_path is not None  # check_material_file refused an unsafe name
    target = kept_path(settings, material.sha256)
    existed = target.exists()
    try:
        sha256, _ = store_blob(
            settings, source_path, expected_sha256=material.sha256,
            max_bytes=limits.max_file_bytes, root=kept_root(settings),
        )  # fmt: skip
    except (BlobStoreError, OSError) as exc:
        # Changed since it was checked: the entry says so, and keeps no copy.
        message = f"file {material.file} could not be kept for replay: {exc}"
        return None, [Finding("material.file.sha256", message, "sha256")]
    if not existed:
        _note(session, target, sha256)
    return sha256, []


def with_kept_file(origin: dict[str, Any] | None, sha256: str | None) -> dict[str, Any] | None:
    """``origin`` naming the kept file (a copy: a pull's origin is shared by its records)."""
    if sha256 is None:
        return origin
    return {**(origin or {}), ORIGIN_KEY: sha256}


def kept_copy(settings: Settings, origin: dict[str, Any] | None, material: Any) -> Path | None:
    """The kept file a replay admits for ``material``, if the entry has one for its content.

    Only a regular file whose digest is the record's ``sha256`` and whose size is its
    ``size`` (the record as replayed now; a fixed mapping may describe another file):
    otherwise the replay looks for the file where the delivery was, as before.
    """
    sha256 = (origin or {}).get(ORIGIN_KEY)
    if not isinstance(material, Material) or not isinstance(sha256, str):
        return None
    if sha256 != material.sha256:
        return None
    try:
        path = kept_path(settings, sha256)
        st = path.lstat()
    except (BlobStoreError, OSError):
        return None
    if not path.is_file() or path.is_symlink() or st.st_size != material.size:
        return None
    return path


def release_kept_file(settings: Settings, session: Session, origin: dict[str, Any] | None) -> None:
    """The entry with this (displayable) origin leaves ``open``: its kept file goes once
    the transaction has ended, unless another open entry still names it."""
    sha256 = (origin or {}).get(ORIGIN_KEY)
    if not isinstance(sha256, str):
        return
    try:
        path = kept_path(settings, sha256)
    except BlobStoreError:
        return
    if path.exists():
        _note(session, path, sha256)


def _note(session: Session, path: Path, sha256: str) -> None:
    session.info.setdefault(_SESSION_KEY, {})[sha256] = (path, path.stat().st_mtime_ns)


@event.listens_for(Session, "after_transaction_end")
def _remove_unreferenced(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint: the batch goes on
    noted: dict[str, tuple[Path, int]] | None = session.info.pop(_SESSION_KEY, None)
    if not noted:
        return
    named = QuarantineEntry.origin[ORIGIN_KEY].as_string()
    with session.get_bind().connect() as connection:
        for sha256, (path, mtime_ns) in noted.items():
            referenced = connection.execute(
                select(QuarantineEntry.id)
                .where(QuarantineEntry.kind == "material", QuarantineEntry.status == "open")
                .where(named == sha256)
                .limit(1)
            ).first()
            try:
                untouched = path.stat().st_mtime_ns == mtime_ns
            except FileNotFoundError:
                continue
            if referenced is None and untouched:
                path.unlink(missing_ok=True)
                _prune(path.parent, kept_root_of(path))


def kept_root_of(path: Path) -> Path:
    """The kept area a kept file lies in (``quarantine/ab/cd/<sha256>``)."""
    return path.parent.parent.parent


def _prune(folder: Path, root: Path) -> None:
    """Remove the shard folders a removed file leaves empty (never the area itself)."""
    while folder != root and folder.is_relative_to(root):
        try:
            os.rmdir(folder)
        except OSError:
            return  # not empty, or gone
        folder = folder.parent
