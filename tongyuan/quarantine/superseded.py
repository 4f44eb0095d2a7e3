"""Whether the library already holds a newer delivery of a quarantined record.

A department often fixes a rejected row at the source and sends it again before anyone
replays the old one. Replaying the old row then would write stale data over the fresh
delivery (a new item version with old content). So before storing a replayed record the
replay asks whether the library row with the same natural key was written by a batch
that started after the entry was quarantined; if so the entry is closed as superseded
and nothing is written.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from standards.records import Case, Item, License, Material, StandardRecord
from tongyuan.libraries.base import to_utc
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.items import ItemVersion
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.libraries.materials import MaterialRow
from tongyuan.libraries.quarantine import QuarantineEntry, ReplayOutcome


def _batch_of(session: Session, record: StandardRecord) -> str | None:
    if isinstance(record, Case):
        return session.scalar(
            select(CaseRow.batch_id).where(
                CaseRow.source_system == record.source_system,
                CaseRow.dept_case_no == record.dept_case_no,
            )
        )
    if isinstance(record, Item):
        return session.scalar(
            select(ItemVersion.batch_id).where(
                ItemVersion.impl_code == record.impl_code, ItemVersion.valid_to.is_(None)
            )
        )
    if isinstance(record, Material):
        return session.scalar(
            select(MaterialRow.batch_id).where(MaterialRow.material_id == record.material_id)
        )
    if isinstance(record, License):
        return session.scalar(
            select(LicenseRow.batch_id).where(LicenseRow.identifier == record.identifier)
        )
    return None


def newer_delivery(
    session: Session, record: StandardRecord, since: datetime, *, replaying: str
) -> str | None:
    """The id of a batch after ``since`` that wrote this record's library row, if any.

    ``replaying`` is the replay batch asking: a row it wrote itself (an older entry of
    the same record, replayed first) is not a later delivery. A row an earlier replay
    wrote carries data as old as the entries that replay accepted, not as new as the
    replay: it counts from the oldest of them, so a newer entry is never closed as
    superseded by an older one replayed before it.
    """
    batch_id = _batch_of(session, record)
    if batch_id is None or batch_id == replaying:
        return None
    kind, started = session.execute(
        select(Batch.kind, Batch.started_at).where(Batch.id == batch_id)
    ).one_or_none() or (None, None)
    if kind == "replay":
        started = session.scalar(
            select(func.min(QuarantineEntry.created_at))
            .join(ReplayOutcome, ReplayOutcome.entry_id == QuarantineEntry.id)
            .where(
                ReplayOutcome.batch_id == batch_id,
                ReplayOutcome.outcome.in_(("added", "changed")),
            )
        )
    if started is None or to_utc(started) <= to_utc(since):
        return None
    return batch_id
