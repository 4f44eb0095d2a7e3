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

The copy is judged like an admitted file's: a hostile archive or a zip hidden behind
another header (:func:`tongyuan.materials.intake.unsafe_content`) is not kept, and the
entry gets the rule it broke. A declared media type the content disagrees with does not
stop the keeping: a fixed mapping may declare the right one.

A replay admits the kept copy like any delivered file (the checks of
:func:`tongyuan.materials.intake.admit_material_file`), into the library's store.

Kept copies are removed only by a sweep (:func:`sweep_kept_files`), never when an entry
closes: one that no open entry names and that is older than :data:`KEPT_GRACE` by its
modification time goes. Keeping content already kept touches the file, so a copy a
batch still running has kept (its entry not committed yet) is fresh and stays; the grace
is longer than any batch. Deciding when an entry closes raced with such a batch (the
copy was deleted under it), cost one search of the open entries per file, and missed
the copy an entry stopped naming when a replay re-kept another file. The sweep runs
once per transaction that kept a file, at the end of a replay and of a discard, and with
the daily quality run; it reads the names of all open entries' copies in one query.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction

from standards.privacy import mask_text
from standards.records import Material
from standards.validation.findings import Finding
from standards.validation.material_files import check_material_file, safe_relative_path
from tongyuan.config import Settings
from tongyuan.libraries.materials import BlobStoreError, blob_path, store_blob
from tongyuan.libraries.quarantine import KEPT_FILE, QuarantineEntry
from tongyuan.materials.intake import unsafe_content
from tongyuan.materials.limits import MaterialLimits
from tongyuan.materials.sniff import sniff_file

log = logging.getLogger(__name__)

KEPT_FOLDER = "quarantine"  # under the blob store; no shard folder is named like it
ORIGIN_KEY = KEPT_FILE  # in a quarantine entry's origin: the kept file's sha256
# How old an unnamed kept copy must be before a sweep removes it: longer than any batch,
# so that a copy a running batch kept (entry not committed yet) is never removed.
KEPT_GRACE = timedelta(hours=24)

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
    judged yet could not be kept (missing, unsafe path, size, sha256, size limit, a
    hostile archive); a material whose findings already refuse its file, or with no
    folder known, keeps none. The hub failing to write its copy (a full disk) is no fault
    of the department's: it is logged and the entry keeps no copy, with no rule.
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
        sha256 = _copy(settings, source_path, material, limits)
    except BlobStoreError as exc:
        # Changed since it was checked: the entry says so, and keeps no copy.
        message = f"file {material.file} could not be kept for replay: {exc}"
        return None, [Finding("material.file.sha256", message, "sha256")]
    except OSError as exc:
        log.warning(
            "%s",
            mask_text(
                f"material {material.material_id}: its file {material.file} was not kept "
                f"for replay in {kept_root(settings)}: {type(exc).__name__}: {exc}"
            ),
        )
        return None, []
    session.info[_SESSION_KEY] = settings  # this transaction's end sweeps the area
    hazards = unsafe_content(target, sniff_file(target), limits, material.file)
    if hazards:
        if not existed:
            target.unlink(missing_ok=True)
        return None, hazards
    return sha256, []


def _copy(settings: Settings, source: Path, material: Material, limits: MaterialLimits) -> str:
    """Copy (or touch, when already kept) the file into the kept area; its sha256.

    Tried twice: a sweep may set the kept copy aside between the store finding it and
    touching it (FileNotFoundError), and the second try copies it anew.
    """
    for last in (False, True):
        try:
            sha256, _ = store_blob(
                settings, source, expected_sha256=material.sha256,
                max_bytes=limits.max_file_bytes, root=kept_root(settings),
            )  # fmt: skip
            return sha256
        except FileNotFoundError:
            if last:
                raise
    raise AssertionError("unreachable")


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


def kept_copy_state(settings: Settings, status: str, origin: dict[str, Any] | None) -> str | None:
    """What ``quarantine show`` says of an entry's kept copy: None when it kept none.

    Only an open entry's copy is there for its replay; a closed entry's is left to the
    sweep, and a copy can be lost (removed by hand, a database restored without its
    files), when the replay needs the file again.
    """
    sha256 = (origin or {}).get(ORIGIN_KEY)
    if not isinstance(sha256, str):
        return None
    if status != "open":
        return f"material file kept while the entry was open: sha256 {sha256} (not any more)"
    try:
        present = kept_path(settings, sha256).is_file()
    except BlobStoreError:
        present = False
    if present:
        return f"material file kept for replay: sha256 {sha256}"
    return (
        f"material file kept for replay: sha256 {sha256} — the copy is gone: a replay needs "
        "the file delivered again or --files-dir"
    )


def release_kept_file(settings: Settings, session: Session, origin: dict[str, Any] | None) -> None:
    """The entry with this (displayable) origin leaves ``open``: the end of this
    transaction sweeps, and its copy goes once no open entry names it and it is older
    than :data:`KEPT_GRACE` (this sweep or a later one)."""
    if isinstance((origin or {}).get(ORIGIN_KEY), str):
        session.info[_SESSION_KEY] = settings


def sweep_kept_files(settings: Settings, engine: Engine, *, grace: timedelta = KEPT_GRACE) -> int:
    """Remove the kept copies no open entry names and older than ``grace``; how many.

    One query reads the names of all open material entries' copies. A copy named by an
    entry a running batch has not committed yet was touched by that batch when it kept
    it, so it is younger than ``grace`` and stays. Never raises: a sweep that fails
    leaves the files for the next one and says so in the log.
    """
    root = kept_root(settings)
    if not root.is_dir():
        return 0
    try:
        named = _named_copies(engine)
        cutoff_ns = time.time_ns() - int(grace.total_seconds() * 1e9)
        removed = 0
        for path in _kept_files(root):
            if path.name not in named and _remove_if_stale(settings, path, cutoff_ns):
                removed += 1
                _prune(path.parent, root)
    except (OSError, SQLAlchemyError) as exc:
        log.warning("%s", mask_text(f"sweep of {root} stopped: {type(exc).__name__}: {exc}"))
        return 0
    if removed:
        log.info("removed %d kept material file(s) no open entry names from %s", removed, root)
    return removed


def _named_copies(engine: Engine) -> set[str]:
    named = QuarantineEntry.origin[ORIGIN_KEY].as_string()
    query = (
        select(named)
        .where(QuarantineEntry.kind == "material", QuarantineEntry.status == "open")
        .where(named.is_not(None))
        .distinct()
    )
    with engine.connect() as connection:
        return set(connection.scalars(query))


def _kept_files(root: Path) -> Iterator[Path]:
    """The files of the kept area (``ab/cd/<sha256>``); other names are left alone."""
    for first in _folders(root):
        for second in _folders(first):
            with os.scandir(second) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False):
                        yield Path(entry.path)


def _folders(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:
        return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]


def _remove_if_stale(settings: Settings, path: Path, cutoff_ns: int) -> bool:
    """Remove ``path`` if it was last kept before ``cutoff_ns``.

    It is first moved aside, then looked at: a batch that touched it before the move is
    seen (the file is put back), and one that comes to touch it after finds it gone and
    copies it anew (:func:`_copy`), so no batch is left naming a removed copy.
    """
    try:
        if path.stat().st_mtime_ns >= cutoff_ns:
            return False
        aside = (
            settings.blobs_dir / "tmp" / f"{path.name}.{os.getpid()}-{os.urandom(4).hex()}.swept"
        )
        aside.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path, aside)
    except FileNotFoundError:
        return False  # another sweep took it
    if aside.stat().st_mtime_ns >= cutoff_ns:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(aside, path)  # a newer copy of the same content there is the same bytes
        return False
    aside.unlink()
    return True


@event.listens_for(Session, "after_transaction_end")
def _sweep_after_keeping(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that kept a file (a pull, an ingest, a load) sweeps when it ends."""
    if transaction.parent is not None:
        return  # a savepoint: the batch goes on
    settings: Settings | None = session.info.pop(_SESSION_KEY, None)
    if settings is not None:
        sweep_kept_files(settings, session.get_bind())


def _prune(folder: Path, root: Path) -> None:
    """Remove the shard folders a removed file leaves empty (never the area itself)."""
    while folder != root and folder.is_relative_to(root):
        try:
            os.rmdir(folder)
        except OSError:
            return  # not empty, or gone
        folder = folder.parent
