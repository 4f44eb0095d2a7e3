"""The department item database of the Shenzhen example (深圳市市场监督管理局's own system).

shenzhen.yaml attaches a SQLite item database to 深圳市, read by the ``sql`` adapter with
``examples/dept-items-mapping.yaml``. This module is the other side of that mapping: the
department's tables (upper-case pinyin columns, its own codes for type, level and
status, fees and materials in child tables) and a writer that stores standard Items in
that shape, so the demo and the tests can fill the system the way the department's own
software would. The codes here are the inverse of the mapping's code tables; a test
reads written items back through the topology and compares them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    insert,
    select,
)

from standards.records import Item

CST = timezone(timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # GXSJ, naive local time (+08:00), sorts as text

ITEM_TYPE_CODES = {"01": "XK", "02": "CF", "03": "QZ", "04": "ZS", "05": "JF", "06": "JC",
                   "07": "QR", "08": "JL", "09": "CJ", "10": "QT", "20": "GG"}  # fmt: skip
LEVEL_CODES = {"1": "GJ", "2": "SJ", "3": "DS", "4": "QX", "5": "XZ", "6": "CJ"}
STATUS_CODES = {"registered": "0", "reviewed": "1", "checked": "2", "published": "3",
                "cancelled": "9"}  # fmt: skip

metadata = MetaData()

items_table = Table(
    "SX_JBXX",
    metadata,
    Column("ID", Integer, primary_key=True, autoincrement=True),
    Column("SSBM", String(31), nullable=False, unique=True),
    Column("JBBM", String(12), nullable=False),
    Column("YWBLXBM", String(33)),
    Column("SXMC", String(200), nullable=False),
    Column("SXLX", String(2), nullable=False),
    Column("SDYJ", Text, nullable=False),
    Column("BLTJ", Text, nullable=False),
    Column("FDSX", Integer, nullable=False),
    Column("CNSX", Integer, nullable=False),
    Column("BLDD", Text, nullable=False),
    Column("BLLC", Text, nullable=False),
    Column("CXFS", Text, nullable=False),
    Column("ZXFS", Text, nullable=False),
    Column("TSFS", Text, nullable=False),
    Column("SSJG", String(200), nullable=False),
    Column("SSJGDM", String(18), nullable=False),
    Column("XSCJ", String(2), nullable=False),
    Column("XZQH", String(12), nullable=False),
    Column("ZT", String(1), nullable=False),
    Column("GXSJ", String(19), nullable=False),
)
Index("ix_SX_JBXX_GXSJ_ID", items_table.c.GXSJ, items_table.c.ID)

fees_table = Table(
    "SX_SFXX",
    metadata,
    Column("ID", Integer, primary_key=True, autoincrement=True),
    Column("SX_ID", Integer, ForeignKey("SX_JBXX.ID"), nullable=False, index=True),
    Column("XH", Integer, nullable=False),
    Column("SFXM", String(200), nullable=False),
    Column("SFBZ", Text, nullable=False),
    Column("SFYJ", Text),
)

materials_table = Table(
    "SX_CLXX",
    metadata,
    Column("ID", Integer, primary_key=True, autoincrement=True),
    Column("SX_ID", Integer, ForeignKey("SX_JBXX.ID"), nullable=False, index=True),
    Column("XH", Integer, nullable=False),
    Column("CLMC", String(200), nullable=False),
    Column("CLLX", String(50)),
    Column("CLXS", String(20), nullable=False),
    Column("FS", Integer, nullable=False),
    Column("SFBY", String(1), nullable=False),
    Column("LYQD", String(200)),
)


def sqlite_url(path: Path | str) -> str:
    """The URL the example's ``env_defaults`` give for a database file."""
    return f"sqlite:///{Path(path)}"


def create_department_db(path: Path | str) -> Engine:
    """Create (or open) the department database file with its tables."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(sqlite_url(path))
    metadata.create_all(engine)
    return engine


def _local_text(value: datetime | None, fallback: datetime) -> str:
    moment = value or fallback
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CST)
    return moment.astimezone(CST).strftime(TIME_FORMAT)


def upsert_department_items(
    engine: Engine, items: Iterable[Item], *, now: datetime | None = None
) -> int:
    """Store items as the department system would: one row per 实施编码, children replaced.

    An item already present is updated in place (its row keeps its ID), as a department
    editing an item in its own software does; ``GXSJ`` is the item's ``updated_at`` (or
    ``now``), so the sql adapter's cursor sees the change. Returns the rows written.
    """
    fallback = now or datetime.now(UTC)
    written = 0
    with engine.begin() as conn:
        for item in items:
            row = {
                "SSBM": item.impl_code,
                "JBBM": item.basic_code,
                "YWBLXBM": item.handling_code,
                "SXMC": item.name,
                "SXLX": ITEM_TYPE_CODES[item.item_type.value],
                "SDYJ": item.legal_basis,
                "BLTJ": item.conditions,
                "FDSX": item.statutory_limit_days,
                "CNSX": item.promised_limit_days,
                "BLDD": item.location,
                "BLLC": item.process,
                "CXFS": item.query_channels,
                "ZXFS": item.consult_channels,
                "TSFS": item.complaint_channels,
                "SSJG": item.authority_name,
                "SSJGDM": item.authority_uscc,
                "XSCJ": LEVEL_CODES[item.exercise_level.value],
                "XZQH": item.region_code,
                "ZT": STATUS_CODES[item.status.value],
                "GXSJ": _local_text(item.updated_at, fallback),
            }
            existing = conn.execute(
                select(items_table.c.ID).where(items_table.c["SSBM"] == item.impl_code)
            ).scalar_one_or_none()
            if existing is None:
                item_id = conn.execute(insert(items_table).values(row)).inserted_primary_key[0]
            else:
                item_id = existing
                conn.execute(items_table.update().where(items_table.c["ID"] == item_id).values(row))
                conn.execute(delete(fees_table).where(fees_table.c["SX_ID"] == item_id))
                conn.execute(delete(materials_table).where(materials_table.c["SX_ID"] == item_id))
            if item.fees:
                conn.execute(
                    insert(fees_table),
                    [
                        {"SX_ID": item_id, "XH": i, "SFXM": fee.name, "SFBZ": fee.standard,
                         "SFYJ": fee.basis}
                        for i, fee in enumerate(item.fees, 1)
                    ],
                )  # fmt: skip
            if item.materials:
                conn.execute(
                    insert(materials_table),
                    [
                        {"SX_ID": item_id, "XH": i, "CLMC": m.name, "CLLX": m.material_type,
                         "CLXS": m.form, "FS": m.copies, "SFBY": "Y" if m.required else "N",
                         "LYQD": m.source}
                        for i, m in enumerate(item.materials, 1)
                    ],
                )  # fmt: skip
            written += 1
    return written


def fill_department_system(
    topology: Any, dept_code: str, items: Iterable[Item], *, now: datetime | None = None
) -> int:
    """Store a department's own items in the database its topology entry points at.

    For the demo and tests: of ``items`` (a node's generated export, say), those whose
    implementing authority is this department are written into its system, found through
    the department's ``url`` reference (the environment, else the topology's
    ``env_defaults``). Only SQLite files are created here; returns the rows written.
    """
    dept = next((d for d in topology.departments if d.code == dept_code), None)
    if dept is None:
        raise KeyError(f"no department {dept_code!r} in topology {topology.name!r}")
    ref = dept.source
    url = ref.resolve_secret(ref.config["url"]).get_secret_value()
    if not url.startswith("sqlite:///"):
        raise ValueError(
            f"department {dept_code}: its system is not a SQLite file; fill it with its own tools"
        )
    engine = create_department_db(Path(url.removeprefix("sqlite:///")))
    try:
        own = [i for i in items if i.authority_uscc == dept_code]
        return upsert_department_items(engine, own, now=now)
    finally:
        engine.dispose()


def count_department_items(engine: Engine) -> int:
    """Rows in the department's item table."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(items_table)).scalar_one())
