"""Engines and sessions for the library database (SQLite embedded, PostgreSQL at scale)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from adapters.sdk.db_url import safe_url_text

SQLITE_BUSY_TIMEOUT_MS = 30_000

SqliteBegin = Literal["IMMEDIATE", "DEFERRED"]


def normalize_url(url: str | URL) -> URL:
    """Pin the driver: ``postgresql://`` means psycopg 3, never the psycopg2 default."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(
    url: str | URL, *, sqlite_begin: SqliteBegin = "IMMEDIATE", **kwargs: Any
) -> Engine:
    """An engine with the pragmas and transaction handling the hub relies on.

    SQLite transactions begin ``IMMEDIATE`` by default: the write API reads before it
    writes, and a deferred transaction that later needs the write lock fails at once with
    "database is locked" instead of waiting out the busy timeout. Read-only users may pass
    ``sqlite_begin="DEFERRED"`` to let readers run beside a writer.

    Bound parameters are hidden from error messages and SQL logging (``hide_parameters``):
    they are the values of the rows being written — names, serials, encrypted IDs, ID
    hashes — and an error's text ends up in logs, batch meta and the terminal.

    PostgreSQL sessions always use the client encoding UTF8 (:data:`CLIENT_ENCODING`).
    """
    kwargs.setdefault("hide_parameters", True)
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, sqlite_begin, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("json_serializer", jsonb_dumps)
        kwargs["connect_args"] = {**kwargs.get("connect_args", {}), **CLIENT_ENCODING}
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        _require_utf8(engine, parsed)
    return engine


# A "\u0000" escape not itself escaped (an even run of backslashes before it).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def jsonb_dumps(value: Any) -> str:
    """JSON text for PostgreSQL's JSONB, which refuses U+0000 in a string.

    A quarantined payload may hold one — that is why it was quarantined (XML cannot
    carry it either) — and the whole file's batch failed on it. The stored copy of such
    a payload is for display; it shows U+2400 (␀) in its place, while the exact payload
    is kept encrypted beside it. Any other document is written as json.dumps writes it.
    """
    text = json.dumps(value)
    if "\\u0000" in text:
        text = _NUL_ESCAPE.sub(r"\1\\u2400", text)
    return text


# The client encoding of every PostgreSQL session, whatever the URL (``?client_encoding=``),
# PGCLIENTENCODING or ALTER ROLE/DATABASE … SET client_encoding say: libpq's parameter
# wins over all three. The encoding is only how text travels between server and driver
# (Python gets str either way), and every other one breaks the hub: SQL_ASCII hands the
# dialect's first-connect queries bytes (a 338-line TypeError in `db upgrade`), LATIN1
# passes `db upgrade` and fails the first Chinese name written. Forced rather than
# refused: an encoding set for other clients (psql on a LATIN1 terminal) is no
# configuration error of the hub's.
CLIENT_ENCODING = {"client_encoding": "utf8"}


class DatabaseEncodingError(RuntimeError):
    """The PostgreSQL database is not UTF8: it cannot hold the libraries' Chinese text."""


REQUIRED_SERVER_ENCODING = "UTF8"


def _require_utf8(engine: Engine, url: URL) -> None:
    """Refuse every connection to a database whose ``server_encoding`` is not UTF8.

    In a LATIN1 database the schema is created and every later write of a Chinese name
    fails (UntranslatableCharacter); SQL_ASCII accepts the bytes but hands back text the
    driver cannot decode. Neither is found out by ``db upgrade``, which writes no text,
    so the check is made on connecting, before anything is written. PostgreSQL reports
    the encoding when the session starts: no query is needed.
    """

    # insert=True: before the dialect's own first-connect queries, which already fail on
    # SQL_ASCII (its text comes back as bytes).
    @event.listens_for(engine, "connect", insert=True)
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        info = getattr(dbapi_connection, "info", None)
        encoding = info.parameter_status("server_encoding") if info is not None else None
        if encoding is None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SHOW server_encoding")
                encoding = cursor.fetchone()[0]
            finally:
                cursor.close()
            dbapi_connection.rollback()
        if isinstance(encoding, bytes):
            encoding = encoding.decode("ascii", "replace")
        if str(encoding).upper().replace("-", "") != REQUIRED_SERVER_ENCODING:
            name = url.database or "?"
            raise DatabaseEncodingError(
                f"the PostgreSQL database {name!r} at "
                f"{safe_url_text(url)} has server encoding "
                f"{encoding}, not UTF8: the libraries hold Chinese text. Create the "
                f"database with ENCODING 'UTF8' (CREATE DATABASE {name} ENCODING 'UTF8' "
                "TEMPLATE template0) and point TONGYUAN_DATABASE_URL at it"
            )


def _sqlite_engine(url: URL, begin: SqliteBegin, **kwargs: Any) -> Engine:
    if begin not in ("IMMEDIATE", "DEFERRED"):
        raise ValueError(f"sqlite_begin must be IMMEDIATE or DEFERRED, not {begin!r}")
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(f"BEGIN {begin}")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (batch code reads ids afterwards)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
