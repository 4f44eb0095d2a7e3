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

from sqlalchemy import select
from sqlalchemy.orm import Session

from standards.records import Case, Item, License, Material, StandardRecord
from tongyuan.libraries.base import to_utc
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.items import ItemVersion
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.libraries.materials import MaterialRow


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


def newer_delivery(session: Session, record: StandardRecord, since: datetime) -> str | None:
    """The id of a batch after ``since`` that wrote this record's library row, if any."""
    batch_id = _batch_of(session, record)
    if batch_id is None:
        return None
    started = session.scalar(select(Batch.started_at).where(Batch.id == batch_id))
    if started is None or to_utc(started) <= to_utc(since):
        return None
    return batch_id
