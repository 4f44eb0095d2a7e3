"""A reference source the kit must pass, and the classic incremental-sync bugs it must catch.

:class:`ReferenceSource` reads one SQLite table of cases the way a correct adapter does:
a server-side cursor (sqlite3 steps rows lazily), ordered by ``(updated_at, case_no)``,
state = the last pair yielded, next read strictly after that pair — so rows sharing the
boundary timestamp are neither read twice nor skipped. Rows that cannot be mapped are
yielded with findings. Each broken variant changes one thing, the way real adapters go
wrong, and the conformance kit must name the problem.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, ValidationError

from adapters.conformance import Harness
from adapters.sdk import AdapterConfig, ConnectionCheckError, Envelope, Source, StreamRead
from adapters.sdk.source import State, StreamSpec
from standards.codes.enums import CaseState, ExerciseLevel, IdType
from standards.identifiers import citizen_id_check_char, make_impl_code, uscc_check_char
from standards.privacy import mask_id
from standards.records import Applicant, Case, CaseEvent, SourceLocation
from standards.validation import Finding

CST = timezone(timedelta(hours=8))
_FMT = "%Y-%m-%d %H:%M:%S.%f"
_AUTHORITY = "91440300" + "MA5FX7Q3" + "2"
_AUTHORITY += uscc_check_char(_AUTHORITY)
IMPL_CODE = make_impl_code(_AUTHORITY, ExerciseLevel.CITY, "440107001000")
COLUMNS = (
    "case_no",
    "impl_code",
    "applicant_name",
    "id_number",
    "received_at",
    "accepted_at",
    "decision",
    "updated_at",
)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS cases ("
    " case_no TEXT PRIMARY KEY, impl_code TEXT NOT NULL, applicant_name TEXT NOT NULL,"
    " id_number TEXT NOT NULL, received_at TEXT NOT NULL, accepted_at TEXT NOT NULL,"
    " decision TEXT, updated_at TEXT NOT NULL)"
)
_INDEX = "CREATE INDEX IF NOT EXISTS cases_cursor ON cases (updated_at, case_no)"


def _citizen_ids(n: int) -> list[str]:
    out = []
    for i in range(n):
        first17 = f"440304{1960 + i % 40:04d}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
        out.append(first17 + citizen_id_check_char(first17))
    return out


_IDS = _citizen_ids(997)


def _stamp(value: datetime) -> str:
    """The table's cursor text: naive China time, microseconds, so text order is time order."""
    if value.tzinfo is not None:
        value = value.astimezone(CST).replace(tzinfo=None)
    return value.strftime(_FMT)


class ReferenceConfig(AdapterConfig):
    database: str = Field(description="SQLite file, relative to the configuration file")
    source_system: str = Field(min_length=1)
    fetch_size: int = Field(default=500, ge=1)


class ReferenceRead(StreamRead):
    """Rows strictly after the last (updated_at, case_no) pair, in that order."""

    def __init__(self, source: ReferenceSource, state: State | None) -> None:
        self.source = source
        self.start: tuple[str, str] | None = None
        if state and "updated_at" in state:
            self.start = (state["updated_at"], state["case_no"])
        self.last = self.start
        self.conn = sqlite3.connect(source.path)

    def query(self) -> tuple[str, tuple[Any, ...]]:
        cols = ", ".join(COLUMNS)
        if self.start is None:
            return f"SELECT {cols} FROM cases ORDER BY updated_at, case_no", ()
        return (
            f"SELECT {cols} FROM cases WHERE (updated_at, case_no) > (?, ?) "
            "ORDER BY updated_at, case_no",
            self.start,
        )

    def rows(self) -> Iterator[tuple[Any, ...]]:
        sql, params = self.query()
        cursor = self.conn.execute(sql, params)
        while batch := cursor.fetchmany(self.source.config.fetch_size):
            yield from batch

    def __iter__(self) -> Iterator[Envelope]:
        for i, row in enumerate(self.rows(), start=1):
            env = self.source.map_row(row, SourceLocation("cases", i))
            self.last = (row[7], row[0])
            if env is not None:
                yield env

    def state(self) -> State:
        if self.last is None:
            return {}
        return {"updated_at": self.last[0], "case_no": self.last[1]}

    def close(self) -> None:
        self.conn.close()


class ReferenceSource(Source):
    """A correct incremental source over one SQLite table of department cases."""

    name: ClassVar[str] = "reference"
    Config: ClassVar[type[AdapterConfig]] = ReferenceConfig
    read_class: ClassVar[type[ReferenceRead]] = ReferenceRead
    config: ReferenceConfig

    @property
    def path(self) -> Path:
        return self.base_dir / self.config.database

    def streams(self) -> list[StreamSpec]:
        return [StreamSpec("cases", "case", Case.primary_key, "updated_at")]

    def check(self) -> None:
        if not self.path.exists():
            raise ConnectionCheckError(f"database file {self.path} does not exist")
        try:
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as conn:
                conn.execute("SELECT 1 FROM cases LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise ConnectionCheckError(f"cannot read table cases in {self.path}: {exc}") from None

    def read(self, stream: str, state: State | None = None) -> StreamRead:
        self.stream(stream)
        return self.read_class(self, state)

    def conformance_harness(self) -> Harness:
        return ReferenceHarness(self.path, self.config.source_system)

    def map_row(self, row: tuple[Any, ...], location: SourceLocation) -> Envelope | None:
        """The row as a standard Case, or with findings naming the column and value."""
        raw = dict(zip(COLUMNS, row, strict=True))
        times: dict[str, datetime] = {}
        for column in ("received_at", "accepted_at", "updated_at"):
            try:
                times[column] = datetime.fromisoformat(raw[column]).replace(tzinfo=CST)
            except ValueError:
                finding = Finding(
                    "mapping.date",
                    f"column {column.upper()}: {raw[column]!r} is not a time in the format {_FMT}",
                    "accepted_at" if column == "accepted_at" else "events.0.at",
                )
                return Envelope("cases", location, raw, None, [finding])
        try:
            case = Case(
                source_system=self.config.source_system,
                dept_case_no=raw["case_no"],
                impl_code=raw["impl_code"],
                applicant=Applicant(
                    name=raw["applicant_name"],
                    id_type=IdType.CITIZEN_ID,
                    id_number=raw["id_number"],
                ),
                events=[
                    CaseEvent(state=CaseState.RECEIVED, at=times["received_at"]),
                    CaseEvent(state=CaseState.ACCEPTED, at=times["accepted_at"]),
                ],
                accepted_at=times["accepted_at"],
                decision=raw["decision"],
                updated_at=times["updated_at"],
            )
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"])
            finding = Finding(
                "mapping.type", f"{err['msg']} (id {mask_id(raw['id_number'])})", where
            )
            return Envelope("cases", location, raw, None, [finding])
        return Envelope("cases", location, raw, case)


class ReferenceHarness(Harness):
    """Adds, changes and bulk-loads rows of the reference table."""

    stream = "cases"

    def __init__(self, path: Path, source_system: str) -> None:
        self.path = path
        self.source_system = source_system
        self.conn = sqlite3.connect(path)
        self.conn.execute(_SCHEMA)
        self.conn.execute(_INDEX)
        self.conn.commit()
        self.clock = datetime(2026, 3, 2, 8, 0)
        self.seq = 0

    def tick(self) -> str:
        self.clock += timedelta(seconds=1)
        return _stamp(self.clock)

    def row(self, updated_at: str, *, bad: bool = False) -> tuple[Any, ...]:
        self.seq += 1
        received = datetime(2026, 3, 2, 9, 0) + timedelta(minutes=self.seq % 600)
        accepted = _stamp(received + timedelta(hours=1))
        return (
            f"SZ-{self.seq:09d}",
            IMPL_CODE,
            "张三",
            _IDS[self.seq % len(_IDS)],
            _stamp(received),
            "2026年13月45日" if bad else accepted,
            None,
            updated_at,
        )

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(COLUMNS))
        self.conn.executemany(f"INSERT INTO cases ({', '.join(COLUMNS)}) VALUES ({marks})", rows)
        self.conn.commit()

    def reset(self) -> None:
        self.conn.execute("DELETE FROM cases")
        self.conn.commit()

    def add(self, n: int, *, cursor_value: Any | None = None, bad: int = 0) -> list[tuple]:
        spread = max(1, (n + bad) // bad) if bad else 0
        bad_at = set(range(0, n + bad, spread)[:bad]) if bad else set()
        rows, keys = [], []
        for i in range(n + bad):
            stamp = _stamp(cursor_value) if cursor_value is not None else self.tick()
            rows.append(self.row(stamp, bad=i in bad_at))
            if i not in bad_at:
                keys.append((self.source_system, rows[-1][0]))
        self.insert(rows)
        return keys

    def change(self, keys: list[tuple]) -> None:
        for _, case_no in keys:
            self.conn.execute(
                "UPDATE cases SET decision = ?, updated_at = ? WHERE case_no = ?",
                ("准予许可", self.tick(), case_no),
            )
        self.conn.commit()

    def add_bulk(self, n: int) -> None:
        chunk = 50_000
        for start in range(0, n, chunk):
            self.insert([self.row(self.tick()) for _ in range(min(chunk, n - start))])

    def close(self) -> None:
        self.conn.close()


# ----------------------------------------------------------------- the broken variants


class OverlappingPagesRead(ReferenceRead):
    """Pages by LIMIT/OFFSET with an off-by-one: the last row of a page starts the next."""

    page = 16

    def rows(self) -> Iterator[tuple[Any, ...]]:
        sql, params = self.query()
        offset = 0
        while True:
            page = self.conn.execute(f"{sql} LIMIT {self.page} OFFSET {offset}", params).fetchall()
            yield from page
            if len(page) < self.page:
                return
            offset += self.page - 1


class DuplicateKeysSource(ReferenceSource):
    """Yields a record twice at every page border."""

    read_class = OverlappingPagesRead


class LostCursorRead(ReferenceRead):
    def state(self) -> State:
        return {} if self.start is None else {"updated_at": self.start[0], "case_no": self.start[1]}


class LostCursorSource(ReferenceSource):
    """Never advances its state: every run reads everything again."""

    read_class = LostCursorRead


class GreaterOrEqualRead(ReferenceRead):
    """``updated_at >= last`` with no tie-breaker: rows at the boundary come back."""

    def query(self) -> tuple[str, tuple[Any, ...]]:
        cols = ", ".join(COLUMNS)
        if self.start is None:
            return f"SELECT {cols} FROM cases ORDER BY updated_at", ()
        return (
            f"SELECT {cols} FROM cases WHERE updated_at >= ? ORDER BY updated_at",
            (self.start[0],),
        )


class GreaterOrEqualSource(ReferenceSource):
    read_class = GreaterOrEqualRead


class StrictlyGreaterRead(ReferenceRead):
    """``updated_at > last`` with no tie-breaker: rows added later at the boundary are lost."""

    def query(self) -> tuple[str, tuple[Any, ...]]:
        cols = ", ".join(COLUMNS)
        if self.start is None:
            return f"SELECT {cols} FROM cases ORDER BY updated_at", ()
        return (
            f"SELECT {cols} FROM cases WHERE updated_at > ? ORDER BY updated_at",
            (self.start[0],),
        )


class StrictlyGreaterSource(ReferenceSource):
    read_class = StrictlyGreaterRead


class DroppedBadRowSource(ReferenceSource):
    """Skips rows it cannot map instead of reporting them."""

    def map_row(self, row: tuple[Any, ...], location: SourceLocation) -> Envelope | None:
        env = super().map_row(row, location)
        return env if env is not None and env.ok else None


class FetchAllRead(ReferenceRead):
    def rows(self) -> Iterator[tuple[Any, ...]]:
        sql, params = self.query()
        return iter(self.conn.execute(sql, params).fetchall())


class FetchAllSource(ReferenceSource):
    """Loads the whole result into memory before yielding the first row."""

    read_class = FetchAllRead


class NoHarnessSource(ReferenceSource):
    """Correct, but offers no way for the kit to drive its system."""

    conformance_harness = None  # type: ignore[assignment]
