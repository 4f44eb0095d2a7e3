"""Write commands facing a library database they cannot use, and dry runs facing one not
migrated: one line naming the database and the cause, exit 2, no traceback, no password,
and nothing written.

The QA audit found 350–730-line Rich tracebacks for a wrong password, an unreachable
server or another application's tables (the read-only commands already said it in one
line), and ``--dry-run`` creating or upgrading the schema of whatever database
TONGYUAN_DATABASE_URL named.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tongyuan.cli import app
from tongyuan.config import ENV_DATABASE_URL, load_settings
from tongyuan.db import current_revision, head_revision

runner = CliRunner()

WRITE_COMMANDS = [
    ["db", "upgrade"],
    ["db", "current"],
    ["db", "downgrade", "base"],
    ["ingest"],
    ["ingest", "--dry-run"],
    ["sync", "items"],
    ["sync", "items", "--dry-run"],
    ["quality", "run"],
]


def _closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_clean_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.parametrize("command", WRITE_COMMANDS, ids=" ".join)
def test_an_unreachable_server_is_one_line_and_exit_2(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql+psycopg://tongyuan:S3cretPw@127.0.0.1:{_closed_port()}/tongyuan"
    monkeypatch.setenv(ENV_DATABASE_URL, url)
    result = runner.invoke(app, command, terminal_width=300)
    assert result.exit_code == 2, result.output
    line = _one_clean_line(result.output)
    assert line.startswith("error: ")
    assert "127.0.0.1" in line and "S3cretPw" not in line


@pytest.mark.parametrize("command", WRITE_COMMANDS, ids=" ".join)
def test_a_url_with_an_unescaped_password_is_refused_before_connecting(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+psycopg://tongyuan:Tongyuan@2024@127.0.0.1:1/tongyuan"
    monkeypatch.setenv(ENV_DATABASE_URL, url)
    result = runner.invoke(app, command, terminal_width=300)
    assert result.exit_code == 2, result.output
    line = _one_clean_line(result.output)
    assert line.startswith("error: TONGYUAN_DATABASE_URL: ")
    assert "percent-encode" in line
    assert "2024" not in line and "127.0.0.1" not in line


def test_a_url_with_an_unescaped_password_in_a_read_only_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`quarantine list` printed `tongyuan:***@2024@127.0.0.1`: the '***' hid only the
    part of the password before its first '@'."""
    monkeypatch.setenv(
        ENV_DATABASE_URL, "postgresql+psycopg://tongyuan:Tongyuan@2024@127.0.0.1:1/tongyuan"
    )
    result = runner.invoke(app, ["quarantine", "list"], terminal_width=300)
    assert result.exit_code == 2, result.output
    assert "TONGYUAN_DATABASE_URL" in result.output and "2024" not in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["sync", "items", "--dry-run"],
        ["ingest", "--dry-run"],
        ["items", "history", "1144030000000000000000000000000"],  # read-only
    ],
)
def test_a_dry_run_on_a_fresh_home_creates_no_database(command: list[str]) -> None:
    result = runner.invoke(app, command, terminal_width=300)
    assert result.exit_code == 2, result.output
    assert "no hub database at" in result.output
    assert "tongyuan db upgrade" in result.output
    database = load_settings().home / "tongyuan.db"
    assert not database.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["sync", "items", "--dry-run"],
        ["ingest", "--dry-run"],
        ["items", "history", "1144030000000000000000000000000"],  # read-only
        ["materials", "for", "11010519491231002X"],  # read-only
        ["quarantine", "list"],  # read-only
        ["cases", "overdue"],  # refreshes deadlines, never the schema
        ["quality", "run"],  # was a raw "no column named as_of" SQL error
    ],
)
def test_a_dry_run_does_not_upgrade_an_older_schema(command: list[str]) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["db", "downgrade", "0009"]).exit_code == 0
    url = load_settings().database_url
    older = current_revision(url)
    assert older is not None and older != head_revision()
    result = runner.invoke(app, command, terminal_width=300)
    assert result.exit_code == 2, result.output
    assert f"is at revision {older}, not {head_revision()}" in result.output
    assert "tongyuan db upgrade" in result.output
    assert current_revision(url) == older


@pytest.mark.postgres
def test_postgresql_write_commands_say_what_is_wrong_in_one_line(
    pg_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    name = pg_server.create_database(prefix="tyclash")
    url = pg_server.url(name)
    # An unknown role (the test server trusts every password, so a role it does not know
    # is the refused login here).
    refused = pg_server.base_url.set(
        username="nosuchrole", password="S3cretPw", database=name
    ).render_as_string(hide_password=False)
    monkeypatch.setenv(ENV_DATABASE_URL, refused)
    result = runner.invoke(app, ["db", "upgrade"], terminal_width=300)
    assert result.exit_code == 2, result.output
    line = _one_clean_line(result.output)
    assert "nosuchrole" in line and "S3cretPw" not in line

    # Another application's table in the way.
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("CREATE TABLE batches (id int primary key, foo text)")
    monkeypatch.setenv(ENV_DATABASE_URL, url)
    for command in (["db", "upgrade"], ["sync", "items"], ["ingest"]):
        result = runner.invoke(app, command, terminal_width=300)
        assert result.exit_code == 2, result.output
        line = _one_clean_line(result.output)
        assert "already exists" in line and name in line
    # And a dry run there refuses without creating anything.
    result = runner.invoke(app, ["sync", "items", "--dry-run"], terminal_width=300)
    assert result.exit_code == 2, result.output
    assert "no hub schema in the database" in result.output
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (1,)


@pytest.mark.postgres
def test_two_upgrades_of_an_empty_postgresql_database_at_once_both_succeed(
    pg_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The second waits for the first's migration lock, then finds the schema at head
    (it died on "relation already exists" with a 700-line traceback)."""
    url = pg_server.url(pg_server.create_database(prefix="tyrace"))
    script = textwrap.dedent(f"""\
        from tongyuan.db import upgrade
        upgrade({url!r})
    """)
    runs = [
        subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for run in runs:
        _, err = run.communicate(timeout=240)
        assert run.returncode == 0, err
    assert current_revision(url) == head_revision()


def test_db_downgrade_to_an_unreachable_revision_is_one_line() -> None:
    result = runner.invoke(app, ["db", "downgrade", "0009"], terminal_width=300)
    assert result.exit_code == 2, result.output
    line = _one_clean_line(result.output)
    assert line.startswith("error: schema migration: ") and "0009" in line
