"""A small drop touching every library, and a one-item batch, for the ledger tests.

A module of its own, not the conftest: ``from conftest import`` finds whichever conftest
was imported first when several test folders run together."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from std_factories import make_case, make_item, make_license, make_material

from standards.formats import write_records
from tongyuan.config import Settings


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


def item_batch(
    engine: Engine, settings: Settings, name: str, *, source: str = "sz-catalogue"
) -> str:
    """One committed batch writing one item version (a new version when ``name`` changes),
    chained to the ledger of the hub ``settings`` describe (signed with its key)."""
    from tongyuan.db import make_session_factory
    from tongyuan.libraries.base import utcnow
    from tongyuan.libraries.batches import close_batch, open_batch
    from tongyuan.libraries.items import write_item

    with make_session_factory(engine).begin() as session:
        batch = open_batch(session, "items", source)
        outcome = write_item(session, batch.id, make_item(name=name), source=source, now=utcnow())
        close_batch(
            session, batch, read=1, accepted=int(outcome != "unchanged"), quarantined=0,
            unchanged=int(outcome == "unchanged"), status="committed", settings=settings,
        )  # fmt: skip
        return batch.id
