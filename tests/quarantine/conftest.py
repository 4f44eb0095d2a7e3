"""Fixtures of the quarantine tests: a hub on each backend with the cited item published."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session
from std_factories import make_item

from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.batches import close_batch, open_batch
from tongyuan.libraries.items import write_item


@pytest.fixture
def hub(settings: Settings, db_url: str) -> Iterator[Settings]:
    """A migrated hub on SQLite or PostgreSQL whose item library holds the published item."""
    hub = dataclasses.replace(settings, database_url=db_url)
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine).begin() as session:
            batch = open_batch(session, "load.item", "test")
            write_item(session, batch.id, make_item(), source="test", now=datetime.now(UTC))
            close_batch(session, batch, read=1, accepted=1, quarantined=0, unchanged=0,
                        status="committed", settings=hub)  # fmt: skip
    finally:
        engine.dispose()
    yield hub


@pytest.fixture
def in_session(hub: Settings) -> Iterator[Callable[[Callable[[Session], Any]], Any]]:
    """Run a function in a fresh session of the hub's database."""
    engine = make_engine(hub.database_url)

    def run(fn: Callable[[Session], Any]) -> Any:
        with make_session_factory(engine)() as session:
            return fn(session)

    yield run
    engine.dispose()
