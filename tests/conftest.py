"""Shared fixtures: an isolated hub home, PII protection, and migrated databases.

``db_url`` is parametrized over SQLite and PostgreSQL, so a test that takes it runs on
both. Databases are cloned from a template migrated once per session (a file copy for
SQLite, ``CREATE DATABASE … TEMPLATE`` for PostgreSQL), which keeps a fresh database per
test cheap.
"""

from __future__ import annotations

import base64
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

# tests/ is not a package; make its helper modules importable however pytest was started.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)
from pg import PgServer, PgUnavailable  # noqa: E402

from tongyuan.config import ENV_DATABASE_URL, ENV_HOME, ENV_PII_KEY, Settings, load_settings  # noqa: E402
from tongyuan.db import make_engine, make_session_factory, upgrade  # noqa: E402
from tongyuan.privacy import PiiProtector  # noqa: E402

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

# A fixed test key: tests must be reproducible, and it protects nothing real.
TEST_PII_KEY = bytes(range(32))


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's environment or writes under ./var."""
    monkeypatch.setenv(ENV_HOME, str(tmp_path / "home"))
    monkeypatch.delenv(ENV_DATABASE_URL, raising=False)
    monkeypatch.delenv(ENV_PII_KEY, raising=False)


@pytest.fixture
def pin_hub_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Pin the hub's clock: the "now" the future-time check reads (case.timestamps.future)
    and the "today" timeliness is judged on. For tests whose cases lie ahead of the real
    clock (a year the working-day calendar does not know), which the hub refuses, and
    judges as not happened yet, while that time is still to come."""
    from standards.validation import options
    from tongyuan.ingest import timeliness

    def pin(at: datetime) -> None:
        monkeypatch.setattr(options, "hub_clock", lambda: at)
        monkeypatch.setattr(timeliness, "utcnow", lambda: at)

    return pin


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a fresh hub home with a fixed PII key, directories created."""
    home = tmp_path / "home"
    result = load_settings(
        {ENV_HOME: str(home), ENV_PII_KEY: base64.b64encode(TEST_PII_KEY).decode()}
    )
    result.ensure_dirs()
    return result


@pytest.fixture
def protector() -> PiiProtector:
    return PiiProtector(TEST_PII_KEY)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL: skipped locally when there is none, a failure in CI."""
    server = PgServer.from_env()
    if server is None:
        try:
            server = PgServer.start()
        except PgUnavailable as exc:
            if _in_ci():
                pytest.fail(f"PostgreSQL is required in CI: {exc}")
            pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # the last close checkpoints the WAL into the main file
    return path


@pytest.fixture(scope="session")
def _pg_template(pg_server: PgServer) -> str:
    name = pg_server.create_database(prefix="tytemplate")
    upgrade(pg_server.url(name))
    return name


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no tables at all (for migration tests)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = server.create_database()
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated to head, on the backend of this parametrization."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "tongyuan.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = server.create_database(template=request.getfixturevalue("_pg_template"))
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    result = make_engine(db_url)
    try:
        yield result
    finally:
        result.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    factory = make_session_factory(engine)
    with factory() as result:
        yield result


@pytest.fixture(scope="module")
def sshd() -> Iterator[object]:
    """An OpenSSH server on 127.0.0.1 with a temporary host key, for one test module
    (tests/sshd.py: fails, not skips, under CI when sshd is missing)."""
    from sshd import start_for_tests

    server = start_for_tests()
    try:
        yield server
    finally:
        server.stop()
