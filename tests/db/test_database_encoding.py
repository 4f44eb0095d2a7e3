"""A PostgreSQL database that is not UTF8 is refused on connecting, naming its encoding.

LATIN1 took the schema and then failed every write of a Chinese name; SQL_ASCII crashed
the first query with a TypeError. Both must stop at once with what to do instead.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator

import pytest
from psycopg import sql
from sqlalchemy import text
from typer.testing import CliRunner

from tongyuan.cli import app
from tongyuan.cli.app import main
from tongyuan.config import ENV_DATABASE_URL
from tongyuan.db import DatabaseEncodingError, make_engine, upgrade

pytestmark = pytest.mark.postgres

ENCODINGS = ["LATIN1", "SQL_ASCII"]


@pytest.fixture(params=ENCODINGS)
def foreign_db(request: pytest.FixtureRequest, pg_server) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(url, encoding) of a fresh database in an encoding other than UTF8."""
    encoding = str(request.param)
    name = f"tyenc_{uuid.uuid4().hex[:12]}"
    with pg_server._admin() as conn:
        conn.execute(
            sql.SQL(
                "CREATE DATABASE {} ENCODING {} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
            ).format(sql.Identifier(name), sql.Literal(encoding))
        )
    try:
        yield pg_server.url(name), encoding
    finally:
        pg_server.drop_database(name)


def _tables(pg_server, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The database's tables, read with psycopg directly (our engine refuses it)."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return [r[0] for r in rows]


def test_an_engine_refuses_a_database_that_is_not_utf8(foreign_db, pg_server) -> None:
    url, encoding = foreign_db
    engine = make_engine(url)
    try:
        with pytest.raises(DatabaseEncodingError) as caught, engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    message = str(caught.value)
    assert f"server encoding {encoding}, not UTF8" in message
    assert "ENCODING 'UTF8'" in message and url.rsplit("/", 1)[1] in message
    with pytest.raises(DatabaseEncodingError):
        upgrade(url)
    assert _tables(pg_server, url) == []  # no schema was created in it


def test_db_upgrade_says_why_and_exits_2(foreign_db, pg_server, monkeypatch) -> None:
    url, encoding = foreign_db
    monkeypatch.setenv(ENV_DATABASE_URL, url)
    result = CliRunner().invoke(app, ["db", "upgrade"], terminal_width=400)
    assert result.exit_code == 2, result.output
    assert f"server encoding {encoding}" in result.output and "ENCODING 'UTF8'" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "database at revision" not in result.output
    assert _tables(pg_server, url) == []


def test_every_command_stops_with_the_reason(foreign_db, monkeypatch, capsys) -> None:
    url, encoding = foreign_db
    monkeypatch.setenv(ENV_DATABASE_URL, url)
    monkeypatch.setattr(sys, "argv", ["tongyuan", "ingest", "--topology", "shenzhen"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"server encoding {encoding}" in err and "Traceback" not in err


def test_a_utf8_database_is_accepted(pg_server) -> None:  # type: ignore[no-untyped-def]
    name = pg_server.create_database()
    engine = make_engine(pg_server.url(name))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW server_encoding")).scalar() == "UTF8"
    finally:
        engine.dispose()
        pg_server.drop_database(name)


CHINESE = "深圳市市场监督管理局 同源"


@pytest.mark.parametrize(
    "source", ["url", "PGCLIENTENCODING", "ALTER DATABASE SET", "ALTER ROLE SET"]
)
@pytest.mark.parametrize("encoding", ["LATIN1", "SQL_ASCII"])
def test_the_client_encoding_is_utf8_wherever_another_one_is_set(
    source: str, encoding: str, pg_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """QA: PGCLIENTENCODING=SQL_ASCII made `db upgrade` a 338-line TypeError; with
    ?client_encoding=LATIN1 it passed and the first pull of Chinese text failed. The hub
    forces UTF8 on every connection (the driver hands Python str either way), so the
    schema goes in and Chinese text makes the round trip whatever the setting says."""
    name = pg_server.create_database(prefix="tyclient")
    url = pg_server.url(name)
    role = f"tyrole_{uuid.uuid4().hex[:8]}"
    if source == "url":
        url += f"?client_encoding={encoding}"
    elif source == "PGCLIENTENCODING":
        monkeypatch.setenv("PGCLIENTENCODING", encoding)
    else:
        with pg_server._admin() as conn:
            if source == "ALTER DATABASE SET":
                target = sql.SQL("DATABASE {}").format(sql.Identifier(name))
            else:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER").format(sql.Identifier(role)))
                target = sql.SQL("ROLE {}").format(sql.Identifier(role))
                url = pg_server.base_url.set(database=name, username=role).render_as_string(
                    hide_password=False
                )
            conn.execute(
                sql.SQL("ALTER {} SET client_encoding = {}").format(target, sql.Literal(encoding))
            )
    monkeypatch.setenv(ENV_DATABASE_URL, url)
    result = CliRunner().invoke(app, ["db", "upgrade"], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text("SHOW client_encoding")).scalar() == "UTF8"
            conn.execute(text("CREATE TABLE t (v text)"))
            conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": CHINESE})
            assert conn.execute(text("SELECT v FROM t")).scalar() == CHINESE
    finally:
        engine.dispose()
        pg_server.drop_database(name)
        if source == "ALTER ROLE SET":
            with pg_server._admin() as conn:
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.parametrize("encoding", ["LATIN1", "SQL_ASCII"])
def test_the_quality_runs_own_engine_uses_utf8_too(
    encoding: str, pg_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Review r5: Great Expectations builds its own engine from the URL, which still took
    PGCLIENTENCODING — LATIN1 stored fewer quality failures, SQL_ASCII crashed the run."""
    from tongyuan.quality.gx import add_libraries_source, import_gx

    name = pg_server.create_database(prefix="tygx")
    monkeypatch.setenv("PGCLIENTENCODING", encoding)
    context = import_gx().get_context(mode="ephemeral")
    source = add_libraries_source(context, pg_server.url(name))
    engine = source.get_engine()
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW client_encoding")).scalar() == "UTF8"
            assert conn.execute(text("SELECT :v"), {"v": CHINESE}).scalar() == CHINESE
    finally:
        engine.dispose()
        pg_server.drop_database(name)
