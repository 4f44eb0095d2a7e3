"""Item sync batches (node copies, base catalogue, findings, deliveries) are chained too."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import Engine, text

from tongyuan.config import Settings
from tongyuan.db import make_engine
from tongyuan.ledger import verify_ledger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))
from test_deliver_world import at, make_world

from tongyuan.sync.systems import write_updates


def _engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url, sqlite_begin="DEFERRED")


def test_syncs_and_deliveries_keep_the_chain_intact_and_covered(settings: Settings, tmp_path):
    world = make_world(settings, tmp_path)
    world.run(at(3, 2))
    write_updates(world.systems)  # a cancellation: tombstones, findings resolved
    world.run(at(3, 3))
    engine = _engine(settings)
    try:
        result = verify_ledger(engine)
        assert result.ok, result.problems[:5]
        with engine.connect() as connection:
            kinds = set(connection.scalars(text("SELECT DISTINCT kind FROM ledger_records")))
            entry_kinds = set(connection.scalars(text("SELECT DISTINCT kind FROM ledger_entries")))
        assert {"node_item", "item_version", "base_catalogue", "adapter_state"} <= kinds
        assert "item_delivery" in kinds
        assert len(entry_kinds) >= 2  # syncs and deliveries both
        with engine.begin() as connection:
            connection.execute(text("UPDATE node_items SET status = 'x' WHERE impl_code = "
                                    "(SELECT min(impl_code) FROM node_items)"))  # fmt: skip
        problems = verify_ledger(engine).problems
        assert [(p.code, p.table) for p in problems] == [("row.altered", "node_items")]
    finally:
        engine.dispose()
