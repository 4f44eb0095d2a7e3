"""Named locks between processes that share one library database.

Two runs of the same job over the same source (two ``tongyuan ingest`` of one department,
a CLI run beside the Airflow task) would read the same delivery and race to insert the
same rows: one of them ends in a unique-key error after doing all the work. A named lock
taken for the whole job makes the second one stop at once with a clear message instead.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection
  of its own in autocommit mode, held while the job runs. Every hub process that reaches
  the database sees it, wherever it runs; the server drops it when the holder's
  connection goes, so a killed run never leaves it behind.
- SQLite: an exclusive ``flock`` on a file in ``locks/`` beside the database file (for an
  in-memory or URI database, in ``locks/`` of the hub's data directory). The database's
  own write lock cannot serve: a job commits several transactions and must hold the lock
  between them. The kernel drops the lock when the holder dies; the file stays, empty.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from tongyuan.db.engine import make_engine, normalize_url

LOCKS_DIR_NAME = "locks"


class LockBusy(RuntimeError):
    """Another process holds the named lock; nothing was done."""

    def __init__(self, name: str) -> None:
        super().__init__(f"lock {name!r} is held by another process")
        self.name = name


def advisory_key(name: str) -> int:
    """The signed 64-bit PostgreSQL advisory key of ``name`` (stable across processes)."""
    digest = hashlib.sha256(f"tongyuan:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file(database_url: str, name: str, fallback_dir: Path) -> Path:
    """Where the SQLite lock of ``name`` lives: ``locks/`` beside the database file, so
    that every hub home pointed at one database file takes the same lock."""
    database = make_url(database_url).database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().resolve().parent / LOCKS_DIR_NAME
    else:
        folder = fallback_dir / LOCKS_DIR_NAME
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return folder / f"{safe}.lock"


@contextmanager
def exclusive_lock(database_url: str, name: str, *, fallback_dir: Path) -> Iterator[None]:
    """Hold the lock ``name`` for the library database at ``database_url``, or raise
    :class:`LockBusy` at once if another process holds it (never waits)."""
    with _lock(database_url, name, fallback_dir, shared=False):
        yield


@contextmanager
def shared_lock(database_url: str, name: str, *, fallback_dir: Path) -> Iterator[None]:
    """Hold ``name`` shared: any number of shared holders at once, none beside an
    exclusive one. The steps of one Airflow sync run (mapped tasks in parallel) share the
    lock a whole ``tongyuan sync items`` takes exclusively, so each keeps out of the
    other; raises :class:`LockBusy` at once while the exclusive holder runs."""
    with _lock(database_url, name, fallback_dir, shared=True):
        yield


@contextmanager
def _lock(database_url: str, name: str, fallback_dir: Path, *, shared: bool) -> Iterator[None]:
    if normalize_url(database_url).get_backend_name() == "postgresql":
        with _advisory_lock(database_url, name, shared=shared):
            yield
    else:
        with _file_lock(lock_file(database_url, name, fallback_dir), name, shared=shared):
            yield


@contextmanager
def _advisory_lock(database_url: str, name: str, *, shared: bool = False) -> Iterator[None]:
    key = advisory_key(name)
    kind = "_shared" if shared else ""
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            taken = conn.execute(text(f"SELECT pg_try_advisory_lock{kind}(:key)"), {"key": key})
            if not taken.scalar_one():
                raise LockBusy(name)
            try:
                yield
            finally:
                # A lost connection has taken the lock with it: nothing to release then.
                with contextlib.suppress(SQLAlchemyError):
                    conn.execute(text(f"SELECT pg_advisory_unlock{kind}(:key)"), {"key": key})
    finally:
        engine.dispose()


@contextmanager
def _file_lock(path: Path, name: str, *, shared: bool = False) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(name) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
