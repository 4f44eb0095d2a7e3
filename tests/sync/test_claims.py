"""Claims (认领): pushed → claimed → completed, and overdue in working days."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from std_factories import make_item
from test_deliver_world import (
    DISTRICTS,
    FUTIAN,
    LONGGANG,
    NANSHAN,
    World,
    at,
    build_template,
    clone_world,
)

from standards.codes.enums import ReviewStatus
from standards.workdays import WorkCalendar
from tongyuan.config import Settings
from tongyuan.libraries.claims import Claim, ClaimEvent
from tongyuan.sync import claims as claims_module
from tongyuan.sync import sync_node
from tongyuan.sync.claims import (
    CLAIM_ELEMENTS,
    NOT_IN_LIBRARY,
    claim_counts,
    claim_deadline,
    claims_of,
    unfilled_elements,
    update_claims,
)
from tongyuan.sync.deliver import push_down
from tongyuan.sync.systems import PLACEHOLDER, write_export

CITY = "440300"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("claims-world"))


@pytest.fixture
def world(template: Path, settings: Settings, tmp_path: Path) -> World:
    return clone_world(template, settings, tmp_path)


def _resync(world: World, code: str, now) -> None:  # type: ignore[no-untyped-def]
    result = sync_node(world.settings, world.topology, code, now=now)
    assert result.status == "committed", result.error
    with world.session() as session:
        update_claims(session, world.topology, code, now, batch_id=result.batch_id)
        session.commit()


def test_every_pushed_base_item_makes_one_claim(world: World) -> None:
    with world.session() as session:
        counts = claim_counts(session)
        per_district = {d: len(claims_of(session, d)) for d in DISTRICTS}
        completed = sum(claim_counts(session, d).get("completed", 0) for d in DISTRICTS)
        city = claim_counts(session, CITY)
    # Every district gets the same base items; all but the two planted claims and the
    # copy held in review (not in the library) are completed.
    assert len(set(per_district.values())) == 1
    assert completed == sum(per_district.values()) - 3
    (held,) = world.systems.planted_of("held")
    claim = world.claim(held.node, held.basic_code)
    assert (claim.status, claim.missing) == ("claimed", [NOT_IN_LIBRARY])
    assert set(city) == {"completed"}  # the city implements all it is pushed
    # A second push makes no second claim.
    push_down(world.settings, world.topology, CITY, now=at(3, 3))
    with world.session() as session:
        assert claim_counts(session) == counts


def test_missing_item_stays_pushed_then_is_claimed_then_completed(world: World) -> None:
    (planted,) = world.systems.planted_of("claim_missing")
    claim = world.claim(LONGGANG, planted.basic_code)
    assert (claim.status, claim.impl_code, claim.claimed_at) == ("pushed", None, None)
    assert claim.missing == list(CLAIM_ELEMENTS)

    # The district takes the item up but fills in nothing local yet.
    peer = next(i for i in world.systems.exports[DISTRICTS[1]]
                if i.basic_code == planted.basic_code)  # fmt: skip
    template = next(i for i in world.systems.exports[LONGGANG])
    taken = peer.model_copy(update={
        "impl_code": planted.impl_code, "handling_code": planted.impl_code + "01",
        "authority_uscc": template.authority_uscc, "authority_name": template.authority_name,
        "region_code": LONGGANG, "location": PLACEHOLDER, "query_channels": "暂无",
    })  # fmt: skip
    write_export(world.topology, LONGGANG, [taken], "0003-claim")
    _resync(world, LONGGANG, at(3, 3))
    claim = world.claim(LONGGANG, planted.basic_code)
    assert claim.status == "claimed" and claim.impl_code == planted.impl_code
    assert claim.missing == ["location", "query_channels"]
    assert claim.claimed_at is not None and claim.completed_at is None

    filled = taken.model_copy(update={
        "location": "深圳市龙岗区龙城大道1号政务服务中心", "query_channels": "广东政务服务网",
    })  # fmt: skip
    write_export(world.topology, LONGGANG, [filled], "0004-filled")
    _resync(world, LONGGANG, at(3, 4))
    claim = world.claim(LONGGANG, planted.basic_code)
    assert (claim.status, claim.missing) == ("completed", [])
    assert claim.completed_at is not None and claim.overdue_since is None


def test_placeholders_keep_a_claim_from_completing(world: World) -> None:
    (planted,) = world.systems.planted_of("claim_incomplete")
    claim = world.claim(FUTIAN, planted.basic_code)
    assert claim.status == "claimed"
    assert claim.missing == ["location", "consult_channels"]


def test_overdue_after_five_working_days_across_national_day(
    settings: Settings, tmp_path: Path
) -> None:
    """Pushed Monday 28 September 2026: 29, 30 Sep, (1–7 Oct National Day), 8, 9 Oct and
    the 调休 Saturday 10 Oct are the five working days — naive weekdays would say 5 Oct."""
    from test_deliver_world import make_world

    world = make_world(settings, tmp_path)
    pushed = at(9, 28)
    world.run(pushed)
    (planted,) = world.systems.planted_of("claim_missing")
    claim = world.claim(LONGGANG, planted.basic_code)
    assert claim.deadline == date(2026, 10, 10)
    for day, expected in ((at(10, 5), "pushed"), (at(10, 10, 17), "pushed"),
                          (at(10, 11), "overdue")):  # fmt: skip
        with world.session() as session:
            update_claims(session, world.topology, LONGGANG, day)
            session.commit()
        assert world.claim(LONGGANG, planted.basic_code).status == expected, day
    overdue = world.claim(LONGGANG, planted.basic_code)
    assert overdue.overdue_since is not None
    # The incomplete claim of another district goes overdue the same way.
    (incomplete,) = world.systems.planted_of("claim_incomplete")
    with world.session() as session:
        update_claims(session, world.topology, FUTIAN, at(10, 12))
        session.commit()
    assert world.claim(FUTIAN, incomplete.basic_code).status == "overdue"


def test_late_completion_keeps_the_lateness(world: World) -> None:
    (planted,) = world.systems.planted_of("claim_incomplete")
    late = at(3, 20)
    with world.session() as session:
        update_claims(session, world.topology, FUTIAN, late)
        session.commit()
    assert world.claim(FUTIAN, planted.basic_code).status == "overdue"
    item = next(i for i in world.systems.exports[FUTIAN] if i.impl_code == planted.impl_code)
    fixed = item.model_copy(update={"location": "深圳市福田区福中三路1号市民中心",
                                    "consult_channels": "0755-12345"})  # fmt: skip
    write_export(world.topology, FUTIAN, [fixed], "0005-fixed")
    _resync(world, FUTIAN, at(3, 23))
    claim = world.claim(FUTIAN, planted.basic_code)
    assert claim.status == "completed" and claim.overdue_since is not None


def test_update_is_idempotent(world: World) -> None:
    with world.session() as session:
        first = update_claims(session, world.topology, FUTIAN, at(3, 3))
        session.commit()
        again = update_claims(session, world.topology, FUTIAN, at(3, 3))
        session.commit()
    assert again.moved == 0 and again.by_status == first.by_status


def test_cancelled_copy_does_not_claim(world: World) -> None:
    (planted,) = world.systems.planted_of("claim_incomplete")
    item = next(i for i in world.systems.exports[FUTIAN] if i.impl_code == planted.impl_code)
    cancelled = item.model_copy(update={"status": ReviewStatus.CANCELLED})
    write_export(world.topology, FUTIAN, [cancelled], "0006-cancel")
    _resync(world, FUTIAN, at(3, 3))
    claim = world.claim(FUTIAN, planted.basic_code)
    assert (claim.status, claim.impl_code) == ("pushed", None)


def _events(world: World, node: str, basic_code: str) -> list[ClaimEvent]:
    with world.session() as session:
        rows = session.scalars(
            select(ClaimEvent)
            .where(ClaimEvent.node == node, ClaimEvent.basic_code == basic_code)
            .order_by(ClaimEvent.at)
        )
        return list(rows)


def _completed_claim(world: World, node: str) -> Claim:
    with world.session() as session:
        return next(c for c in claims_of(session, node, status="completed"))


def test_a_copy_over_the_base_limit_does_not_complete_a_claim(world: World) -> None:
    """QA: a district answered with a copy saying statutory 100, promised 50 under a base
    of statutory 30; the claim was completed against the copy's own limit."""
    (planted,) = world.systems.planted_of("claim_missing")
    peer = next(i for i in world.systems.exports[DISTRICTS[1]]
                if i.basic_code == planted.basic_code)  # fmt: skip
    template = next(i for i in world.systems.exports[LONGGANG])
    base = peer.statutory_limit_days
    taken = peer.model_copy(update={
        "impl_code": planted.impl_code, "handling_code": planted.impl_code + "01",
        "authority_uscc": template.authority_uscc, "authority_name": template.authority_name,
        "region_code": LONGGANG, "location": "深圳市龙岗区龙城大道1号政务服务中心",
        "query_channels": "龙岗查询", "consult_channels": "龙岗咨询",
        "complaint_channels": "龙岗投诉", "statutory_limit_days": base + 70,
        "promised_limit_days": base + 20,
    })  # fmt: skip
    write_export(world.topology, LONGGANG, [taken], "0003-over")
    sync_node(world.settings, world.topology, LONGGANG, now=at(3, 3))
    push_down(world.settings, world.topology, CITY, now=at(3, 3))
    claim = world.claim(LONGGANG, planted.basic_code)
    assert claim.status == "claimed" and claim.completed_at is None
    assert "promised_limit_days" in claim.missing


def test_a_held_copy_completes_only_once_the_library_holds_it(world: World) -> None:
    (held,) = world.systems.planted_of("held")
    claim = world.claim(held.node, held.basic_code)
    assert (claim.status, claim.impl_code) == ("claimed", held.impl_code)
    assert claim.missing == [NOT_IN_LIBRARY]


def test_a_completed_claim_reopens_when_its_item_is_cancelled(world: World) -> None:
    done = _completed_claim(world, NANSHAN)
    item = next(i for i in world.systems.exports[NANSHAN] if i.impl_code == done.impl_code)
    cancelled = item.model_copy(update={"status": ReviewStatus.CANCELLED})
    write_export(world.topology, NANSHAN, [cancelled], "0007-cancel")
    _resync(world, NANSHAN, at(3, 3))
    claim = world.claim(NANSHAN, done.basic_code)
    assert (claim.status, claim.impl_code, claim.completed_at) == ("pushed", None, None)
    last = _events(world, NANSHAN, done.basic_code)[-1]
    assert (last.from_status, last.to_status) == ("completed", "pushed")
    assert last.reason is not None and "cancelled" in last.reason


def test_a_completed_claim_reopens_when_the_base_limit_drops_below_its_promise(
    world: World,
) -> None:
    done = _completed_claim(world, NANSHAN)
    mine = next(i for i in world.systems.exports[NANSHAN] if i.impl_code == done.impl_code)
    base = next(i for i in world.systems.exports[done.from_node]
                if i.impl_code == done.base_impl_code)  # fmt: skip
    promised = mine.promised_limit_days
    # The level above lowers its statutory limit below the district's promise, in its
    # own system; the hub syncs it and pushes it down.
    lowered = base.model_copy(update={
        "statutory_limit_days": promised - 1, "promised_limit_days": promised - 1,
    })  # fmt: skip
    write_export(world.topology, done.from_node, [lowered], "0008-lower")
    assert sync_node(world.settings, world.topology, done.from_node, now=at(3, 3)).error is None
    push_down(world.settings, world.topology, done.from_node, now=at(3, 3))
    claim = world.claim(NANSHAN, done.basic_code)
    assert (claim.status, claim.missing) == ("claimed", ["promised_limit_days"])
    assert claim.completed_at is None
    last = _events(world, NANSHAN, done.basic_code)[-1]
    assert (last.from_status, last.to_status, last.impl_code) == (
        "completed", "claimed", done.impl_code,
    )  # fmt: skip
    assert last.reason is not None and "promised_limit_days" in last.reason


def test_a_completed_claim_is_judged_again_only_when_its_inputs_change(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review: every push judged every completed claim again (seconds and hundreds of MB
    per child at 5k-20k claims); only a claim whose copy, library version or base
    elements changed is judged now."""
    judged: list[tuple[str, str]] = []
    judge = claims_module._judge

    def spy(*args: Any) -> None:
        claim = next(a for a in args if isinstance(a, Claim))
        if claim.status == "completed":
            judged.append((claim.node, claim.basic_code))
        judge(*args)

    monkeypatch.setattr(claims_module, "_judge", spy)
    push_down(world.settings, world.topology, CITY, now=at(3, 3))
    assert judged == []
    done = _completed_claim(world, NANSHAN)
    item = next(i for i in world.systems.exports[NANSHAN] if i.impl_code == done.impl_code)
    changed = item.model_copy(update={"process": f"{item.process}（已更新）"})
    write_export(world.topology, NANSHAN, [changed], "0009-process")
    assert sync_node(world.settings, world.topology, NANSHAN, now=at(3, 4)).error is None
    push_down(world.settings, world.topology, CITY, now=at(3, 4))
    assert judged == [(NANSHAN, done.basic_code)]
    assert world.claim(NANSHAN, done.basic_code).status == "completed"
    judged.clear()
    push_down(world.settings, world.topology, CITY, now=at(3, 5))
    assert judged == []


def test_unfilled_elements() -> None:
    item = make_item().model_dump(mode="json")
    assert unfilled_elements(item) == []
    assert unfilled_elements({**item, "location": " 待填写 ", "process": "-"}) == [
        "location",
        "process",
    ]
    assert unfilled_elements({**item, "promised_limit_days": 30}) == ["promised_limit_days"]
    # The base item's statutory limit counts, not only the copy's own.
    assert unfilled_elements(
        {**item, "statutory_limit_days": 100, "promised_limit_days": 50},
        pushed={"statutory_limit_days": 30},
    ) == ["promised_limit_days"]
    # A local element copied unchanged from the pushed item is not filled in.
    assert unfilled_elements(item, pushed=item) == [
        "location",
        "query_channels",
        "consult_channels",
        "complaint_channels",
    ]


def test_deadline_in_an_unpublished_year_is_not_guessed() -> None:
    calendar = WorkCalendar(use_chinese_calendar=False, use_holidays=False)
    due, problem = claim_deadline(calendar, at(3, 2), 5)
    assert due is None and problem is not None and "2026" in problem


def test_claim_rows_are_keyed_by_node_and_basic_code() -> None:
    assert [c.name for c in Claim.__table__.primary_key.columns] == ["node", "basic_code"]
