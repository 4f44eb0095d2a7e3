"""Declarative base and the portable column types every library shares.

The same models and migrations serve SQLite and PostgreSQL, so the types here hide the
differences that matter: SQLite keeps no time zone and PostgreSQL's JSON should be JSONB.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import JSON, Connection, DateTime, Dialect, MetaData, Table, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

# Government systems record Beijing time without an offset; naive values mean this zone.
HUB_TIMEZONE = ZoneInfo("Asia/Shanghai")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def to_utc(value: datetime) -> datetime:
    """An aware UTC datetime; naive input is read as hub-local (Beijing) time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=HUB_TIMEZONE)
    return value.astimezone(UTC)


def local_date(value: datetime) -> date:
    """The calendar day in hub-local time (the day a serial number is issued for)."""
    if value.tzinfo is None:
        return value.date()
    return value.astimezone(HUB_TIMEZONE).date()


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC datetimes on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = to_utc(value)
        # SQLite would drop the offset anyway; store naive UTC there explicitly.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (comparable, indexable), JSON text elsewhere.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def canonical_json(value: Any) -> str:
    """Stable JSON text: equal content gives equal text (sorted keys, no spaces)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def json_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def record_json_hash(document: dict[str, Any]) -> str:
    """:func:`json_hash` of a record's stored document, a quarter of the cost.

    For documents made of strings, integers, booleans, None, lists and string-keyed
    dicts only — a record dumped in pydantic's JSON mode, whose models hold no floats —
    orjson's sorted compact output is byte for byte what :func:`canonical_json` writes
    (``tests/core/test_record_json_hash.py``). A bulk load hashes every case, and
    the standard library's encoder was a tenth of the work of preparing one.
    """
    try:
        text = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer beyond 64 bits, or a type JSON has no form for
        return json_hash(document)
    return hashlib.sha256(text).hexdigest()


def insert_tuples(
    connection: Connection, table: Table, names: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """One executemany of plain tuples (values already as the driver takes them).

    Without SQLAlchemy's per-row bookkeeping, which costs more than the database itself
    on bulk inserts (cases, their events, ledger records).
    """
    if not rows:
        return
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join(mark for _ in names)})",
        rows,
    )
