"""What a database error looks like where operators read it: one line, no statement.

Review r4: a PendingRollbackError quotes the statement error that rolled the session back,
with its ``[SQL: …]`` and ``[parameters: …]`` — the values of the row being written.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert
from sqlalchemy.exc import IntegrityError, PendingRollbackError
from sqlalchemy.orm import Session, registry

from tongyuan.db.errors import describe_error


def _pending_rollback() -> PendingRollbackError:
    engine = create_engine("sqlite://")
    metadata = MetaData()
    table = Table(
        "t", metadata, Column("id", Integer, primary_key=True), Column("v", String, unique=True)
    )
    metadata.create_all(engine)

    class Row:
        pass

    registry().map_imperatively(Row, table)
    with engine.begin() as connection:
        connection.execute(insert(table), {"v": "张伟 11010519491231002X"})
    session = Session(engine)
    row = Row()
    row.v = "张伟 11010519491231002X"  # type: ignore[attr-defined]
    session.add(row)
    with pytest.raises(IntegrityError):
        session.flush()
    try:
        session.execute(table.select())
    except PendingRollbackError as exc:
        return exc
    raise AssertionError("the session did not refuse to go on")


def test_an_error_quoting_a_statement_error_is_cut_before_the_statement():
    exc = _pending_rollback()
    assert "[SQL:" in str(exc) and "张伟" in str(exc)  # what the raw text would show
    line = describe_error(exc)
    assert line.startswith("PendingRollbackError: ")
    assert "\n" not in line and "[SQL:" not in line and "张伟" not in line
    assert "[parameters:" not in line


def test_the_catch_all_line_prints_nothing_else_when_logging_is_not_set_up():
    """Review r4: with no handler configured, logging's last resort printed the message
    and the traceback frames to stderr above the one line."""
    code = (
        "from sqlalchemy.exc import OperationalError\n"
        "from tongyuan.cli.app import database_error_line\n"
        "try:\n"
        "    raise OperationalError('SELECT 1', {}, Exception('server closed'))\n"
        "except OperationalError as exc:\n"
        "    print(database_error_line(exc))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == ""
    assert done.stdout.count("\n") == 1 and "server closed" in done.stdout
    assert logging.getLogger("tongyuan.cli.app").handlers == []
