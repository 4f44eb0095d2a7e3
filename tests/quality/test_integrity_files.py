"""The integrity suite's file and ledger checks, against what the other tools say.

``ledger.chain`` passed (0 failed) on a copy ``tongyuan ledger verify`` called ALTERED:
the quality run verified the ledger without the hub key, so deleted checkpoints went
unnoticed. And ``material.file.sha256`` passed a blob replaced by a symbolic link to the
same bytes outside the data directory.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from std_factories import make_item, make_material

from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.ledger import verify_ledger, write_checkpoint
from tongyuan.ledger.hubkey import public_key_path
from tongyuan.libraries.base import utcnow
from tongyuan.libraries.batches import close_batch, open_batch
from tongyuan.libraries.items import write_item
from tongyuan.libraries.materials import blob_path, store_blob, write_material
from tongyuan.privacy import PiiProtector
from tongyuan.quality import run_quality
from tongyuan.quality.files import check_ledger, check_material_files
from tongyuan.quality.history import ResultRow


@pytest.fixture
def hub(settings: Settings, db_url: str) -> Settings:
    return dataclasses.replace(settings, database_url=db_url)


@pytest.fixture
def hub_engine(hub: Settings) -> Iterator[Engine]:
    engine = make_engine(hub.database_url, sqlite_begin="DEFERRED")
    yield engine
    engine.dispose()


def _totals(rows: list[ResultRow]) -> dict[str, tuple[int, int, list[str]]]:
    return {r.rule: (r.evaluated, r.failed, r.failing_keys) for r in rows if r.grain == "total"}


def _ledger_with_a_checkpoint(hub: Settings, engine: Engine) -> None:
    for name in ("一", "二"):
        with make_session_factory(engine).begin() as session:
            batch = open_batch(session, "items", "sz-catalogue")
            outcome = write_item(
                session, batch.id, make_item(name=name), source="sz-catalogue", now=utcnow()
            )
            close_batch(
                session, batch, read=1, accepted=int(outcome != "unchanged"), quarantined=0,
                unchanged=int(outcome == "unchanged"), status="committed", settings=hub,
            )  # fmt: skip
    with make_session_factory(engine).begin() as session:
        write_checkpoint(session, hub)
    assert public_key_path(hub).exists()


def test_ledger_chain_fails_where_ledger_verify_does_when_the_checkpoints_are_deleted(
    hub: Settings, hub_engine: Engine
) -> None:
    _ledger_with_a_checkpoint(hub, hub_engine)
    evaluated, failed, _ = _totals(check_ledger(hub_engine, hub))["ledger.chain"]
    assert evaluated > 0 and failed == 0
    with hub_engine.begin() as connection:
        connection.execute(text("DELETE FROM ledger_checkpoints"))
    pem = public_key_path(hub).read_text(encoding="ascii")
    assert not verify_ledger(hub_engine, trusted_keys=[pem]).ok  # what ledger verify says
    _, failed, keys = _totals(check_ledger(hub_engine, hub))["ledger.chain"]
    assert failed >= 1 and keys, keys
    # and so does the quality run, which is what the report shows
    summary = run_quality(hub, suites=["integrity"])
    chain = next(rule for rule in summary.rules if rule.rule == "ledger.chain")
    assert chain.failed >= 1


def test_an_unusable_hub_key_file_fails_ledger_chain_instead_of_going_unpinned(
    hub: Settings, hub_engine: Engine
) -> None:
    _ledger_with_a_checkpoint(hub, hub_engine)
    public_key_path(hub).write_text("not a key\n", encoding="ascii")
    _, failed, keys = _totals(check_ledger(hub_engine, hub))["ledger.chain"]
    assert (failed, keys) == (1, ["hub key"])


def test_a_blob_replaced_by_a_link_to_the_same_bytes_fails_material_file_sha256(
    hub: Settings, hub_engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    protector = PiiProtector(hub.pii_key())
    digests = []
    with make_session_factory(hub_engine).begin() as session:
        batch = open_batch(session, "load.material", "test")
        for n in range(2):
            folder = tmp_path / f"m{n}"
            folder.mkdir()
            material = make_material(folder, content=f"材料{n}".encode(), material_id=f"M-{n}")
            sha256, _ = store_blob(hub, folder / material.file)
            write_material(session, batch.id, material, protector=protector, sha256=sha256)
            digests.append(sha256)
        close_batch(session, batch, read=2, accepted=2, quarantined=0, unchanged=0,
                    status="committed", settings=hub)  # fmt: skip
    assert _totals(check_material_files(hub, hub_engine))["material.file.sha256"][1] == 0
    path = blob_path(hub, digests[1])
    outside = tmp_path / "outside.bin"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)
    with caplog.at_level(logging.WARNING, logger="tongyuan.quality.files"):
        totals = _totals(check_material_files(hub, hub_engine))
    assert totals["material.file.sha256"] == (2, 1, ["M-1"])
    assert totals["material.file.missing"] == (2, 0, [])
    assert f"{digests[1]} is a symbolic link to {outside}" in caplog.text
