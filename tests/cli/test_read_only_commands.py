"""Read-only commands pointed at no hub create nothing and say where they looked.

A mistyped TONGYUAN_HOME used to grow a whole new hub (database, data directories, a fresh
PII key) and then fail with a raw SQL error, or report on the empty hub as if it were the
real one.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tongyuan.cli import app
from tongyuan.config import ENV_DATABASE_URL, ENV_HOME

runner = CliRunner()

# One command of each family that only reads the hub (cases overdue recomputes deadlines
# of cases already there, nothing else), with its standard input.
READERS = [
    (["ledger", "verify"], None),
    (["ledger", "show"], None),
    (["report"], None),
    (["quarantine", "list"], None),
    (["quarantine", "show", "1"], None),
    (["materials", "for", "-"], "110101199003070011\n"),
    (["cases", "overdue"], None),
]
IDS = [" ".join(args) for args, _ in READERS]


def _invoke(args: list[str], stdin: str | None):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, args, input=stdin, terminal_width=300)
    assert "SELECT" not in result.output and "sqlalche.me" not in result.output, result.output
    assert "110101199003070011" not in result.output
    return result


@pytest.mark.parametrize(("args", "stdin"), READERS, ids=IDS)
def test_a_mistyped_home_creates_nothing_and_exits_2(
    args: list[str], stdin: str | None, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    typo = tmp_path / "hub-typo"
    monkeypatch.setenv(ENV_HOME, str(typo))
    result = _invoke(args, stdin)
    assert result.exit_code == 2, result.output
    assert not typo.exists()
    assert f"no hub database at {typo / 'tongyuan.db'} (TONGYUAN_HOME={typo})" in result.output
    assert "run `tongyuan db upgrade` or check TONGYUAN_HOME" in result.output


@pytest.mark.parametrize(("args", "stdin"), READERS, ids=IDS)
def test_an_empty_home_stays_empty(
    args: list[str], stdin: str | None, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "empty"
    home.mkdir()
    monkeypatch.setenv(ENV_HOME, str(home))
    result = _invoke(args, stdin)
    assert result.exit_code == 2, result.output
    assert list(home.iterdir()) == []
    assert str(home / "tongyuan.db") in result.output


def test_a_database_without_the_schema_is_named_not_migrated(
    empty_db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing but empty database (SQLite file or PostgreSQL) is left as it is."""
    home = tmp_path / "home"
    monkeypatch.setenv(ENV_DATABASE_URL, empty_db_url)
    sqlite_file = tmp_path / "empty.db"
    if empty_db_url.startswith("sqlite"):
        sqlite_file.touch()
    for args, stdin in READERS:
        result = _invoke(args, stdin)
        assert result.exit_code == 2, (args, result.output)
        assert "no hub schema in the database at" in result.output
        assert "TONGYUAN_DATABASE_URL=" in result.output
        assert "check TONGYUAN_DATABASE_URL" in result.output
    assert not home.exists()
    if empty_db_url.startswith("sqlite"):
        assert sqlite_file.stat().st_size == 0  # not even opened for writing


def test_materials_for_never_makes_a_pii_key(
    db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key made here would not be the one the hub hashed holders with."""
    monkeypatch.setenv(ENV_DATABASE_URL, db_url)
    home = tmp_path / "home"
    result = _invoke(["materials", "for", "-"], "110101199003070011\n")
    assert result.exit_code == 2, result.output
    assert f"no PII key at {home / 'secrets' / 'pii.key'}" in result.output
    assert not (home / "secrets" / "pii.key").exists()


def test_a_reader_on_a_real_hub_still_works(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATABASE_URL, db_url)
    for args in (["ledger", "verify"], ["ledger", "show"], ["quarantine", "list"]):
        result = _invoke(args, None)
        assert result.exit_code == 0, (args, result.output)
