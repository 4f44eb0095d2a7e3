"""Tasks refuse a library schema that is not this version's, and say so in one line."""

from __future__ import annotations

import pytest

import tongyuan.orchestration.tasks as tasks
from tongyuan.config import Settings
from tongyuan.db import downgrade, upgrade


def _hub_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, url: str) -> None:
    monkeypatch.setenv("TONGYUAN_HOME", str(settings.home))
    monkeypatch.setenv("TONGYUAN_DATABASE_URL", url)


def test_an_older_schema_fails_the_task_at_once_without_retries(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    upgrade(settings.database_url)
    downgrade(settings.database_url, "0011")
    _hub_env(monkeypatch, settings, settings.database_url)
    with pytest.raises(AirflowFailException) as info:
        tasks.quality_run()
    message = str(info.value)
    assert "at revision 0011, older than this worker's" in message
    assert "run `tongyuan db upgrade` first" in message and "\n" not in message


def test_a_newer_schema_says_this_worker_is_the_side_behind(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker of an older version on a database a newer Tongyuan upgraded: upgrading
    the database cannot help (it is ahead); the worker's Tongyuan must be upgraded."""
    from airflow.sdk.exceptions import AirflowFailException
    from sqlalchemy import text

    from tongyuan.db import make_engine
    from tongyuan.db.migrate import VERSION_TABLE

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0099'"))
    finally:
        engine.dispose()
    _hub_env(monkeypatch, settings, settings.database_url)
    with pytest.raises(AirflowFailException) as info:
        tasks.quality_run()
    message = str(info.value)
    assert "at revision 0099, which this worker's Tongyuan" in message
    assert "does not know" in message and "upgrade Tongyuan on this worker" in message
    assert "run `tongyuan db upgrade` first" not in message and "\n" not in message


def test_an_empty_database_is_named_as_such(settings: Settings, monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    _hub_env(monkeypatch, settings, settings.database_url)
    with pytest.raises(AirflowFailException, match="revision none"):
        tasks.quality_run()


def test_an_unreachable_database_is_one_retriable_line_without_the_password(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://hub:s3cret-pw@127.0.0.1:9/tongyuan"  # nothing listens on port 9
    _hub_env(monkeypatch, settings, url)
    with pytest.raises(tasks.StepFailed) as info:
        tasks.quality_run()
    message = str(info.value)
    assert message.startswith("the library database at postgresql") and "cannot be used" in message
    assert "s3cret-pw" not in message and "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


LASTING = [
    'connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL:  '
    'password authentication failed for user "tongyuan"',
    'connection failed: FATAL:  role "tongyuan" does not exist',
    'connection failed: FATAL:  database "tongyuan" does not exist',
    'connection failed: FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "tongyuan", '
    'database "tongyuan", no encryption',
    'connection failed: FATAL:  role "tongyuan" is not permitted to log in',
    "connection failed: fe_sendauth: no password supplied",
    'connection failed: 致命错误:  用户 "tongyuan" Password 认证失败',
    'connection failed: 致命错误:  数据库 "tongyuan" 不存在',
]
PASSING = [
    'connection failed: connection to server at "10.0.0.5", port 5432 failed: Connection '
    "refused\n\tIs the server running on that host and accepting TCP/IP connections?",
    "connection failed: FATAL:  the database system is starting up",
    "connection failed: FATAL:  sorry, too many clients already",
    "connection timeout expired",
    "deadlock detected",
]


@pytest.mark.parametrize(
    ("text", "lasting"), [(t, True) for t in LASTING] + [(t, False) for t in PASSING]
)
def test_a_refused_login_or_database_is_lasting_and_a_down_server_is_not(
    text: str, lasting: bool
) -> None:
    """What the tasks fail at once (no retries) and what they retry."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from tongyuan.db.errors import is_lasting_connection_error

    error = OperationalError("connect", None, psycopg.OperationalError(text))
    assert is_lasting_connection_error(error) is lasting


def test_a_database_that_is_not_utf8_is_lasting() -> None:
    from tongyuan.db import DatabaseEncodingError
    from tongyuan.db.errors import is_lasting_connection_error

    assert is_lasting_connection_error(DatabaseEncodingError("server encoding LATIN1"))
    assert not is_lasting_connection_error(RuntimeError('role "x" does not exist'))


@pytest.mark.postgres
@pytest.mark.parametrize("refused", ["role", "database"])
def test_a_refused_connection_fails_the_task_at_once_in_one_line(
    refused: str, settings: Settings, pg_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """QA: a wrong hub password made `airflow dags test quality` retry 1, 2 and 4 minutes
    (609 s) before failing. A login the server refuses fails the task without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    name = pg_server.create_database(prefix="tyrefused")
    if refused == "role":  # the test server trusts every password: an unknown role it refuses
        url = pg_server.base_url.set(username="nosuchrole", database=name)
    else:
        url = pg_server.base_url.set(database="nosuchdb")
    text = url.render_as_string(hide_password=False) + "?password=S3cretPw"
    _hub_env(monkeypatch, settings, text)
    with pytest.raises(AirflowFailException) as info:
        tasks.quality_run()
    message = str(info.value)
    assert message.startswith("the library database at postgresql") and "cannot be used" in message
    assert ("nosuchrole" if refused == "role" else "nosuchdb") in message
    assert "S3cretPw" not in message and "\n" not in message


def test_a_pii_key_that_does_not_fit_fails_the_task_at_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PG QA: a worker whose key does not decrypt the libraries was retried (1, 2 and 4
    minutes) though no retry can fix it; so was one with no key on written libraries."""
    import base64

    from airflow.sdk.exceptions import AirflowFailException
    from pii_hub import write_one_case

    upgrade(settings.database_url)
    write_one_case(settings.database_url, bytes(range(7, 39)))
    _hub_env(monkeypatch, settings, settings.database_url)
    monkeypatch.setenv("TONGYUAN_PII_KEY", base64.b64encode(bytes(range(8, 40))).decode())
    with pytest.raises(AirflowFailException) as info:
        tasks.quality_run()
    assert "TONGYUAN_PII_KEY does not decrypt" in str(info.value)
    monkeypatch.delenv("TONGYUAN_PII_KEY")
    for key_file in settings.home.glob("secrets/*"):
        key_file.unlink()
    with pytest.raises(AirflowFailException) as info:
        tasks.quality_run()
    assert "none was made" in str(info.value)
    assert not any(settings.home.glob("secrets/*"))
