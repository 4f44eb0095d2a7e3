"""Short, safe text for an exception raised while talking to the library database."""

from __future__ import annotations

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
