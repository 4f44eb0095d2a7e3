"""Fixtures for report tests: a hub (settings + engine) on each backend."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from tongyuan.config import Settings
from tongyuan.db import make_engine


@dataclass
class Hub:
    settings: Settings
    engine: Engine


@pytest.fixture
def hub(settings: Settings, db_url: str) -> Iterator[Hub]:
    engine = make_engine(db_url)
    try:
        yield Hub(dataclasses.replace(settings, database_url=db_url), engine)
    finally:
        engine.dispose()
