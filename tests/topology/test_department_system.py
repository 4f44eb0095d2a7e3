"""The Shenzhen department item system: items written in its shape read back through the
topology's sql adapter and mapping as the same standard items."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from standards.codes.enums import ReviewStatus
from standards.records import Fee
from tongyuan.generate.catalogue import build_catalogue
from tongyuan.generate.items import build_items
from tongyuan.generate.topology import build_topology
from tongyuan.topology import example_path, load_topology
from tongyuan.topology.department_items import (
    count_department_items,
    create_department_db,
    fill_department_system,
    upsert_department_items,
)

CST = timezone(timedelta(hours=8))


def _department_items(count: int = 40) -> list:
    gen = build_topology("shenzhen")
    implemented = build_items(random.Random(7), gen, build_catalogue("440000"), 1000)
    records = [
        i.record.model_copy(update={"updated_at": i.record.updated_at.replace(microsecond=0)})
        for i in implemented
        if i.node.code == "440300" and i.dept.kind.key == "scjg"
    ]
    assert records, "the generator gives 深圳市市场监督管理局 items"
    # Fees with and without a basis, so both child tables carry rows.
    fees = [Fee(name="工本费", standard="10元/本", basis="粤价〔2020〕1号"),
            Fee(name="检测费", standard="按实收取")]  # fmt: skip
    return [
        r.model_copy(update={"fees": fees[: n % 3]}) if n % 3 else r
        for n, r in enumerate(records[:count])
    ]


def _read_all(topo) -> list:  # type: ignore[no-untyped-def]
    (dept,) = topo.departments
    source = dept.source.open()
    read = source.read(dept.source.stream, None)
    envelopes = list(read)
    assert all(not e.findings for e in envelopes), [e.findings for e in envelopes][:3]
    return [e.record for e in envelopes]


def test_items_round_trip_through_the_example_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TONGYUAN_DEPT_440300_SCJGJ_URL", raising=False)
    topo = load_topology(example_path("shenzhen"), home=tmp_path)
    engine = create_department_db(tmp_path / "systems" / "dept-440300-scjgj.db")
    items = _department_items()
    assert any(i.fees for i in items) and any(i.materials for i in items)
    assert upsert_department_items(engine, items) == len(items)

    read = _read_all(topo)
    assert {r.impl_code: r.canonical_json() for r in read} == {
        i.impl_code: i.canonical_json() for i in items
    }
    # The authority is the one the topology declares.
    dept = topo.departments[0]
    assert {r.authority_uscc for r in read} == {dept.code}


def test_an_edited_item_is_updated_in_place(tmp_path: Path) -> None:
    topo = load_topology(example_path("shenzhen"), home=tmp_path)
    engine = create_department_db(tmp_path / "systems" / "dept-440300-scjgj.db")
    items = _department_items(5)
    upsert_department_items(engine, items)
    changed = items[0].model_copy(
        update={
            "promised_limit_days": max(0, items[0].promised_limit_days - 1),
            "status": ReviewStatus.CANCELLED,
            "fees": [],
            "updated_at": datetime(2026, 3, 2, 9, 30, tzinfo=CST),
        }
    )
    upsert_department_items(engine, [changed])
    assert count_department_items(engine) == 5
    by_code = {r.impl_code: r for r in _read_all(topo)}
    assert by_code[changed.impl_code].canonical_json() == changed.canonical_json()


def test_the_environment_wins_over_env_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "elsewhere.db"
    engine = create_department_db(other)
    upsert_department_items(engine, _department_items(3))
    monkeypatch.setenv("TONGYUAN_DEPT_440300_SCJGJ_URL", f"sqlite:///{other}")
    topo = load_topology(example_path("shenzhen"), home=tmp_path / "empty-home")
    assert len(_read_all(topo)) == 3


def test_fill_department_system_writes_only_its_own_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TONGYUAN_DEPT_440300_SCJGJ_URL", raising=False)
    topo = load_topology(example_path("shenzhen"), home=tmp_path)
    (dept,) = topo.departments
    own = _department_items(4)
    other = own[0].model_copy(
        update={"authority_uscc": "11440300007063441L", "impl_code": "X" * 31}
    )
    assert fill_department_system(topo, dept.code, [*own, other]) == 4
    assert (tmp_path / "systems" / "dept-440300-scjgj.db").is_file()
    assert {r.impl_code for r in _read_all(topo)} == {i.impl_code for i in own}
    with pytest.raises(KeyError, match="no department"):
        fill_department_system(topo, "91110000600037341L", own)
