"""CodesFetchedLater: a few questions go one by one, many are answered from one fetch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, event, insert, select
from sqlalchemy.orm import Session

import tongyuan.sync.node_sync as node_sync
from tongyuan.sync.node_sync import CodesFetchedLater

_meta = MetaData()
_codes = Table("codes", _meta, Column("code", String, primary_key=True))


@pytest.fixture
def session() -> Iterator[tuple[Session, list[str]]]:
    engine = create_engine("sqlite://")
    _meta.create_all(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as s:
        s.execute(insert(_codes), [{"code": c} for c in ("A", "B", "C")])
        statements.clear()
        yield s, statements
    engine.dispose()


def test_the_first_questions_are_left_to_point_lookups_then_one_fetch_answers(
    session: tuple[Session, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    s, statements = session
    monkeypatch.setattr(node_sync, "POINT_LOOKUPS", 2)
    codes = CodesFetchedLater(select(_codes.c.code))
    assert codes.holds(s, "A") is None
    assert codes.holds(s, "Z") is None
    assert statements == []  # the caller asks for these codes itself
    assert codes.holds(s, "A") is True
    assert codes.holds(s, "Z") is False
    assert codes.holds(s, "C") is True
    assert len(statements) == 1  # every later answer came from one fetch


def test_fetch_now_answers_from_the_first_question(session: tuple[Session, list[str]]) -> None:
    s, statements = session
    codes = CodesFetchedLater(select(_codes.c.code))
    codes.fetch_now()
    assert codes.holds(s, "B") is True
    assert codes.holds(s, "Q") is False
    codes.add("Q")  # written by the caller meanwhile
    assert codes.holds(s, "Q") is True
    assert len(statements) == 1


def test_a_code_added_before_the_fetch_is_left_to_the_fetch(
    session: tuple[Session, list[str]],
) -> None:
    s, _ = session
    codes = CodesFetchedLater(select(_codes.c.code))
    codes.add("Q")  # nothing fetched yet: the fetch will see what the database holds
    codes.fetch_now()
    assert codes.holds(s, "Q") is False
    assert codes.holds(s, "A") is True
