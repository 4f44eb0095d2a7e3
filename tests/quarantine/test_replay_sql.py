"""Replay through the ``sql`` adapter: driver datetimes survive quarantine and re-mapping."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from quarantine_world import FIXED_MAPPING, MAPPING
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    insert,
    select,
)
from std_factories import IMPL, PERSON

from adapters.builtin.sql import SqlSource
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.quarantine import QuarantineEntry, quarantined_payload
from tongyuan.privacy import PiiProtector
from tongyuan.pulling import pull
from tongyuan.quarantine.replay import replay
from tongyuan.quarantine.selection import Selection

# Database columns are typed: the mapping takes the driver's datetimes as they come.
SQL_MAPPING = MAPPING.replace(', datetime: ["%Y-%m-%d %H:%M:%S"]', "")
SQL_FIXED = FIXED_MAPPING.replace(', datetime: ["%Y-%m-%d %H:%M:%S"]', "")


def department_db(path: Path) -> str:
    url = f"sqlite:///{path}"
    meta = MetaData()
    table = Table(
        "dept_cases", meta,
        Column("id", Integer, primary_key=True), Column("BJBH", String(20)),
        Column("SSBM", String(40)), Column("SQR", String(20)), Column("SQR_ZJHM", String(18)),
        Column("ZT1", String(4)), Column("SJSJ", DateTime), Column("ZT2", String(4)),
        Column("SLSJ", DateTime), Column("updated_at", DateTime),
    )  # fmt: skip
    engine = create_engine(url)
    meta.create_all(engine)
    base = {"SSBM": IMPL, "SQR": "张伟", "SQR_ZJHM": PERSON, "ZT1": "SJ",
            "SJSJ": datetime(2026, 3, 2, 9), "updated_at": datetime(2026, 3, 2, 12)}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            insert(table),
            [
                {**base, "id": 1, "BJBH": "DB0001", "ZT2": None, "SLSJ": None},
                {**base, "id": 2, "BJBH": "DB0002", "ZT2": "SL",
                 "SLSJ": datetime(2026, 3, 2, 10, 30)},
            ],
        )  # fmt: skip
    engine.dispose()
    return url


def test_sql_row_is_quarantined_then_remapped_after_the_fix(hub, in_session, tmp_path, monkeypatch):
    monkeypatch.setenv("DEPT_DB_URL", department_db(tmp_path / "dept.sqlite"))
    (tmp_path / "cases.yaml").write_text(SQL_MAPPING, encoding="utf-8")
    config = {"url": "env:DEPT_DB_URL",
              "streams": {"cases": {"table": "dept_cases", "mapping": "cases.yaml",
                                    "cursor": "updated_at"}}}  # fmt: skip
    source = SqlSource.from_config(config, base_dir=tmp_path)
    result = pull(hub, source, "cases", source_name="sz-market-db")
    source.dispose()
    assert (result.added, result.quarantined) == (1, 1), result.error

    entry = in_session(lambda s: s.scalars(select(QuarantineEntry)).one())
    assert entry.rule == "mapping.code" and entry.origin["adapter"].endswith(":SqlSource")
    payload = quarantined_payload(entry, protector=PiiProtector(hub.pii_key()))
    assert payload["SLSJ"] == {"$type": "datetime", "value": "2026-03-02T10:30:00"}
    assert payload["SQR_ZJHM"] == PERSON  # the clear value, only inside the hub

    # The replay rebuilds the adapter from the recorded configuration; it does not connect.
    monkeypatch.delenv("DEPT_DB_URL")
    (tmp_path / "cases.yaml").write_text(SQL_FIXED, encoding="utf-8")
    summary = replay(hub, Selection(status="open", everything=True))
    assert [o.outcome for o in summary.outcomes] == ["added"]

    def stored(s):
        row = s.scalars(select(CaseRow).where(CaseRow.dept_case_no == "DB0002")).one()
        count = s.scalar(select(func.count()).select_from(CaseRow))
        return row.accepted_at, count

    accepted_at, count = in_session(stored)
    assert count == 2
    assert accepted_at.isoformat() == "2026-03-02T02:30:00+00:00"  # 10:30 Beijing time
