"""State a library keeps in ``Session.info`` for one transaction, and its forgetting.

Some writers remember things across the statements of a transaction (rows they will
need again, rows the ledger must record) and must drop them when the transaction ends:
after the commit they are stale, after a rollback they may name rows that never were.
One pair of session listeners forgets every registered key, so each library declares
its key once instead of installing listeners of its own.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_AT_END: set[str] = set()
_ON_ROLLBACK: set[str] = set()


def transaction_scoped(key: str, *, forget_on_rollback: bool = False) -> str:
    """Declare ``key`` of ``Session.info`` as living until the outermost transaction ends.

    With ``forget_on_rollback`` it is also dropped when any part rolls back, savepoints
    included: for state that holds rows a rolled-back savepoint took out of the session.
    Returns the key, so a module can declare and name it in one line.
    """
    _AT_END.add(key)
    if forget_on_rollback:
        _ON_ROLLBACK.add(key)
    return key


def forget(session: Session, *keys: str) -> None:
    """Drop ``keys`` from the session's state now (a writer done with them early)."""
    for key in keys:
        session.info.pop(key, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous: SessionTransaction) -> None:
    forget(session, *_ON_ROLLBACK)


@event.listens_for(Session, "after_transaction_end")
def _forget_after_end(session: Session, transaction: SessionTransaction) -> None:
    # Savepoints end too; only the outermost transaction's end means the rows are
    # committed or gone.
    if transaction.parent is None:
        forget(session, *_AT_END)
