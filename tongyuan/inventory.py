"""How much each library holds: the figures the demo and operators look at first."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongyuan.libraries.cases import CaseEventRow, CaseRow
from tongyuan.libraries.items import ItemVersion
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.libraries.materials import BlobRow, MaterialRow
from tongyuan.libraries.quarantine import QuarantineEntry


def _count(session: Session, stmt) -> int:  # type: ignore[no-untyped-def]
    return int(session.execute(stmt).scalar_one())


def library_counts(session: Session) -> dict[str, int]:
    """Rows per library; items count current (not cancelled) versions and all versions."""
    current = (
        select(func.count())
        .select_from(ItemVersion)
        .where(ItemVersion.valid_to.is_(None), ItemVersion.is_tombstone.is_(False))
    )
    return {
        "items_current": _count(session, current),
        "item_versions": _count(session, select(func.count()).select_from(ItemVersion)),
        "cases": _count(session, select(func.count()).select_from(CaseRow)),
        "case_events": _count(session, select(func.count()).select_from(CaseEventRow)),
        "materials": _count(session, select(func.count()).select_from(MaterialRow)),
        "blobs": _count(session, select(func.count()).select_from(BlobRow)),
        "licenses": _count(session, select(func.count()).select_from(LicenseRow)),
        "quarantine_open": _count(
            session,
            select(func.count())
            .select_from(QuarantineEntry)
            .where(QuarantineEntry.status == "open"),
        ),
    }


def open_quarantine_by_rule(session: Session, limit: int = 10) -> Counter[str]:
    """Open quarantine entries by their first broken rule, commonest first, ties by rule id.

    Ties are broken here, in Python, not by the database: on a tie at the cut-off the
    count alone let PostgreSQL and SQLite list different rules, and their collations may
    order rule ids differently. There are only as many groups as rules.
    """
    stmt = (
        select(QuarantineEntry.rule, func.count())
        .where(QuarantineEntry.status == "open")
        .group_by(QuarantineEntry.rule)
    )
    ranked = sorted(((rule, int(n)) for rule, n in session.execute(stmt)), key=_by_count)
    return Counter(dict(ranked[:limit]))


def _by_count(group: tuple[str, int]) -> tuple[int, str]:
    """Commonest first, then by rule id (code-point order, the same on every database)."""
    return -group[1], group[0]
