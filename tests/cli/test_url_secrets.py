"""A password in a database URL's query string is never shown.

QA (PostgreSQL in production style): ``…/tongyuan?password=SECRET`` and
``postgresql+psycopg:///db?host=…&user=…&password=…`` are URLs libpq and SQLAlchemy
accept, and SQLAlchemy's ``hide_password`` hides only the password before the ``@``: the
secret was printed by ``db upgrade``, ``quality run``, ``sync items``, ``ledger verify
--json``, the ``(TONGYUAN_DATABASE_URL=…)`` suffix and the PII key messages.
"""

from __future__ import annotations

import base64
import socket

import pytest
from typer.testing import CliRunner

from adapters.sdk.db_url import safe_url_text
from tongyuan.cli import app
from tongyuan.config import ENV_DATABASE_URL, ENV_PII_KEY, load_settings

runner = CliRunner()

SECRET = "QS3cretPw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://u:pw@h/db", "postgresql+psycopg://u:***@h/db"),
        (
            f"postgresql+psycopg://u@h:5432/db?password={SECRET}&sslmode=require",
            "postgresql+psycopg://u@h:5432/db?password=***&sslmode=require",
        ),
        (
            f"postgresql+psycopg:///db?host=h&user=u&password={SECRET}",
            "postgresql+psycopg:///db?host=h&password=***&user=u",
        ),
        (
            f"postgresql://u:{SECRET}@h/db?sslpassword={SECRET}&Api_Token={SECRET}"
            f"&client_secret={SECRET}&sslkey=/k/{SECRET}&password={SECRET}&password=two",
            "postgresql://u:***@h/db?Api_Token=***&client_secret=***&password=***&password=***"
            "&sslkey=***&sslpassword=***",
        ),
        (
            "postgresql://u@h/db?options=-c%20statement_timeout%3D5",
            "postgresql://u@h/db?options=-c+statement_timeout%3D5",
        ),
        ("sqlite:////var/tongyuan/tongyuan.db", "sqlite:////var/tongyuan/tongyuan.db"),
        # Review r5: department databases' own names for a password, and parameters that
        # carry a whole connection string or a connection's extras.
        (f"mysql+pymysql://u@h/db?passwd={SECRET}", "mysql+pymysql://u@h/db?passwd=***"),
        (f"mysql+pymysql://u@h/db?pwd={SECRET}", "mysql+pymysql://u@h/db?pwd=***"),
        (
            f"mssql+pyodbc://h/db?odbc_connect=DRIVER%3Dx%3BPWD%3D{SECRET}",
            "mssql+pyodbc://h/db?odbc_connect=***",
        ),
        (
            f"postgresql://u@h/db?__extra__=%7B%22password%22%3A%22{SECRET}%22%7D",
            "postgresql://u@h/db?__extra__=***",
        ),
    ],
)
def test_safe_url_text_masks_the_password_and_every_secret_query_parameter(
    url: str, shown: str
) -> None:
    assert safe_url_text(url) == shown


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


COMMANDS = [
    ["db", "upgrade"],
    ["db", "current"],
    ["ingest"],
    ["sync", "items"],
    ["quality", "run"],
    ["report"],
    ["ledger", "verify", "--json"],
    ["quarantine", "list"],
    ["cases", "overdue"],
]


@pytest.mark.postgres
@pytest.mark.parametrize("form", ["query password", "all in the query"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_no_command_prints_a_query_string_password(
    command: list[str], form: str, pg_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Against the test server, a database that does not exist: every command's error
    names the database, never the password."""
    base = pg_server.base_url
    if form == "query password":
        url = f"postgresql+psycopg://{base.username}@{base.host}:{base.port}/nosuchdb"
        url += f"?password={SECRET}"
    else:
        url = (
            f"postgresql+psycopg:///nosuchdb?host={base.host}&port={base.port}"
            f"&user={base.username}&password={SECRET}"
        )
    monkeypatch.setenv(ENV_DATABASE_URL, url)
    result = runner.invoke(app, command, terminal_width=300)
    assert result.exit_code == 2, result.output
    assert "nosuchdb" in result.output and "password=***" in result.output
    assert SECRET not in result.output


@pytest.mark.postgres
def test_the_pii_key_messages_do_not_print_a_query_string_password(
    pg_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """With the right password, too: a PII key that does not fit (or no key file on a
    written hub) is refused with a message an Airflow task log keeps."""
    from pii_hub import write_one_case

    name = pg_server.create_database(prefix="tysecret")
    url = pg_server.url(name) + f"?password={SECRET}"
    monkeypatch.setenv(ENV_DATABASE_URL, url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    write_one_case(url, bytes(range(32)))

    # A fresh TONGYUAN_HOME on that hub: no key file, no variable. Commands that need no
    # key run; those that need one refuse, exit 2, and make none (a new key cannot
    # decrypt the hub's data; it was made, then refused on every later run).
    key_file = load_settings().pii_key_file
    for command in (["quality", "run"], ["report"]):
        result = runner.invoke(app, command, terminal_width=300)
        assert result.exit_code == 0, (command, result.output)
    for command in (["sync", "items"], ["ingest"]):
        result = runner.invoke(app, command, terminal_width=300)
        assert result.exit_code == 2, (command, result.output)
        assert "none was made" in result.output and "password=***" in result.output
        assert SECRET not in result.output
    assert not key_file.exists()

    # Another key: refused by `sync items` as by `ingest`, with exit 2 (sync said
    # "sync failed: ConfigError…", exit 1).
    monkeypatch.setenv(ENV_PII_KEY, base64.b64encode(bytes(range(1, 33))).decode())
    for command in (["ingest"], ["sync", "items"]):
        result = runner.invoke(app, command, terminal_width=300)
        assert result.exit_code == 2, (command, result.output)
        assert "does not decrypt" in result.output and "password=***" in result.output
        assert SECRET not in result.output
        assert "sync failed" not in result.output


def test_the_sql_adapter_check_does_not_print_a_query_string_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from adapters.builtin.sql import SqlSource
    from adapters.builtin.sql_department import department_config
    from adapters.sdk.errors import ConnectionCheckError

    url = f"postgresql://dept@127.0.0.1:{_closed_port()}/cases?password={SECRET}"
    monkeypatch.setenv("DEPT_DB_URL", url)
    source = SqlSource.from_config(department_config("env:DEPT_DB_URL"))
    with pytest.raises(ConnectionCheckError) as caught:
        source.check()
    message = str(caught.value)
    assert message.startswith("cannot connect to postgresql") and "password=***" in message
    assert SECRET not in message


def test_the_airflow_metadata_database_is_named_without_a_query_string_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Named in the "Airflow connection … not found" message of an `airflow:` reference."""
    from airflow.configuration import conf

    from adapters.sdk.airflow_secrets import _metadata_database

    url = f"postgresql+psycopg://airflow@db.example/airflow?password={SECRET}"
    monkeypatch.setattr(conf, "get", lambda section, key, *a, **k: url)
    assert _metadata_database() == "postgresql+psycopg://airflow@db.example/airflow?password=***"
