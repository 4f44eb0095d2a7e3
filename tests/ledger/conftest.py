"""Ledger fixtures: a hub on the parametrized database and a small drop of exchange files."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from std_factories import make_case, make_item, make_license, make_material

from standards.formats import write_records
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


def write_drop(root: Path, *, item_name: str | None = None) -> Path:
    """Items, cases (one quarantined), a material and a license: every main library."""
    for folder in ("items", "cases", "materials", "licenses"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    item = make_item() if item_name is None else make_item(name=item_name)
    write_records(root / "items" / "items.xml", [item])
    good = make_case()
    bad = make_case(dept_case_no="NS-2", serial=None, decided_at=None)  # case.timestamps
    write_records(root / "cases" / "cases.xml", [good, bad])
    write_records(root / "materials" / "manifest.xml", [make_material(root / "materials")])
    write_records(root / "licenses" / "licenses.jsonl", [make_license()])
    return root


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


def item_batch(engine: Engine, name: str, *, source: str = "sz-catalogue") -> str:
    """One committed batch writing one item version (a new version when ``name`` changes)."""
    from tongyuan.db import make_session_factory
    from tongyuan.libraries.base import utcnow
    from tongyuan.libraries.batches import close_batch, open_batch
    from tongyuan.libraries.items import write_item

    with make_session_factory(engine).begin() as session:
        batch = open_batch(session, "items", source)
        outcome = write_item(session, batch.id, make_item(name=name), source=source, now=utcnow())
        close_batch(
            session, batch, read=1, accepted=int(outcome != "unchanged"), quarantined=0,
            unchanged=int(outcome == "unchanged"), status="committed",
        )  # fmt: skip
        return batch.id
