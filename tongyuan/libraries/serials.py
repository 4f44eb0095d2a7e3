"""The database-backed case-serial allocator.

Serial numbers must be unique across the whole region even when several ingest processes
run at once, so the counter lives in the database and every allocation is one atomic
upsert in its own short transaction: ``INSERT … ON CONFLICT DO UPDATE … RETURNING``. No
read-then-write, hence no window for two processes to take the same number. Works on
SQLite ≥ 3.35 and PostgreSQL.

SQLite has one write lock per database. A session that is writing cases holds it, so a
second connection could not allocate until that session commits: for writes inside a
session, :meth:`DbSerialAllocator.allocate_for` runs the same atomic upsert inside the
session's transaction on SQLite (still collision-free: the lock serialises writers, and a
rollback takes back the numbers together with the cases that used them).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, Date, Engine, Insert, Integer, String
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from standards.identifiers.normalize import normalize_code
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

    @property
    def engine(self) -> Engine:
        return self._engine

    def _upsert(self, impl_code: str, day: date) -> Insert:
        code = normalize_code(impl_code) if impl_code else ""
        if not code:
            raise ValueError("serial allocation needs an item implementation code")
        table = SerialCounter.__table__
        statement = self._insert(table).values(impl_code=code, day=day, last_seq=1)
        return statement.on_conflict_do_update(
            index_elements=[table.c.impl_code, table.c.day],
            set_={"last_seq": table.c.last_seq + 1},
        ).returning(table.c.last_seq)

    def allocate(self, impl_code: str, day: date) -> int:
        """The next number, committed at once in a transaction of its own."""
        statement = self._upsert(impl_code, day)
        with self._engine.begin() as connection:
            return int(connection.execute(statement).scalar_one())

    def allocate_within(self, connection: Connection, impl_code: str, day: date) -> int:
        """The next number, inside the caller's transaction (committed or rolled back with it)."""
        return int(connection.execute(self._upsert(impl_code, day)).scalar_one())

    def allocate_for(self, session: Session, impl_code: str, day: date) -> int:
        """The next number for a record ``session`` is about to write.

        On SQLite, when the session writes to this allocator's database, the session's
        transaction is used (it holds the only write lock); otherwise a transaction of its
        own keeps the counter row locked only for an instant.
        """
        bind = session.get_bind()
        same_db = bind.dialect.name == "sqlite" and str(bind.engine.url) == str(self._engine.url)
        if same_db:
            return self.allocate_within(session.connection(), impl_code, day)
        return self.allocate(impl_code, day)
