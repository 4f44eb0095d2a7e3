"""An item XML cannot carry (U+000B pasted from Word) stops neither a sync nor a delivery.

It used to validate as clean, be stored, and then make every later ``tongyuan sync items``
abort with a ValueError from the XML writer, so no node delivered anything any more.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from test_deliver_world import CITY, FUTIAN, World, at, build_template, clone_world

from tongyuan.config import Settings
from tongyuan.libraries.claims import ItemDelivery
from tongyuan.libraries.items import ItemVersion
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.sync import sync_all
from tongyuan.sync.deliver import deliver_up


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("unwritable-world"))


@pytest.fixture
def world(template: Path, settings: Settings, tmp_path: Path) -> World:
    return clone_world(template, settings, tmp_path)


def _published(world: World, code: str, n: int) -> list:
    items = [i for i in world.systems.exports[code] if i.status.value == "published"]
    return items[:n]


def test_a_jsonl_item_with_a_control_character_is_quarantined_and_the_run_goes_on(
    world: World,
) -> None:
    bad, good = _published(world, FUTIAN, 2)
    lines = [
        {"kind": "item", **bad.model_dump(mode="json", exclude_none=True)},
        {"kind": "item", **good.model_dump(mode="json", exclude_none=True)},
    ]
    lines[0]["conditions"] += "\u000b（以上条件须同时满足）"
    lines[1]["consult_channels"] += "（更新）"
    path = world.outbox(FUTIAN) / "items-0002-update.jsonl"
    path.write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )

    for run, now in enumerate((at(3, 3), at(3, 4))):
        results = list(sync_all(world.settings, world.topology, now=now))
        assert all(getattr(r, "error", None) is None for r in results)
        if run == 0:
            (futian,) = [r for r in results if hasattr(r, "diff") and r.node == FUTIAN]
            assert futian.counts["quarantined"] == 1 and futian.counts["changed"] == 1

    at_city = {i.impl_code: i for i in world.delivered(CITY)}
    assert at_city[good.impl_code].consult_channels.endswith("（更新）")
    assert "\u000b" not in at_city[bad.impl_code].conditions
    with world.session() as session:
        (entry,) = session.scalars(
            select(QuarantineEntry).where(QuarantineEntry.rule == "schema.xml_char")
        ).all()
        assert entry.source_file.endswith("items-0002-update.jsonl") and entry.record_index == 1
        assert [r["field"] for r in entry.rules] == ["conditions"]
        stored = session.scalars(
            select(ItemVersion).where(
                ItemVersion.impl_code == bad.impl_code, ItemVersion.valid_to.is_(None)
            )
        ).one()
        assert "\u000b" not in stored.data["conditions"]


def test_a_stored_item_xml_cannot_carry_is_withheld_and_the_rest_is_delivered(
    world: World,
) -> None:
    """A row stored before the readers refused such text: each delivery withholds it,
    names it, and delivers the rest; it never blocks a run."""
    bad, good = _published(world, FUTIAN, 2)
    with world.session() as session:
        for item, field, text in ((bad, "conditions", "\u000b补充"), (good, "location", "二楼")):
            version = session.scalars(
                select(ItemVersion).where(
                    ItemVersion.impl_code == item.impl_code, ItemVersion.valid_to.is_(None)
                )
            ).one()
            version.data = {**version.data, field: version.data[field] + text}
            version.content_hash = (item.impl_code + field).ljust(64, "0")[:64]
        session.commit()

    for _ in range(2):
        result = deliver_up(world.settings, world.topology, FUTIAN, now=at(3, 5))
        assert result.error is None
        (delivery,) = result.deliveries
        assert result.counts["withheld"] == 1
        assert delivery.withheld == [f"{bad.impl_code} conditions: schema.xml_char"]
    # What `tongyuan sync items` prints and puts in --json names it too.
    from tongyuan.cli.sync_cmd import _describe

    (shown,) = _describe(result)["deliveries"]
    assert shown["withheld"] == [f"{bad.impl_code} conditions: schema.xml_char"]
    at_city = {i.impl_code: i for i in world.delivered(CITY)}
    assert at_city[good.impl_code].location.endswith("二楼")
    with world.session() as session:
        sent = session.scalars(
            select(ItemDelivery).where(
                ItemDelivery.impl_code == bad.impl_code,
                ItemDelivery.direction == "up",
                ItemDelivery.from_node == FUTIAN,
            )
        ).one()
        assert not sent.content_hash.startswith(bad.impl_code)  # still the old version
