"""Ledger fixtures: a hub on the parametrized database and a small drop of exchange files."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_world import write_drop
from sqlalchemy import Engine

from tongyuan.config import Settings
from tongyuan.db import make_engine
from tongyuan.loading import Loader


@pytest.fixture
def hub_settings(settings: Settings, db_url: str) -> Settings:
    return dataclasses.replace(settings, database_url=db_url)


@pytest.fixture
def loader(hub_settings: Settings) -> Iterator[Loader]:
    hub = Loader(hub_settings)
    yield hub
    hub.close()


@pytest.fixture
def ledger_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url, sqlite_begin="DEFERRED")
    yield engine
    engine.dispose()


@pytest.fixture
def loaded(loader: Loader, tmp_path: Path) -> Loader:
    """A hub with two loads: the second changes the item, closing its first version."""
    first = write_drop(tmp_path / "drop1")
    summary = loader.load([first], relative_to=first)
    assert not summary.failed
    second = write_drop(tmp_path / "drop2", item_name="变更后的事项名称")
    summary = loader.load([second / "items"], relative_to=second)
    assert not summary.failed
    return loader
