"""Blob files a transaction copied into the store, removed again if it rolls back.

The blob store is a folder, not a table: a file copied in while a batch runs stays
there when the batch is rolled back (a dry run, a failed file, a rejected delivery),
with no ``blobs`` row naming it. Each new file is noted for its transaction; when the
outermost transaction ends, those no committed row names are deleted.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction

# Not a transaction_scoped key of tongyuan.db.session_state: that one is forgotten at the
# end of a transaction before this module has looked at it.
_KEY = "tongyuan.materials.pending_blobs"


def note_new_blob(session: Session, path: Path, sha256: str) -> None:
    """``path`` (holding ``sha256``) was created by this transaction.

    Its modification time is noted too: :func:`tongyuan.libraries.materials.store_blob`
    touches a blob it finds already stored, so a file another batch has used since is
    left alone even before that batch commits its row.
    """
    session.info.setdefault(_KEY, {})[sha256] = (path, path.stat().st_mtime_ns)


@event.listens_for(Session, "after_transaction_end")
def _remove_unnamed(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint: the batch goes on, and may still commit the blob's row
    pending: dict[str, tuple[Path, int]] | None = session.info.pop(_KEY, None)
    if not pending:
        return
    # Committed, the rows are there; rolled back, they are not (and a concurrent batch
    # that committed the same content has its own row).
    with session.get_bind().connect() as connection:
        for sha256, (path, mtime_ns) in pending.items():
            named = connection.execute(
                text("SELECT 1 FROM blobs WHERE sha256 = :sha"), {"sha": sha256}
            ).first()
            try:
                untouched = path.stat().st_mtime_ns == mtime_ns
            except FileNotFoundError:
                continue
            if named is None and untouched:
                path.unlink(missing_ok=True)
