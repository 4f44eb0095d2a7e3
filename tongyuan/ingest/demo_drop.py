"""A department's case delivery for the demo: cases under items the library has published.

``tongyuan demo`` syncs items first, then needs a department to deliver cases that cite
those items, so the case_ingest run has something true to check: most cases are clean,
some are overdue by the working-day calendar, and a few are planted to break one library
rule each (counted in the summary, so the demo can show the quarantine agree). When the
department signs its deliveries and a signing key is given, the drop is signed too.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from standards.codes.enums import CaseState as S
from standards.codes.enums import IdType, ReviewStatus
from standards.formats import write_records
from standards.identifiers import citizen_id_check_char
from standards.records import Applicant, Case, CaseEvent, Material
from standards.workdays import WorkCalendar
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.base import HUB_TIMEZONE
from tongyuan.libraries.items import ItemVersion
from tongyuan.topology import Topology

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰")
# Planted library defects (one rule each) and how many of every 20 cases carry one.
PLANTED = ("case.time_limit", "case.item.unknown", "case.material.missing")
_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@dataclass(slots=True)
class DropSummary:
    """What was delivered: counts only, so the demo can print and compare them."""

    folder: Path
    cases: int = 0
    materials: int = 0
    overdue_open: int = 0
    planted: dict[str, int] = field(default_factory=dict)
    signed: bool = False


def _published_items(settings: Settings, node: str, limit: int) -> list[ItemVersion]:
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            rows = list(
                session.scalars(
                    select(ItemVersion)
                    .where(
                        ItemVersion.valid_to.is_(None),
                        ItemVersion.is_tombstone.is_(False),
                        ItemVersion.status == ReviewStatus.PUBLISHED.value,
                    )
                    .order_by(ItemVersion.region_code != node, ItemVersion.impl_code)
                    .limit(limit)
                )
            )
            for row in rows:
                session.expunge(row)
            return rows
    finally:
        engine.dispose()


def _person(rng: random.Random, region: str) -> Applicant:
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
    body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
    return Applicant(name=name, id_type=IdType.CITIZEN_ID,
                     id_number=body + citizen_id_check_char(body))  # fmt: skip


def _at(day: date, rng: random.Random) -> datetime:
    moment = datetime.combine(day, time(9, 0), HUB_TIMEZONE)
    return moment + timedelta(minutes=rng.randrange(7 * 60))


def write_case_drop(
    settings: Settings,
    topology: Topology,
    department: str,
    *,
    cases: int = 40,
    seed: int = 0,
    today: date | None = None,
    signing_key: Any = None,
    chain: list[bytes] | None = None,
) -> DropSummary:
    """Write materials and cases into the department's drop folder (a ``files`` source).

    Cases cite published items of the library (the department's node first), start on
    working days within the last 60 working days and follow a legal history ending by the
    working day before ``today``; about one in five is still open, some of them past their
    deadline. Raises ValueError when the
    library holds no published item yet (sync items first).
    """
    dept = topology.case_department(department)
    assert dept.cases is not None
    if not isinstance(dept.cases.config, dict) or "path" not in dept.cases.config:
        raise ValueError(f"{dept.code}: the demo drop needs a files source with a path")
    folder = Path(dept.cases.config["path"])
    folder.mkdir(parents=True, exist_ok=True)
    items = _published_items(settings, dept.node, 50)
    if not items:
        raise ValueError("the item library holds no published item: sync items first")
    rng = random.Random(seed)  # noqa: S311 - synthetic demo data, not secrets
    calendar = WorkCalendar.default()
    today = today or datetime.now(UTC).astimezone(HUB_TIMEZONE).date()
    # Decisions by the working day before ``today``: one dated today in office hours could
    # lie after the moment the drop is written, a decision that has not happened yet (the
    # hub refuses it: case.timestamps.future).
    decided_by = calendar.add_working_days(today, -1)
    summary = DropSummary(folder=folder, planted={rule: 0 for rule in PLANTED})
    stamp = f"{today:%Y%m%d}{seed:03d}"

    holder = _person(rng, dept.node)
    content = _PDF + f"% {stamp}\n".encode()
    files = folder / "files"
    files.mkdir(exist_ok=True)
    (files / f"id-{stamp}.pdf").write_bytes(content)
    material = Material(
        material_id=f"M-{dept.code[-6:]}-{stamp}",
        name="居民身份证复印件",
        material_type="身份证明",
        holder_name=holder.name,
        holder_id_type=holder.id_type,
        holder_id_number=holder.id_number,
        file=f"files/id-{stamp}.pdf",
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        media_type="application/pdf",
        valid_from=today - timedelta(days=365),
        valid_to=today + timedelta(days=3650),
    )
    records: list[Case] = []
    for n in range(cases):
        item = rng.choice(items)
        start = calendar.add_working_days(today, -rng.randint(5, 60))
        received = _at(start, rng)
        accepted = received + timedelta(minutes=rng.randint(10, 90))
        limit = min(item.promised_limit_days, item.statutory_limit_days)
        events = [CaseEvent(state=S.RECEIVED, at=received),
                  CaseEvent(state=S.ACCEPTED, at=accepted)]  # fmt: skip
        still_open = n % 5 == 4
        decided_at = None
        if not still_open:
            within = max(1, limit + (rng.choice((0, 0, 0, 2)) if limit else 1))
            day = calendar.add_working_days(accepted.date(), rng.randint(1, within))
            day = min(day, decided_by)
            decided_at = max(_at(day, rng), accepted + timedelta(hours=1))
            events.append(CaseEvent(state=S.DONE_APPROVED, at=decided_at))
        elif calendar.add_working_days(accepted.date(), limit) < today:
            summary.overdue_open += 1
        applicant = holder if n % 4 == 0 else _person(rng, dept.node)
        data: dict[str, Any] = {
            "source_system": f"DEPT-{dept.code[-6:]}",
            "dept_case_no": f"{stamp}-{n:05d}",
            "impl_code": item.impl_code,
            "item_name": item.name,
            "applicant": applicant,
            "events": events,
            "accepted_at": accepted,
            "decided_at": decided_at,
            "promised_limit_days": limit,
            "region_code": dept.node,
            "material_ids": [material.material_id] if applicant is holder else [],
        }
        planted = PLANTED[n // 20 % len(PLANTED)] if n % 20 == 7 else None
        if planted == "case.time_limit":
            data["promised_limit_days"] = item.statutory_limit_days + 5
        elif planted == "case.item.unknown":
            data["impl_code"] = item.impl_code[:-3] + (
                "999" if item.impl_code[-3:] != "999" else "998"
            )
        elif planted == "case.material.missing":
            data["material_ids"] = [f"M-MISSING-{stamp}-{n}"]
        if planted is not None:
            summary.planted[planted] += 1
        records.append(Case.model_validate(data))
    _write(folder, f"materials_{stamp}.xml", [material])
    _write(folder, f"cases_{stamp}.xml", records)
    summary.cases, summary.materials = len(records), 1
    if dept.signing and signing_key is not None and chain:
        from signing.detached import sign_detached
        from tongyuan.ingest.signed import SIGNATURE_NAME, build_manifest

        names = [f"materials_{stamp}.xml", f"cases_{stamp}.xml"]
        manifest = build_manifest(folder, names)
        (folder / "MANIFEST.json").write_bytes(manifest)
        (folder / SIGNATURE_NAME).write_bytes(sign_detached(manifest, signing_key, chain))
        summary.signed = True
    return summary


def _write(folder: Path, name: str, records: list[Any]) -> None:
    """Write under a dot-name and rename: the drop never shows a half-written file."""
    tmp = folder / f".{name}"
    write_records(tmp, records)
    tmp.replace(folder / name)
