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
