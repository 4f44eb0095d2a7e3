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
batch still running has kept (its entry not committed yet) is fresh and stays; the
batch touches its copies again as it commits (copying anew one a sweep took), so even a
batch longer than the grace commits entries naming copies that are there. Deciding when
an entry closes raced with such a batch (the copy was deleted under it), cost one search
of the open entries per file, and missed the copy an entry stopped naming when a replay
re-kept another file. The sweep runs at the end of a replay and of a discard, with the
daily quality run, and at the end of a transaction that kept a file when none ran for
:data:`SWEEP_EVERY`; it reads the names of all open entries' copies in one query. A
transaction that rolls back (a dry run, a failed batch) removes at once the copies it
moved in itself (not those it found there and only touched), unless one was touched since
or an open entry names it (the open entries' names are read once, as a sweep reads them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TypedDict

from sqlalchemy import Engine, event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction

from standards.privacy import mask_text
from standards.records import Material
from standards.validation.findings import Finding
from standards.validation.material_files import check_material_file, safe_relative_path
from tongyuan.config import Settings
from tongyuan.db.engine import make_engine
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
# A transaction that kept a file sweeps only if no sweep ran for this long (a marker
# file's mtime says when one last did); a replay, a discard and the quality run always do.
SWEEP_EVERY = timedelta(minutes=10)
ASIDE_FOLDER = ".swept"  # inside the kept area: moving a copy aside never crosses a mount
_MARKER = ".last-sweep"
# An aside file this old was left by a sweep that stopped between its two steps.
_STRANDED = timedelta(hours=1)

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


@dataclass
class _Kept:
    """What this session's transaction did to the kept area (``session.info``)."""

    settings: Settings
    sweep: bool = False  # released a copy: the end sweeps whatever the last sweep's time
    committed: bool = False
    # Copies it moved in, with their mtime: removed again if it rolls back, unless
    # touched since or named by an open entry.
    created: dict[str, int] = field(default_factory=dict)
    # Every copy it kept, with its source: touched again (re-copied if gone) at commit.
    sources: dict[str, Path] = field(default_factory=dict)


def _state(session: Session, settings: Settings) -> _Kept:
    state: _Kept | None = session.info.get(_SESSION_KEY)
    if state is None:
        state = session.info[_SESSION_KEY] = _Kept(settings)
    return state


class _Refused(Exception):
    """The copy's content is refused (a hostile archive, a polyglot): not kept."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__(", ".join(f.rule for f in findings))
        self.findings = findings


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
    judged yet could not be kept (missing — also when it goes between its check and its
    copy —, unsafe path, size, sha256, size limit, a hostile archive or polyglot not
    already among ``findings``); a material whose findings already refuse its file, or
    with no folder known, keeps none. The content is judged on the verified temporary
    copy before it enters the kept area (never by reading the kept copy, which a sweep
    may be moving). The hub failing to write or read its copy (a full disk, EIO) is no
    fault of the department's: it is logged and the entry keeps no copy, with no rule.
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
    try:
        source = source_path.open("rb")  # the department's side: its errors are its own
    except OSError as exc:
        message = (
            f"file {material.file} could not be read any more when it was to be kept for "
            f"replay ({type(exc).__name__}): it was removed or changed during the read"
        )
        return None, [Finding("material.file.missing", message, "file")]
    with source:
        return _keep(settings, session, material, findings, source, source_path, limits)


def _keep(
    settings: Settings,
    session: Session,
    material: Material,
    findings: list[Finding],
    source: Any,
    source_path: Path,
    limits: MaterialLimits,
) -> tuple[str | None, list[Finding]]:
    """Copy the opened ``source`` into the kept area, judged on its way in."""

    def judge(tmp: Path) -> None:
        hazards = unsafe_content(tmp, sniff_file(tmp), limits, material.file)
        if hazards:
            raise _Refused(hazards)

    created: list[bool] = []
    try:
        target = kept_path(settings, material.sha256)
        sha256, _ = store_blob(
            settings, source, expected_sha256=material.sha256,
            max_bytes=limits.max_file_bytes, root=kept_root(settings), inspect=judge,
            placed=created.append,
        )  # fmt: skip
    except _Refused as refused:
        # Admission may have found the same already (a polyglot): the entry says it once.
        return None, [h for h in refused.findings if h not in findings]
    except BlobStoreError as exc:
        # Changed since it was checked: the entry says so, and keeps no copy.
        message = f"file {material.file} could not be kept for replay: {exc}"
        return None, [Finding("material.file.sha256", message, "sha256")]
    except OSError as exc:
        _log_not_kept(settings, material, exc)
        return None, []
    state = _state(session, settings)
    # Ours only if this keep moved it in: one found there (even one another batch placed
    # while this keep read the source) is another's, whatever was there before the call.
    if created == [True] or sha256 in state.created:  # ours, or touched again by us
        with contextlib.suppress(OSError):  # a sweep moving it: no copy of ours to undo
            state.created[sha256] = target.stat().st_mtime_ns
    state.sources[sha256] = source_path
    return sha256, []


def _log_not_kept(settings: Settings, material: Material, exc: OSError) -> None:
    log.warning(
        "%s",
        mask_text(
            f"material {material.material_id}: its file {material.file} was not kept "
            f"for replay in {kept_root(settings)}: {type(exc).__name__}: {exc}"
        ),
    )


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


class KeptCopyState(TypedDict):
    sha256: str
    state: Literal["present", "missing", "released"]


def kept_copy_state(
    settings: Settings, status: str, origin: dict[str, Any] | None
) -> KeptCopyState | None:
    """The entry's kept copy for ``quarantine show``: None when it kept none.

    ``present``: an open entry's copy is there for its replay; ``missing``: it is gone
    (removed by hand, a database restored without its files) and the replay needs the
    file again; ``released``: the entry is closed and its copy is left to the sweep.
    """
    sha256 = (origin or {}).get(ORIGIN_KEY)
    if not isinstance(sha256, str):
        return None
    if status != "open":
        return {"sha256": sha256, "state": "released"}
    try:
        present = kept_path(settings, sha256).is_file()
    except BlobStoreError:
        present = False
    return {"sha256": sha256, "state": "present" if present else "missing"}


def describe_kept_copy(state: KeptCopyState) -> str:
    """The line ``quarantine show`` prints for :func:`kept_copy_state`."""
    sha256 = state["sha256"]
    if state["state"] == "released":
        return f"material file kept while the entry was open: sha256 {sha256} (not any more)"
    if state["state"] == "present":
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
        _state(session, settings).sweep = True


def sweep_kept_files(settings: Settings, engine: Engine, *, grace: timedelta = KEPT_GRACE) -> int:
    """Remove the kept copies no open entry names and older than ``grace``; how many.

    One query reads the names of all open material entries' copies (on SQLite through a
    DEFERRED reader: it runs beside a writer instead of waiting for its lock). A copy
    named by an entry a running batch has not committed yet was touched by that batch
    when it kept it, so it is younger than ``grace`` and stays. Never raises: a file or a
    folder it cannot handle is counted, logged and left for the next sweep, and the
    others are swept.
    """
    root = kept_root(settings)
    if not root.is_dir():
        return 0
    _touch_marker(root)
    try:
        named = _named_copies(engine)
    except SQLAlchemyError as exc:
        log.warning("%s", mask_text(f"sweep of {root} stopped: {type(exc).__name__}: {exc}"))
        return 0
    cutoff_ns = time.time_ns() - int(grace.total_seconds() * 1e9)
    errors: list[OSError] = []
    _clean_aside(settings, named, cutoff_ns, errors)
    removed = 0
    for path in _kept_files(root, errors):
        if path.name in named:
            continue
        try:
            if _remove_if_stale(root, path, cutoff_ns):
                removed += 1
                _prune(path.parent, root)
        except OSError as exc:
            errors.append(exc)
    if removed:
        log.info("removed %d kept material file(s) no open entry names from %s", removed, root)
    if errors:
        first = errors[0]
        log.warning(
            "%s",
            mask_text(
                f"sweep of {root}: {len(errors)} file(s) or folder(s) left as they were, "
                f"first {type(first).__name__}: {first}"
            ),
        )
    return removed


def _named_copies(engine: Engine) -> set[str]:
    named = QuarantineEntry.origin[ORIGIN_KEY].as_string()
    query = (
        select(named)
        .where(QuarantineEntry.kind == "material", QuarantineEntry.status == "open")
        .where(named.is_not(None))
        .distinct()
    )
    if engine.dialect.name != "sqlite":
        with engine.connect() as connection:
            return set(connection.scalars(query))
    # The hub's engine begins IMMEDIATE: it would wait for (and fail after) any writer.
    reader = make_engine(engine.url, sqlite_begin="DEFERRED")
    try:
        with reader.connect() as connection:
            return set(connection.scalars(query))
    finally:
        reader.dispose()


def _kept_files(root: Path, errors: list[OSError]) -> Iterator[Path]:
    """The files of the kept area (``ab/cd/<sha256>``); other names are left alone.

    A folder that cannot be read (another user's, removed meanwhile) is counted in
    ``errors`` and skipped."""
    for first in _folders(root, errors):
        for second in _folders(first, errors):
            try:
                with os.scandir(second) as entries:
                    files = [Path(e.path) for e in entries if e.is_file(follow_symlinks=False)]
            except OSError as exc:
                errors.append(exc)
                continue
            yield from files


def _folders(folder: Path, errors: list[OSError]) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return [
                Path(e.path)
                for e in entries
                if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
            ]
    except OSError as exc:
        errors.append(exc)
        return []


def _aside_path(root: Path, name: str) -> Path:
    return root / ASIDE_FOLDER / f"{name}.{os.getpid()}-{os.urandom(4).hex()}.swept"


def _remove_if_stale(root: Path, path: Path, cutoff_ns: int) -> bool:
    """Remove ``path`` if it was last kept before ``cutoff_ns``.

    It is first moved aside (into the kept area's own ``.swept`` folder), then looked
    at: a batch that touched it before the move is seen (the file is put back), and one
    that comes to touch it after finds it gone and copies it anew
    (:func:`tongyuan.libraries.materials.store_blob`), so no batch is left naming a
    removed copy.
    """
    try:
        if path.stat().st_mtime_ns >= cutoff_ns:
            return False
        aside = _aside_path(root, path.name)
        aside.parent.mkdir(exist_ok=True)
        os.rename(path, aside)
    except FileNotFoundError:
        return False  # another sweep took it
    if aside.stat().st_mtime_ns >= cutoff_ns:
        _put_back(aside, path)
        return False
    aside.unlink()
    return True


def _put_back(aside: Path, path: Path) -> None:
    """Move ``aside`` back to ``path``; a newer copy there is the same bytes.

    A sweep's :func:`_prune` may remove the shard folder between the mkdir and the move:
    tried again. Failing, the aside file stays for :func:`_clean_aside`."""
    for attempt in range(3):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(aside, path)
            return
        except FileNotFoundError:
            if attempt == 2 or not aside.exists():
                raise


def _clean_aside(
    settings: Settings, named: set[str], cutoff_ns: int, errors: list[OSError]
) -> None:
    """Settle the aside files a sweep left (it stopped between moving a copy aside and
    removing or putting it back): one still named or recent goes back where it was if
    no copy is there, any other is removed."""
    folder = kept_root(settings) / ASIDE_FOLDER
    stranded_ns = time.time_ns() - int(_STRANDED.total_seconds() * 1e9)
    try:
        with os.scandir(folder) as entries:
            asides = [Path(e.path) for e in entries if e.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return
    except OSError as exc:
        errors.append(exc)
        return
    for aside in asides:
        try:
            st = aside.stat()
            if st.st_ctime_ns >= stranded_ns:
                continue  # a sweep running now
            sha256 = aside.name.split(".", 1)[0]
            path = kept_path(settings, sha256)
            if (sha256 in named or st.st_mtime_ns >= cutoff_ns) and not path.exists():
                _put_back(aside, path)
            else:
                aside.unlink()
        except (OSError, BlobStoreError) as exc:
            errors.append(exc if isinstance(exc, OSError) else OSError(str(exc)))


def _touch_marker(root: Path) -> None:
    with contextlib.suppress(OSError):  # the sweep says what it cannot do
        (root / _MARKER).touch()


def _sweep_due(settings: Settings) -> bool:
    """Whether the last sweep (by the marker's mtime) is older than :data:`SWEEP_EVERY`."""
    try:
        last = (kept_root(settings) / _MARKER).stat().st_mtime
    except OSError:
        return True
    return time.time() - last >= SWEEP_EVERY.total_seconds()


@event.listens_for(Session, "before_commit")
def _touch_before_commit(session: Session) -> None:
    """Touch this transaction's copies again as it commits: a batch longer than the
    grace would otherwise commit entries naming copies a sweep judged stale. A copy a
    sweep took meanwhile is copied anew from its source (if it is still there)."""
    state: _Kept | None = session.info.get(_SESSION_KEY)
    if state is None or session.in_nested_transaction():
        return  # a savepoint's commit: the batch goes on
    for sha256, source in state.sources.items():
        mtime_ns = _retouch(state.settings, sha256, source)
        if mtime_ns is not None and sha256 in state.created:
            state.created[sha256] = mtime_ns


def _retouch(settings: Settings, sha256: str, source: Path) -> int | None:
    """Touch the kept copy ``sha256``, or copy it anew from ``source``; its mtime."""
    try:
        return _copy_or_touch(settings, sha256, source)
    except (OSError, BlobStoreError) as exc:
        message = f"kept copy {sha256} could not be touched or copied again from {source}"
        log.warning("%s", mask_text(f"{message}: {type(exc).__name__}: {exc}"))
        return None


def _copy_or_touch(settings: Settings, sha256: str, source: Path) -> int:
    target = kept_path(settings, sha256)
    try:
        os.utime(target)
    except FileNotFoundError:
        limit = MaterialLimits.from_environ().max_file_bytes
        store_blob(
            settings, source, expected_sha256=sha256, max_bytes=limit, root=kept_root(settings)
        )
    return target.stat().st_mtime_ns


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    state: _Kept | None = session.info.get(_SESSION_KEY)
    if state is not None and not session.in_nested_transaction():
        state.committed = True


@event.listens_for(Session, "after_transaction_end")
def _sweep_after_keeping(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that kept or released a file ends: a rolled-back one (a dry run, a
    failed batch) removes the copies it moved in (:func:`_undo_created`); then the area
    is swept — always after a release, at most every :data:`SWEEP_EVERY` after a keep."""
    if transaction.parent is not None:
        return  # a savepoint: the batch goes on
    state: _Kept | None = session.info.pop(_SESSION_KEY, None)
    if state is None:
        return
    if not state.committed and state.created:
        _undo_created(state, session.get_bind())
    if state.sweep or _sweep_due(state.settings):
        sweep_kept_files(state.settings, session.get_bind())


def _undo_created(state: _Kept, engine: Engine) -> None:
    """Remove the copies a rolled-back transaction moved in, except one touched since
    (a batch still running kept it too) or one an open entry names (a batch that kept
    the same content and committed): the open entries' names are read once, beside any
    writer (:func:`_named_copies`). Unable to read them, it removes nothing: the sweep
    takes the unnamed copies once they are old."""
    root = kept_root(state.settings)
    try:
        named = _named_copies(engine)
    except SQLAlchemyError as exc:
        message = f"copies kept by a rolled-back transaction left in {root} for the sweep"
        log.warning("%s", mask_text(f"{message}: {type(exc).__name__}: {exc}"))
        return
    for sha256, mtime_ns in state.created.items():
        if sha256 in named:
            continue
        path = blob_path(state.settings, sha256, root)
        try:
            if _remove_if_stale(root, path, mtime_ns + 1):
                _prune(path.parent, root)
        except OSError as exc:
            log.warning("%s", mask_text(f"kept copy {path} left: {type(exc).__name__}: {exc}"))


def _prune(folder: Path, root: Path) -> None:
    """Remove the shard folders a removed file leaves empty (never the area itself)."""
    while folder != root and folder.is_relative_to(root):
        try:
            os.rmdir(folder)
        except OSError:
            return  # not empty, or gone
        folder = folder.parent
