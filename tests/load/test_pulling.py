"""Pulling from an adapter: data, state and batch commit together; ack only afterwards."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from std_factories import make_case, make_item

from adapters.sdk import AdapterConfig, Envelope, Source, StreamRead, StreamSpec
from standards.formats import write_records
from standards.records import SourceLocation
from standards.validation import Finding
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.adapter_states import load_state
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.loading import Loader
from tongyuan.pulling import pull


class ListConfig(AdapterConfig):
    fail_after: int | None = None


class _Read(StreamRead):
    def __init__(self, source: ListSource, start: int) -> None:
        self.source, self.position = source, start

    def __iter__(self) -> Iterator[Envelope]:
        for i, case in enumerate(self.source.rows[self.position :], start=self.position):
            if self.source.config.fail_after is not None and i >= self.source.config.fail_after:
                raise ConnectionError("department database went away")
            self.position = i + 1
            loc = SourceLocation("memory:cases", i + 1)
            if case is None:
                yield Envelope(
                    "cases",
                    loc,
                    {"ZT": "99"},
                    None,
                    [Finding("mapping.code", "state code 99 not in dept_states", "events")],
                )
            else:
                yield Envelope("cases", loc, case.model_dump(mode="json"), case)

    def state(self) -> dict:
        return {"position": self.position}

    def commit(self) -> None:
        self.source.acks.append(self.position)


class ListSource(Source):
    name = "list"
    Config = ListConfig

    def __init__(self, config, rows, **kw) -> None:
        super().__init__(config, **kw)
        self.rows, self.acks = rows, []

    def streams(self) -> list[StreamSpec]:
        return [StreamSpec("cases", "case", ("source_system", "dept_case_no"))]

    def check(self) -> None:
        return None

    def read(self, stream: str, state: dict | None = None) -> StreamRead:
        return _Read(self, (state or {}).get("position", 0))


@pytest.fixture
def hub(settings, db_url, tmp_path):
    """A hub whose item library holds the published item the cases are handled under."""
    hub = dataclasses.replace(settings, database_url=db_url)
    (tmp_path / "items").mkdir()
    write_records(tmp_path / "items" / "items.xml", [make_item()])
    loader = Loader(hub)
    try:
        assert not loader.load([tmp_path / "items"]).failed
    finally:
        loader.close()
    return hub


def _count(hub, model) -> int:
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as s:
            return s.scalar(select(func.count()).select_from(model))
    finally:
        engine.dispose()


def _state(hub):
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as s:
            return load_state(s, "dept", "cases")
    finally:
        engine.dispose()


def test_pull_stores_quarantines_saves_state_and_acks_after_commit(hub):
    rows = [make_case(dept_case_no=f"N{i}", serial=None) for i in range(5)] + [None]
    source = ListSource(ListConfig(), rows)
    result = pull(hub, source, "cases", source_name="dept")
    assert result.status == "committed", result.error
    assert (result.added, result.quarantined) == (5, 1)
    assert result.rules == {"mapping.code": 1}
    assert _state(hub) == {"position": 6} and source.acks == [6]
    assert _count(hub, CaseRow) == 5 and _count(hub, QuarantineEntry) == 1

    again = pull(hub, source, "cases", source_name="dept")
    assert again.read == 0 and _count(hub, CaseRow) == 5


def test_failed_pull_keeps_old_state_stores_nothing_and_does_not_ack(hub):
    rows = [make_case(dept_case_no=f"N{i}", serial=None) for i in range(5)]
    source = ListSource(ListConfig(fail_after=3), rows)
    result = pull(hub, source, "cases", source_name="dept")
    assert result.status == "failed" and "department database went away" in result.error
    assert _state(hub) is None and source.acks == [] and _count(hub, CaseRow) == 0

    fixed = ListSource(ListConfig(), rows)
    assert pull(hub, fixed, "cases", source_name="dept").added == 5
