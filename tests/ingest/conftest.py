"""Fixtures: a hub with one department case system on a local drop folder, items loaded."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_world import World, make_world

from tongyuan.config import Settings


@pytest.fixture
def hub(settings: Settings, db_url: str) -> Settings:
    return dataclasses.replace(settings, database_url=db_url)


@pytest.fixture
def world(hub: Settings, tmp_path: Path) -> Iterator[World]:
    yield make_world(hub, tmp_path)
