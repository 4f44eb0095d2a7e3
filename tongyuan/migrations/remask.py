"""Masking stored text again, for the migrations that do it (0013, 0015, 0018).

When :func:`standards.privacy.mask_text` learns to find more citizen IDs, text the hub
stored masked under an older version may still hold some in clear. Masking only ever
stars characters, so a stored value masked again keeps every star it had and may get
more (mask_text is not idempotent: another pass can star what an earlier one left).
Only tables outside the ledger are rewritten: a covered row (quarantine entries and
replays, see :mod:`tongyuan.ledger.digests`) changed outside a batch would fail
``ledger verify``; those are masked again whenever they are shown instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from standards.privacy import mask_text

# Rows read per round trip: bounded memory on a large table, on SQLite and PostgreSQL.
BATCH = 500


def remasked(value: Any) -> Any:
    """A stored value masked as the hub masks text now (anything not text is left)."""
    return mask_text(value) if isinstance(value, str) else value


def remasked_list(values: Any) -> Any:
    """A stored JSON list with each text in it masked again (anything else is left)."""
    return [remasked(value) for value in values] if isinstance(values, list) else values


def remask_column(
    connection: Connection,
    table: sa.TableClause,
    key: str,
    column: str,
    remask: Callable[[Any], Any],
) -> None:
    """Rewrite ``table.column`` as ``remask`` makes it, ``BATCH`` rows at a time in
    ``key`` order (keyset paging: no OFFSET scan), writing only the rows it changes."""
    key_column, value_column = table.c[key], table.c[column]
    last: Any = None
    while True:
        query = sa.select(key_column, value_column).order_by(key_column).limit(BATCH)
        if last is not None:
            query = query.where(key_column > last)
        rows = connection.execute(query).all()
        if not rows:
            return
        for row_key, value in rows:
            masked = remask(value)
            if masked != value:
                connection.execute(
                    table.update().where(key_column == row_key).values({column: masked})
                )
        last = rows[-1][0]


# Frozen: remask_quality_text is what released revision 0015 (and 0018) run. A
# migration must do on upgrade what it did when it was released, so this function's
# columns and behaviour are not changed; a later revision that rewrites other columns,
# or these differently, gets a function of its own here. (What it masks follows
# mask_text as the hub has it at upgrade time: that is the point of masking again.)
def remask_quality_text(connection: Connection) -> None:
    """Mask again the text quality stores masked outside the ledger (0015, 0018): every
    run's ``quality_results.failing_keys`` and ``quality_runs.error``. Frozen (see
    above)."""
    results = sa.table(
        "quality_results", sa.column("id", sa.Integer), sa.column("failing_keys", sa.JSON)
    )
    remask_column(connection, results, "id", "failing_keys", remasked_list)
    runs = sa.table("quality_runs", sa.column("id", sa.String), sa.column("error", sa.Text))
    remask_column(connection, runs, "id", "error", remasked)
