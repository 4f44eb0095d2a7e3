"""Cases (办件): legal state histories in office hours, serials, department case numbers.

Cases are drawn in two passes: first every case's shape (item, applicant, timeline
relative to its first day), then, in chronological order, the numbers that depend on
order: the unified serial (allocated per item and day) and the department's own number.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import accumulate

from standards.codes.enums import CaseState, ItemType
from standards.identifiers import InMemorySerialAllocator, format_case_serial
from standards.records import Case, CaseEvent
from tongyuan.generate.applicants import Party
from tongyuan.generate.clock import (
    CASES_FROM,
    CASES_TO,
    GENERATED_AT,
    OFFICE_SECONDS,
    day_index,
    last_day_index,
    office_time,
    working_days,
)
from tongyuan.generate.fastmodel import fast_model
from tongyuan.generate.items import ImplementedItem, case_weight
from tongyuan.generate.topology import Department

S = CaseState
_DONE = (S.DONE_APPROVED, S.DONE_TOLERANCE, S.DONE_DENIED)

# (scenario, weight). Scenarios name the path a case takes through the state table.
_SCENARIOS: tuple[tuple[str, float], ...] = (
    ("approve", 58.0),
    ("tolerance", 5.0),
    ("deny", 6.0),
    ("correction", 8.0),
    ("special", 2.0),
    ("retract", 2.0),
    ("not_accepted", 3.0),
    ("rejected", 3.0),
    ("withdrawn", 2.0),
    ("in_progress", 3.0),
    ("revoked", 1.0),
    ("instant", 7.0),
)
_SCENARIO_NAMES = tuple(s for s, _ in _SCENARIOS)
_SCENARIO_CUM = tuple(accumulate(w for _, w in _SCENARIOS))

_DELIVERY = ("窗口领取", "邮政寄递", "电子送达", "自助终端打印")
_CORRECTION_NOTES = ("申请材料不齐全，请补正", "请补充提交相关证明材料", "申请表填写不规范，请更正")

# Department case-number formats seen in platform data (DESIGN §3, real-world variation).
DEPT_NUMBER_FORMATS = ("impl43", "impl43", "handling45", "impl48", "local22", "local14", "lower")

Event = tuple[CaseState, int, int]  # state, working-day offset, second of office hours


@dataclass(slots=True)
class _Shape:
    """A case before it is placed in time and numbered."""

    item: ImplementedItem
    party: Party
    events: list[Event]
    accepted: int | None  # index into events
    decided: int | None
    deadline_offset: int | None
    delivered: tuple[int, int] | None
    start: int = 0  # working-day index of the first event


@dataclass(slots=True)
class GeneratedCase:
    """A case record with the generation facts later stages need."""

    item: ImplementedItem
    party: Party
    record: Case
    first_day: date

    @property
    def approved(self) -> bool:
        """Whether the case ended with a decision to grant (11 or 12), i.e. may issue a license."""
        return self.record.decided_at is not None and any(
            e.state in (S.DONE_APPROVED, S.DONE_TOLERANCE) for e in self.record.events
        )


class _Timeline:
    """Appends events at increasing (working day, office second) positions."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.day = 0
        self.sec = rng.randrange(OFFICE_SECONDS - 3600)
        self.events: list[Event] = []

    def add(self, state: CaseState, min_days: int = 0, max_days: int = 0) -> int:
        rng = self.rng
        if self.events:
            days = rng.randint(min_days, max_days) if max_days > min_days else min_days
            if days <= 0:
                gap = rng.randint(120, 5400)
                if self.sec + gap < OFFICE_SECONDS:
                    self.sec += gap
                else:
                    self.day += 1
                    self.sec = rng.randrange(OFFICE_SECONDS)
            else:
                self.day += days
                self.sec = rng.randrange(OFFICE_SECONDS)
        self.events.append((state, self.day, self.sec))
        return len(self.events) - 1

    def later(self, min_days: int, max_days: int) -> tuple[int, int]:
        """A position after the last event (for delivery), without adding an event."""
        days = self.rng.randint(min_days, max_days)
        if days == 0:
            gap = self.rng.randint(300, 7200)
            if self.sec + gap < OFFICE_SECONDS:
                return self.day, self.sec + gap
            days = 1
        return self.day + days, self.rng.randrange(OFFICE_SECONDS)


def _shape(rng: random.Random, item: ImplementedItem, party: Party, scenario: str) -> _Shape:
    promised = item.record.promised_limit_days
    tl = _Timeline(rng)
    accepted = decided = None
    if scenario == "instant":
        accepted = tl.add(S.ACCEPTED)
        decided = tl.add(S.DONE_APPROVED, 0, 0 if promised == 0 else 1)
    else:
        if scenario in ("not_accepted", "rejected", "withdrawn"):
            tl.add(S.RECEIVED)
            end = {"not_accepted": S.NOT_ACCEPTED, "rejected": S.REJECTED}.get(
                scenario, S.WITHDRAWN_BEFORE_ACCEPTANCE
            )
            tl.add(end, 0, 3)
            return _Shape(item, party, tl.events, None, None, None, None)
        if scenario == "correction":
            tl.add(S.RECEIVED)
            tl.add(S.CORRECTION_START, 0, 1)
            tl.add(S.CORRECTION_END, 1, 5)
            accepted = tl.add(S.ACCEPTED, 0, 1)
        elif rng.random() < 0.15:
            accepted = tl.add(S.ACCEPTED)  # received and accepted at once at the window
        else:
            tl.add(S.RECEIVED)
            accepted = tl.add(S.ACCEPTED, 0, 1)
        accept_day = tl.day
        if scenario == "in_progress":
            if rng.random() < 0.6:
                tl.add(S.PROCESSING, 0, 1)
            return _Shape(item, party, tl.events, accepted, None, accept_day + promised, None)
        tl.add(S.PROCESSING, 0, 1)
        if scenario == "special":
            tl.add(S.SPECIAL_START, 1, 3)
            tl.add(S.SPECIAL_END, 2, 8)
        if scenario == "retract":
            tl.add(S.RETRACTED, 1, 5)
            return _Shape(item, party, tl.events, accepted, None, accept_day + promised, None)
        overdue = rng.random() < 0.06
        late = promised + rng.randint(1, 5) if overdue else rng.randint(0, promised)
        target = accept_day + late
        state = {"tolerance": S.DONE_TOLERANCE, "deny": S.DONE_DENIED}.get(scenario)
        if state is None:
            state = S.DONE_APPROVED if scenario != "correction" else rng.choice(_DONE)
        decided = tl.add(state, max(0, target - tl.day))
        if scenario == "revoked":
            tl.add(S.REVOKED, 5, 20)
    delivered = tl.later(0, 3) if rng.random() < 0.85 else None
    deadline = tl.events[accepted][1] + promised if accepted is not None else None
    if scenario == "revoked" and delivered is not None:
        delivered = None  # the decision was revoked; what was delivered is not the point
    return _Shape(item, party, tl.events, accepted, decided, deadline, delivered)


def _decision(state: CaseState, item_type: ItemType) -> str:
    licensing = item_type is ItemType.LICENSING
    if state is S.DONE_APPROVED:
        return "准予行政许可" if licensing else "予以办理"
    if state is S.DONE_TOLERANCE:
        return "容缺受理，准予许可，申请人承诺限期补齐材料" if licensing else "容缺办理"
    return "不予行政许可" if licensing else "不予办理"


class _DeptNumbers:
    """Each department's own case numbers, in the format its system uses, never repeating."""

    def __init__(self, rng: random.Random, departments: list[Department]) -> None:
        self.format = {d.source_system: rng.choice(DEPT_NUMBER_FORMATS) for d in departments}
        self.counter: dict[tuple[str, ...], int] = {}

    def _next(self, key: tuple[str, ...]) -> int:
        n = self.counter.get(key, 0) + 1
        self.counter[key] = n
        return n

    def number(self, item: ImplementedItem, ymd: str) -> str:
        src = item.dept.source_system
        fmt = self.format[src]
        impl = item.impl_code
        if fmt == "impl43":
            return f"{impl}{ymd}{self._next((src, impl, ymd)):04d}"
        if fmt == "handling45":
            return f"{impl}01{ymd}{self._next((src, impl, ymd)):04d}"
        if fmt == "impl48":
            return f"{impl}{ymd}{self._next((src, impl, ymd)):09d}"
        if fmt == "local22":
            head = src.replace("-", "") + ymd[2:]
            return f"{head}{self._next((src, ymd)):0{22 - len(head)}d}"
        if fmt == "local14":
            return f"{ymd}{self._next((src, ymd)):06d}"
        head = f"{item.node.prefix}{item.dept.kind.abbr}".lower()
        return f"{head}{ymd}{self._next((src, ymd)):05d}"


def _pick_party(
    rng: random.Random, item: ImplementedItem, people: list[Party], companies: list[Party]
) -> Party:
    personal = any(m.material_type == "身份证明" for m in item.base.materials)
    if personal:
        share = 0.92
    elif item.base.item_type is ItemType.LICENSING:
        share = 0.25
    else:
        share = 0.6
    return rng.choice(people) if rng.random() < share else rng.choice(companies)


def _latest_start(shape: _Shape, lo: int, hi: int, last: int, now: int) -> int:
    """The last working day a case may start on: its deadline inside the calendar, and
    its events and delivery by the generation day (``GENERATED_AT``), never in the future.
    """
    happened = max(shape.events[-1][1], shape.delivered[0] if shape.delivered else 0)
    latest = min(hi, last - max(happened, shape.deadline_offset or 0), now - happened)
    if latest < lo:
        raise ValueError(
            f"a case spanning {happened} working days cannot start on or after {CASES_FROM} "
            f"and end by {GENERATED_AT.isoformat()}"
        )
    return latest


def build_cases(
    rng: random.Random,
    items: list[ImplementedItem],
    people: list[Party],
    companies: list[Party],
    count: int,
    progress: Callable[[int], None] | None = None,
) -> list[GeneratedCase]:
    """``count`` cases in chronological order of their first event."""
    if count and not items:
        raise ValueError("cannot generate cases without items")
    days = working_days()
    lo, hi = day_index(CASES_FROM), day_index(CASES_TO)
    last, now = len(days) - 1, last_day_index(GENERATED_AT.date())
    item_cum = list(accumulate(case_weight(it, rng) for it in items))
    chosen_items = rng.choices(items, cum_weights=item_cum, k=count)
    scenarios = rng.choices(_SCENARIO_NAMES, cum_weights=_SCENARIO_CUM, k=count)
    shapes: list[_Shape] = []
    for item, scenario in zip(chosen_items, scenarios, strict=True):
        shape = _shape(rng, item, _pick_party(rng, item, people, companies), scenario)
        shape.start = rng.randint(lo, _latest_start(shape, lo, hi, last, now))
        shapes.append(shape)
    order = sorted(range(count), key=lambda i: (shapes[i].start, shapes[i].events[0][2], i))

    departments = sorted({it.dept.source_system: it.dept for it in items}.values(),
                         key=lambda d: d.source_system)  # fmt: skip
    numbers = _DeptNumbers(rng, departments)
    allocator = InMemorySerialAllocator()
    result: list[GeneratedCase] = []
    for done, i in enumerate(order, 1):
        result.append(_finish(rng, shapes[i], numbers, allocator, days))
        if progress is not None and (done % 10_000 == 0 or done == count):
            progress(done)
    return result


def _finish(
    rng: random.Random,
    shape: _Shape,
    numbers: _DeptNumbers,
    allocator: InMemorySerialAllocator,
    days: tuple[date, ...],
) -> GeneratedCase:
    item, start = shape.item, shape.start
    rec = item.record
    dept_name = item.dept.name
    window = f"{item.node.name}政务服务中心综合窗口"
    events: list[CaseEvent] = []
    for state, off, sec in shape.events:
        at = office_time(start + off, sec)
        note = rng.choice(_CORRECTION_NOTES) if state is S.CORRECTION_START else None
        actor = window if state in (S.RECEIVED, S.ACCEPTED) else dept_name
        events.append(
            fast_model(CaseEvent, {"state": state, "at": at, "actor": actor, "note": note})
        )
    first_day = days[start]
    ymd = f"{first_day.year:04d}{first_day.month:02d}{first_day.day:02d}"
    impl = item.impl_code
    serial = format_case_serial(impl, first_day, allocator.allocate(impl, first_day))
    dept_no = numbers.number(item, ymd)
    accepted_at = events[shape.accepted].at if shape.accepted is not None else None
    decided_at: datetime | None = None
    decision = None
    if shape.decided is not None:
        decided_at = events[shape.decided].at
        decision = _decision(events[shape.decided].state, item.base.item_type)
    delivered_at = delivery_method = None
    if shape.delivered is not None and decided_at is not None:
        delivered_at = office_time(start + shape.delivered[0], shape.delivered[1])
        delivery_method = rng.choice(_DELIVERY)
    deadline = days[start + shape.deadline_offset] if shape.deadline_offset is not None else None
    last_at = events[-1].at
    own_format = numbers.format[item.dept.source_system]
    handling = rec.handling_code if own_format == "handling45" else None
    record = fast_model(
        Case,
        {
            "source_system": item.dept.source_system,
            "dept_case_no": dept_no,
            "serial": serial,
            "impl_code": impl,
            "handling_code": handling,
            "item_name": rec.name,
            "applicant": shape.party.applicant,
            "events": events,
            "accepted_at": accepted_at,
            "decided_at": decided_at,
            "decision": decision,
            "delivered_at": delivered_at,
            "delivery_method": delivery_method,
            "promised_limit_days": rec.promised_limit_days,
            "promised_deadline": deadline,
            "region_code": item.node.code,
            "material_ids": [],
            "updated_at": max(last_at, delivered_at) if delivered_at is not None else last_at,
        },
    )
    return GeneratedCase(item, shape.party, record, first_day)
