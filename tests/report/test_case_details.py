"""The drill-down of the case timeliness rules says why each case is listed.

Cases are written through the case library and judged by the ingest's timeliness code
with the real working-day calendar, around the 2025 National Day holiday (1–8 October;
Sunday 28 September and Saturday 11 October are 调休 working days).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone

from report_rows import add_rule
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from std_factories import PERSON, make_case

from standards.codes.enums import CaseState as S
from standards.identifiers import InMemorySerialAllocator
from standards.records import CaseEvent
from standards.workdays import WorkCalendar
from tongyuan.ingest.timeliness import recompute
from tongyuan.libraries.batches import open_batch
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseRow, find_case, write_case
from tongyuan.libraries.quality import QualityRun
from tongyuan.report import build_report
from tongyuan.report.case_details import (
    ALL_DETAIL_COLUMNS,
    CALENDAR_DAYS_LATE,
    DAYS_LATE,
    PREREVIEW_DEADLINE,
    PROBLEM,
    StoredCase,
    calendar_days_late,
    working_days_late,
)

CST = timezone(timedelta(hours=8))
AS_OF = date(2025, 10, 13)  # the run's day: Monday after the holiday
HOSTILE_ITEM = "食品经营许可\u202e<script>alert(1)</script>"
RUN = "run-details"


def _at(month: int, day: int, hour: int = 10, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=CST)


def _store(session: Session, protector, no: str, events, **over) -> str:
    case = make_case(
        dept_case_no=no,
        serial=None,
        events=[CaseEvent(state=s, at=at) for s, at in events],
        accepted_at=next((at for s, at in events if s is S.ACCEPTED), None),
        decided_at=next((at for s, at in events if s.is_done), None),
        promised_limit_days=1,
        item_name="食品经营许可",
        **over,
    )
    batch = open_batch(session, "cases", "sz-market")
    write_case(session, batch.id, case, protector=protector, allocator=InMemorySerialAllocator())
    row = find_case(session, case.source_system, no)
    assert row is not None
    return row.serial


# When the seeded run started: not AS_OF, the day it judged (a backdated run, listed apart
# with its own drill-down pages), unless a test says otherwise.
LATER_START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
BACKDATED = f"asof-{AS_OF}--all--"


def _seed(hub, protector, *, started: datetime = LATER_START) -> dict[str, str]:
    """Four cases and a timeliness run over them as of AS_OF; returns serials by role."""
    with Session(hub.engine) as session:
        # Accepted Mon 29 Sep, 1 working day: due Tue 30 Sep.
        late = _store(session, protector, "L1",
                      [(S.RECEIVED, _at(9, 29, 9)), (S.ACCEPTED, _at(9, 29)),
                       (S.DONE_APPROVED, _at(10, 9))])  # fmt: skip
        still_open = _store(session, protector, "O1",
                            [(S.RECEIVED, _at(9, 29, 9)), (S.ACCEPTED, _at(9, 29)),
                             (S.PROCESSING, _at(9, 30))])  # fmt: skip
        # Received Mon 29 Sep: 预审 due Thu 9 Oct (30 Sep, then 9 Oct); accepted 10 Oct.
        prereview = _store(session, protector, "P1",
                           [(S.RECEIVED, _at(9, 29)), (S.ACCEPTED, _at(10, 10))])  # fmt: skip
        # Accepted in a year whose holidays no calendar knows.
        in_2099 = [(S.RECEIVED, _at(1, 7, 9, 2099)), (S.ACCEPTED, _at(1, 7, 10, 2099))]
        unknown = _store(session, protector, "U1", in_2099)
        hostile = update(CaseRow).where(CaseRow.serial == late).values(item_name=HOSTILE_ITEM)
        session.execute(hostile)
        ids = list(session.scalars(select(CaseRow.id)))
        recompute(session, ids, today=AS_OF, calendar=WorkCalendar.default())
        unknown_id = find_case(session, "SZ-SCJGJ", "U1").id
        session.execute(
            update(CaseTimeliness)
            .where(CaseTimeliness.case_id == unknown_id)
            .values(problem=f"<b>no schedule</b> for 2099; reported by {PERSON}")
        )
        session.add(
            QualityRun(
                id=RUN,
                started_at=started,
                finished_at=started + timedelta(minutes=3),
                suite="timeliness",
                scope="all",
                status="failed",
                as_of=AS_OF,
            )
        )
        session.commit()
    for rule, keys in (
        ("case.overdue", [late, still_open]),
        ("case.prereview.late", [prereview]),
        ("deadline.unknown", [unknown, "NO-SUCH-SERIAL"]),
    ):
        add_rule(hub.engine, RUN, "timeliness", rule, [("440305", "4", None, len(keys), keys)])
    return {"late": late, "open": still_open, "prereview": prereview, "unknown": unknown}


def _row_cells(page: str, key: str) -> list[str]:
    row = next(r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if key in r)
    return re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)


def test_working_days_late_skip_the_national_day_holiday():
    case = StoredCase(
        item="x", state="11", accepted_at=_at(9, 29), decided_at=_at(10, 9), ended_at=None,
        deadline=date(2025, 9, 30), received_at=None, prereview_deadline=None, problem=None,
    )  # fmt: skip
    calendar = WorkCalendar.default()
    # Decided Thu 9 Oct: one working day after the deadline (weekdays alone: 7).
    assert working_days_late(case, AS_OF, calendar) == 1
    # Still open on the run's day: late Oct 9, 10, 11 (调休 Saturday) and 13.
    opened = StoredCase(**{**_fields(case), "state": "8", "decided_at": None})
    assert working_days_late(opened, AS_OF, calendar) == 4
    # Decided after the day judged: open that day, 1–8 Oct all holidays — listed as
    # late (the rule judges by the day) with 0 working days and 8 calendar days.
    assert working_days_late(case, date(2025, 10, 8), calendar) == 0
    assert calendar_days_late(case, date(2025, 10, 8)) == 8
    assert working_days_late(opened, date(2025, 9, 30), calendar) == 0
    assert calendar_days_late(opened, date(2025, 9, 30)) == 0
    # A Friday deadline judged on the Sunday: late by two days off only.
    friday = StoredCase(**{**_fields(opened), "deadline": date(2025, 11, 14)})
    assert working_days_late(friday, date(2025, 11, 16), calendar) == 0
    assert calendar_days_late(friday, date(2025, 11, 16)) == 2
    assert calendar_days_late(case, AS_OF) == 9  # decided 9 Oct


def _fields(case: StoredCase) -> dict:
    return {name: getattr(case, name) for name in StoredCase.__slots__}


def test_drill_down_shows_why_each_case_is_listed(hub, protector):
    serials = _seed(hub, protector)
    result = build_report(hub.settings)
    pages = {p.name: p.read_text("utf-8") for p in result.pages}

    overdue = pages[f"{BACKDATED}timeliness--case.overdue--case.html"]
    for heading in ("事项名称或实施编码", "受理时间（北京时间）", "办结时间或办件状态",
                    "法定/承诺期限", "超期工作日数", "超期自然日数"):  # fmt: skip
        assert f">{heading}</th>" in overdue
    late = _row_cells(overdue, serials["late"])
    assert late[5:] == [
        "<bdi>食品经营许可〈U+202E〉&lt;script&gt;alert(1)&lt;/script&gt;</bdi>",
        "<bdi>2025-09-29 10:00</bdi>",
        "<bdi>2025-10-09 10:00</bdi>",
        "<bdi>2025-09-30</bdi>",
        "1",
        "9",
    ]
    still_open = _row_cells(overdue, serials["open"])
    assert still_open[7] == "<bdi>部门开始办理</bdi>" and still_open[9] == "4"
    assert 'id="details-note"' in overdue and "生成本报告时" in overdue and "2025-10-13" in overdue
    assert "<script>" not in overdue and "\u202e" not in overdue

    prereview_page = pages[f"{BACKDATED}timeliness--case.prereview.late--case.html"]
    prereview = _row_cells(prereview_page, serials["prereview"])
    assert prereview[-2:] == ["<bdi>2025-09-29 10:00</bdi>", "<bdi>2025-10-09</bdi>"]

    unknown_page = pages[f"{BACKDATED}timeliness--deadline.unknown--case.html"]
    unknown = _row_cells(unknown_page, serials["unknown"])
    assert unknown[8] == "—" and "&lt;b&gt;no schedule&lt;/b&gt;" in unknown[-1]
    assert "4403**********" in unknown[-1]
    assert "库中未找到该办件" in "".join(_row_cells(unknown_page, "NO-SUCH-SERIAL"))

    every = "".join(pages.values())
    assert PERSON not in every and "张伟" not in every


def test_exports_carry_the_case_details(hub, protector):
    # The exports follow the headline: a run that judged the day it ran (AS_OF, Beijing).
    serials = _seed(hub, protector, started=datetime(2025, 10, 13, 1, 0, tzinfo=UTC))
    exports = build_report(hub.settings).exports
    text = exports.failing_csv.read_text("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[-len(ALL_DETAIL_COLUMNS) :] == list(ALL_DETAIL_COLUMNS)
    by_key = {row["记录键"]: row for row in rows}
    assert by_key[serials["late"]][DAYS_LATE] == "1"
    assert by_key[serials["open"]][DAYS_LATE] == "4"
    assert by_key[serials["open"]][CALENDAR_DAYS_LATE] == "13"  # 30 Sep → 13 Oct
    assert by_key[serials["prereview"]][PREREVIEW_DEADLINE] == "2025-10-09"
    assert "4403**********" in by_key[serials["unknown"]][PROBLEM]
    assert PERSON not in text and "张伟" not in text and "\u202e" not in text
    with zipfile.ZipFile(exports.xlsx) as book:
        xml = "".join(book.read(n).decode("utf-8") for n in book.namelist() if n.endswith(".xml"))
    assert "超期工作日数" in xml and "〈U+202E〉" in xml and PERSON not in xml
    assert "<v>4</v>" in xml  # a number, not text
    # The same run and library render to the same bytes.
    again = build_report(hub.settings)
    assert [p.read_bytes() for p in again.exports.all()] == [p.read_bytes() for p in exports.all()]
