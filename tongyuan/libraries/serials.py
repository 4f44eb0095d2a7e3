"""The database-backed case-serial allocator.

Serial numbers must be unique across the whole region even when several ingest processes
run at once, so the counter lives in the database and every allocation is one atomic
upsert in its own short transaction: ``INSERT … ON CONFLICT DO UPDATE … RETURNING``. No
read-then-write, hence no window for two processes to take the same number. Works on
SQLite ≥ 3.35 and PostgreSQL.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Engine, Integer, String
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from tongyuan.libraries.base import Base


class SerialCounter(Base):
    __tablename__ = "serial_counters"

    impl_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)


class DbSerialAllocator:
    """Hands out 1, 2, 3 … per (item, day); never the same number twice.

    Allocation commits on its own connection, independent of the caller's session: a
    number once handed out stays used even if the caller rolls back (a gap, never a
    duplicate), and the counter row is locked only for the instant of the upsert.
    """

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"DbSerialAllocator supports sqlite and postgresql, not {dialect}")
        self._engine = engine
        self._insert = sqlite.insert if dialect == "sqlite" else postgresql.insert

    def allocate(self, impl_code: str, day: date) -> int:
        if not impl_code:
            raise ValueError("serial allocation needs an item implementation code")
        table = SerialCounter.__table__
        statement = self._insert(table).values(impl_code=impl_code, day=day, last_seq=1)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.impl_code, table.c.day],
            set_={"last_seq": table.c.last_seq + 1},
        ).returning(table.c.last_seq)
        with self._engine.begin() as connection:
            return int(connection.execute(statement).scalar_one())
