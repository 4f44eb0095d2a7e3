"""The demo's case delivery never holds a decision that has not happened yet."""

from __future__ import annotations

from datetime import date

from ingest_world import DEPT, World

from standards.formats import iter_raw_records, to_record
from standards.records import Case
from standards.workdays import WorkCalendar
from tongyuan.ingest.demo_drop import write_case_drop
from tongyuan.libraries.base import local_date


def test_every_event_of_the_demo_drop_is_before_the_day_it_is_written(world: World) -> None:
    """Decisions were capped at ``today`` and dated in office hours: written before 16:00
    (or just after midnight), some were after the moment of writing, and the hub refused
    them (case.timestamps.future)."""
    today = date(2026, 3, 20)  # a Friday; the drop is as written that day
    drop = write_case_drop(world.settings, world.topology, DEPT, cases=60, seed=3, today=today)
    cases = [
        to_record(raw)[0]
        for path in sorted(drop.folder.glob("cases_*.xml"))
        for raw in iter_raw_records(path)
    ]
    assert len(cases) == 60 and all(isinstance(c, Case) for c in cases)
    last = max(local_date(e.at) for c in cases for e in c.events)  # type: ignore[union-attr]
    # By the working day before (the 19th): still up to date, but never on the day itself.
    assert last == WorkCalendar.default().add_working_days(today, -1) == date(2026, 3, 19)
