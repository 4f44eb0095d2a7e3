"""A small case drop and a snapshot of the case library, for comparing write paths.

The bulk writer, the one-by-one path and the worker-prepared path must leave the same
library; tests in tests/load build the same drop and compare these snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from std_factories import IMPL, make_case, make_item

from standards.formats import write_records
from standards.identifiers.case_serial import format_case_serial
from standards.records import Case
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseEventRow, CaseRow
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.loading import Loader


def numbered_cases(last: int, limit: Callable[[int], int | None]) -> list[Case]:
    """The first case, NS-2…NS-``last`` with their serials and ``limit(n)``, one without
    a serial (the hub allocates it) and one quarantined for its timestamps."""
    cases = [make_case()]
    for n in range(2, last + 1):
        cases.append(
            make_case(
                dept_case_no=f"NS-{n}",
                serial=format_case_serial(IMPL, date(2026, 3, 2), n),
                promised_limit_days=limit(n),
            )
        )
    cases.append(make_case(dept_case_no="NS-no-serial", serial=None))
    cases.append(make_case(dept_case_no="NS-bad", serial=None, decided_at=None))
    return cases


def case_drop(root: Path) -> Path:
    (root / "items").mkdir(parents=True)
    (root / "cases").mkdir()
    write_records(root / "items" / "items.xml", [make_item()])
    cases = numbered_cases(5, lambda n: n)
    cases.append(make_case(serial=None))  # repeats the first case's key
    write_records(root / "cases" / "cases.xml", cases)
    return root


def library_snapshot(loader: Loader) -> dict[str, Any]:
    with loader.sessions() as session:
        cases = {}
        for row in session.scalars(select(CaseRow)):
            doc = {c.name: getattr(row, c.name) for c in CaseRow.__table__.columns}
            for name in ("id", "applicant_id_enc", "updated_at", "batch_id"):
                del doc[name]
            doc["events"] = [
                (e.seq, e.state, e.at, e.actor, e.note)
                for e in session.scalars(
                    select(CaseEventRow).where(CaseEventRow.case_id == row.id).order_by("seq")
                )
            ]
            t = session.get(CaseTimeliness, row.id)
            doc["timeliness"] = None if t is None else (
                t.status, t.overdue, t.limit_days, t.deadline, t.received_at,
                t.prereview_deadline, t.prereview_at, t.prereview_late, t.as_of, t.problem,
            )  # fmt: skip
            assert loader.protector.decrypt(row.applicant_id_enc)
            cases[(row.source_system, row.dept_case_no)] = doc
        entries = list(session.scalars(select(QuarantineEntry).order_by(QuarantineEntry.id)))
        quarantine = sorted((q.record_index, q.rule) for q in entries)
        # In id order: the entries must also follow the source's order.
        detail = [
            (
                q.kind, q.record_index, q.line, q.payload_hash, q.rules, q.rule, q.message,
                q.payload_masked, q.status, loader.protector.decrypt(q.payload_enc),
            )
            for q in entries
        ]  # fmt: skip
    return {"cases": cases, "quarantine": quarantine, "quarantine_detail": detail}
