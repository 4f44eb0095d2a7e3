"""Short, safe text for an exception raised while talking to the library database."""

from __future__ import annotations

import re

from sqlalchemy.exc import StatementError

from standards.privacy import mask_text


def describe_error(exc: BaseException) -> str:
    """``Class: message`` for a failed batch's meta, the CLI and logs, with no record data.

    SQLAlchemy renders a statement error as the driver's message plus ``[SQL: …]`` and
    ``[parameters: …]``: the whole INSERT and the values of the row being written
    (applicant names, serials, encrypted IDs, ID hashes). Batch meta and terminal output
    must never carry those, so for a statement error only the exception class and the
    first line of the driver's message are kept. That line names the constraint or the
    problem; the driver's ``DETAIL`` lines are dropped because they quote key values.
    Personal ID numbers are masked in whatever remains.
    """
    if isinstance(exc, StatementError):
        orig = exc.orig
        bare = exc.args[0] if exc.args else ""
        text = str(orig) if orig is not None else str(bare)
        lines = [line for line in text.strip().splitlines() if line.strip()]
        first = lines[0].strip() if lines else type(orig or exc).__name__
        return mask_text(f"{type(exc).__name__}: {first}")
    # Others can quote a statement error too (PendingRollbackError: "Original exception
    # was: …" then the statement and its parameters on the next lines): the first line,
    # cut where a statement would begin.
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    first = lines[0].split("[SQL:")[0].split("[parameters:")[0].strip() if lines else ""
    return mask_text(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)


# What a PostgreSQL server (or libpq) says when it refuses the connection itself, not for
# the moment: the login (a wrong password, an unknown role, no pg_hba.conf entry, a role
# that may not log in), an unknown database. The driver gives no SQLSTATE for a refused
# connection, so its message is matched: the server's English text and its zh_CN
# translation (lc_messages of a Chinese-language server).
_REFUSED_FOR_GOOD = re.compile(
    r"authentication failed|no password supplied|no pg_hba\.conf entry"
    r"|role \"[^\"]*\" does not exist|database \"[^\"]*\" does not exist"
    r"|is not permitted to log in|permission denied for database"
    r"|认证失败|没有用于主机|角色 \"[^\"]*\" 不存在|数据库 \"[^\"]*\" 不存在"
)


def is_lasting_connection_error(exc: BaseException) -> bool:
    """Whether the library database refused the connection in a way waiting cannot fix.

    An Airflow task retries what may pass (a server restarting, a network cut, a lock
    timeout); a refused login, an unknown database or a database that is not UTF8 fails
    the same way on every retry — 1, 2 and 4 minutes of waiting, 609 s in all, before
    the operator saw the one line that says what to fix.
    """
    from sqlalchemy.exc import DBAPIError

    from tongyuan.db.engine import DatabaseEncodingError

    if isinstance(exc, DatabaseEncodingError):
        return True
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    return bool(_REFUSED_FOR_GOOD.search(str(exc.orig)))
