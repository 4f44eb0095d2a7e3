"""A department case database as it is found in the field, for tests and the conformance kit.

Upper-case pinyin-abbreviation columns (``CASE_NO``, ``SQR_MC`` 申请人名称, ``SQR_ZJHM``
申请人证件号码, ``SLSJ`` 受理时间, ``BJSJ`` 办结时间, ``CNSX`` 承诺时限, ``XZQH`` 行政区划,
``ZT`` 状态), the department's own state codes (``01`` 接件 … ``09`` 办结), times as text in
two formats (one of them Chinese), and the state history in a separate ``case_events``
table. Rows are generated from their id alone — valid citizen IDs and USCCs computed with
the standard's check algorithms — so a million rows cost no memory to describe.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

from standards.identifiers import citizen_id_check_char, make_impl_code, uscc_check_char

SOURCE_SYSTEM = "SZ-SCJG"  # 深圳市市场监督管理局 case system
CST = timezone(timedelta(hours=8))
CLOCK_START = datetime(2025, 1, 2, 8, 0, tzinfo=CST)  # before the kit's boundary value

CASE_COLUMNS = (
    "ID", "CASE_NO", "ITEM_CODE", "ITEM_NAME", "SQR_MC", "SQR_ZJLX", "SQR_ZJHM", "SQR_DH",
    "SLSJ", "BJSJ", "CNSX", "XZQH", "ZT", "updated_at",
)  # fmt: skip
EVENT_COLUMNS = ("ID", "CASE_ID", "SEQ", "ZT", "SJ", "BLR", "YJ")

BAD_STATE_CODE = "99"  # not in the department's code table: the row cannot be mapped

# The department's mapping onto the standard Case (what a department engineer writes).
DEPARTMENT_MAPPING: dict[str, Any] = {
    "kind": "case",
    "timezone": "+08:00",
    "code_tables": {
        "dept_states": {"01": "1", "02": "3", "03": "8", "09": "11", "10": "13"},
        "id_types": {"SFZ": "111", "TYXYDM": "001"},
    },
    "fields": {
        "source_system": {"const": SOURCE_SYSTEM},
        "dept_case_no": {"from": "CASE_NO", "transforms": ["trim", "halfwidth"]},
        "impl_code": {"from": "ITEM_CODE", "transforms": ["trim", "halfwidth", "upper"]},
        "item_name": {"from": "ITEM_NAME"},
        "applicant.name": {"from": "SQR_MC", "transforms": ["trim"]},
        "applicant.id_type": {"from": "SQR_ZJLX", "code_table": "id_types"},
        "applicant.id_number": {
            "from": "SQR_ZJHM",
            "transforms": ["trim", "halfwidth", "upper"],
        },
        "applicant.phone": {"from": "SQR_DH", "default": None},
        "accepted_at": {"from": "SLSJ", "datetime": ["%Y-%m-%d %H:%M:%S"], "default": None},
        "decided_at": {"from": "BJSJ", "datetime": ["%Y年%m月%d日 %H时%M分"], "default": None},
        "promised_limit_days": {"from": "CNSX", "type": "int", "default": None},
        "region_code": {"from": "XZQH", "default": None},
        "events": {
            "rows": "events",
            "fields": {
                "state": {"from": "ZT", "code_table": "dept_states"},
                "at": {"from": "SJ", "datetime": ["%Y-%m-%d %H:%M:%S"]},
                "actor": {"from": "BLR", "default": None},
                "note": {"from": "YJ", "default": None},
            },
        },
    },
}


def department_tables(
    cases: str = "cases", events: str = "case_events", schema: str | None = None
) -> tuple[Table, Table]:
    """The department's two tables (names as configured)."""
    metadata = MetaData(schema=schema)
    case_table = Table(
        cases,
        metadata,
        Column("ID", BigInteger, primary_key=True, autoincrement=False),
        Column("CASE_NO", String(64), nullable=False, unique=True),
        Column("ITEM_CODE", String(40), nullable=False),
        Column("ITEM_NAME", String(200)),
        Column("SQR_MC", String(200), nullable=False),
        Column("SQR_ZJLX", String(8), nullable=False),
        Column("SQR_ZJHM", String(32), nullable=False),
        Column("SQR_DH", String(32)),
        Column("SLSJ", String(32)),
        Column("BJSJ", String(32)),
        Column("CNSX", Integer),
        Column("XZQH", String(12)),
        Column("ZT", String(2), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    Index(f"ix_{cases}_updated_at_id", case_table.c.updated_at, case_table.c.ID)
    event_table = Table(
        events,
        metadata,
        Column("ID", BigInteger, primary_key=True, autoincrement=False),
        Column("CASE_ID", BigInteger, nullable=False),
        Column("SEQ", Integer, nullable=False),
        Column("ZT", String(2), nullable=False),
        Column("SJ", DateTime, nullable=False),
        Column("BLR", String(64)),
        Column("YJ", String(200)),
    )
    Index(f"ix_{events}_case_id", event_table.c.CASE_ID, event_table.c.SEQ)
    return case_table, event_table


# --- synthetic but standard-valid content -----------------------------------------------

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许邓冯韩曹"
_GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "涛",
          "明", "超", "秀英", "建华", "晓东", "志强", "海燕", "嘉怡", "子涵", "浩然")  # fmt: skip
_COMPANIES = (
    "深圳市前海云帆科技有限公司",
    "深圳市福田区华强电子商行",
    "深圳市南山蓝海贸易有限公司",
    "深圳市宝安区鑫源五金加工厂",
    "深圳市龙岗区悦家餐饮店",
)
_DISTRICTS = ("440304", "440305", "440306", "440307")
_ACTORS = ("综合窗口", "登记注册科", "食品经营许可科", "审批科")
# (basic code, item name, promised working days)
_ITEMS = (
    ("000120001000", "食品经营许可", 10),
    ("000120002000", "药品零售企业许可", 15),
    ("440120003000", "医疗器械经营许可", 20),
    ("000720004000", "个体工商户登记", 3),
)
_PEOPLE = 997  # a prime: applicant and item cycles do not line up


def _agency_uscc() -> str:
    first17 = "11440300" + "MB2D7543X"
    return first17 + uscc_check_char(first17)


AGENCY_USCC = _agency_uscc()
_IMPL = tuple((make_impl_code(AGENCY_USCC, 3, basic), name, days) for basic, name, days in _ITEMS)


def _people() -> tuple[tuple[str, str, str], ...]:
    """(name, ID type code, ID number): residents with valid citizen IDs, a few companies."""
    rng = random.Random(2026)  # noqa: S311 - reproducible test data, not secrets
    out: list[tuple[str, str, str]] = []
    for i in range(_PEOPLE):
        if i % 11 == 0:
            first17 = (
                "91"
                + rng.choice(_DISTRICTS)
                + "MA5"
                + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(6))
            )
            company = _COMPANIES[i % len(_COMPANIES)]
            out.append((company, "TYXYDM", first17 + uscc_check_char(first17)))
            continue
        born = datetime(1955, 1, 1) + timedelta(days=rng.randrange(18_000))
        first17 = f"{rng.choice(_DISTRICTS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        out.append((name, "SFZ", first17 + citizen_id_check_char(first17)))
    return tuple(out)


PEOPLE = _people()


def case_no(case_id: int) -> str:
    """The department's own number for a case row (a 16-character local format)."""
    return f"SZSC{case_id:012d}"


def _times(case_id: int) -> tuple[datetime, ...]:
    """Received, accepted, processing, decided: whole minutes in office hours."""
    day = datetime(2025, 3, 3, 9, 0) + timedelta(days=(case_id // 40) % 280)
    received = day + timedelta(minutes=(case_id * 7) % 360)
    return (
        received,
        received + timedelta(minutes=12),
        received + timedelta(days=1, minutes=30),
        received + timedelta(days=4, hours=1),
    )


def case_rows(
    case_id: int,
    updated_at: datetime,
    *,
    bad: bool = False,
    decided: bool = True,
    phone_suffix: int = 0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One case row and its event rows; ``bad`` gives its last event an unknown state code."""
    impl, item_name, days = _IMPL[case_id % len(_IMPL)]
    name, id_kind, id_number = PEOPLE[case_id % _PEOPLE]
    times = _times(case_id)
    states = ("01", "02", "03", "09") if decided else ("01", "02")
    if bad:
        states = (*states[:-1], BAD_STATE_CODE)
    case = {
        "ID": case_id,
        "CASE_NO": case_no(case_id),
        "ITEM_CODE": impl,
        "ITEM_NAME": item_name,
        "SQR_MC": name,
        "SQR_ZJLX": id_kind,
        "SQR_ZJHM": id_number,
        "SQR_DH": f"13{(case_id * 7919 + phone_suffix) % 10**9:09d}",
        "SLSJ": f"{times[1]:%Y-%m-%d %H:%M:%S}",
        "BJSJ": f"{times[3]:%Y年%m月%d日 %H时%M分}" if decided else None,
        "CNSX": days,
        "XZQH": _DISTRICTS[case_id % len(_DISTRICTS)],
        "ZT": states[-1],
        "updated_at": updated_at,
    }
    events = [
        {
            "ID": case_id * 8 + seq,
            "CASE_ID": case_id,
            "SEQ": seq,
            "ZT": state,
            "SJ": times[seq],
            "BLR": _ACTORS[seq],
            "YJ": "同意" if state == "09" else None,
        }
        for seq, state in enumerate(states)
    ]
    return case, events


_BULK_DAYS = tuple(f"{datetime(2025, 3, 3) + timedelta(days=d):%Y-%m-%d}" for d in range(280))
_BULK_CLOCK = tuple(f"{9 + m // 60:02d}:{m % 60:02d}:00" for m in range(360 + 12))


def _day_texts(day_index: int, minute: int) -> tuple[str, str]:
    """Received and accepted times (as :func:`_times` has them) as COPY text, from tables."""
    day = _BULK_DAYS[day_index]
    return f"{day} {_BULK_CLOCK[minute]}", f"{day} {_BULK_CLOCK[minute + 12]}"


def copy_lines(first_id: int, n: int, start: datetime, step: timedelta) -> tuple[str, str]:
    """PostgreSQL COPY text for ``n`` undecided cases from ``first_id`` and their events.

    The same rows as :func:`case_rows` with ``decided=False``, written straight as text
    (the bulk load of the memory check writes millions). Generated text holds no tab,
    newline or backslash, so nothing needs escaping; NULL is ``\\N``.
    """
    cases: list[str] = []
    events: list[str] = []
    first_updated = start.astimezone(UTC)
    people, items, districts, actors = PEOPLE, _IMPL, _DISTRICTS, _ACTORS
    for k in range(n):
        case_id = first_id + k
        impl, item_name, days = items[case_id % len(items)]
        name, id_kind, id_number = people[case_id % _PEOPLE]
        received, accepted = _day_texts((case_id // 40) % 280, (case_id * 7) % 360)
        updated = (first_updated + step * k).isoformat()
        phone = f"13{(case_id * 7919) % 10**9:09d}"
        district = districts[case_id % len(districts)]
        cases.append(
            f"{case_id}\t{case_no(case_id)}\t{impl}\t{item_name}\t{name}\t{id_kind}\t"
            f"{id_number}\t{phone}\t{accepted}\t\\N\t{days}\t{district}\t02\t{updated}"
        )
        events.append(f"{case_id * 8}\t{case_id}\t0\t01\t{received}\t{actors[0]}\t\\N")
        events.append(f"{case_id * 8 + 1}\t{case_id}\t1\t02\t{accepted}\t{actors[1]}\t\\N")
    return "\n".join(cases) + "\n", "\n".join(events) + "\n"


def department_config(url_ref: str, *, stream: str = "cases") -> dict[str, Any]:
    """A ``sql`` source configuration for the department schema (mapping inline)."""
    return {
        "url": url_ref,
        "streams": {
            stream: {
                "table": "cases",
                "mapping": DEPARTMENT_MAPPING,
                "cursor": "updated_at",
                "tiebreaker": "ID",
                "children": {
                    "events": {"table": "case_events", "key": "CASE_ID", "order_by": "SEQ"}
                },
            }
        },
    }


__all__ = [
    "AGENCY_USCC",
    "BAD_STATE_CODE",
    "CASE_COLUMNS",
    "CLOCK_START",
    "CST",
    "DEPARTMENT_MAPPING",
    "EVENT_COLUMNS",
    "PEOPLE",
    "SOURCE_SYSTEM",
    "case_no",
    "case_rows",
    "copy_lines",
    "department_config",
    "department_tables",
]
