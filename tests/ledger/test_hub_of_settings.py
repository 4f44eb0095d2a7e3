"""The ledger is signed with the key of the hub whose database is written — the hub of the
Settings the caller holds — never with the key of the hub the environment names.

An embedding application, the benchmarks or a test may hold Settings that did not come
from the environment; entries signed with the environment's hub key fail ``ledger
verify`` of the hub they were written to, and the key files appear in another home.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from ledger_world import item_batch, write_drop
from sqlalchemy import select

from tongyuan.config import ENV_HOME, ENV_PII_KEY, Settings, load_settings
from tongyuan.db import make_engine, make_session_factory, upgrade
from tongyuan.ledger import verify_ledger
from tongyuan.ledger.hubkey import load_hub_key, private_key_path, public_key_path
from tongyuan.libraries.batches import Batch, close_batch, open_batch
from tongyuan.libraries.ledger import LedgerEntry
from tongyuan.loading import Loader

PII_KEY = base64.b64encode(bytes(range(32))).decode()


def _hub(home: Path) -> Settings:
    settings = load_settings({ENV_HOME: str(home), ENV_PII_KEY: PII_KEY})
    settings.ensure_dirs()
    upgrade(settings.database_url)
    return settings


def _pem(settings: Settings) -> list[str]:
    return [public_key_path(settings).read_text(encoding="ascii")]


def test_each_hub_signs_its_own_ledger_whatever_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_home = tmp_path / "env-home"  # e.g. the shell's default hub
    monkeypatch.setenv(ENV_HOME, str(env_home))
    first, second = _hub(tmp_path / "hub-a"), _hub(tmp_path / "hub-b")
    load_hub_key(first)  # hub A has its key already, hub B gets one on its first batch
    drop = write_drop(tmp_path / "drop")
    (drop / "cases" / "broken.xml").write_text("<not xml", encoding="utf-8")
    for settings in (first, second):
        loader = Loader(settings)
        try:
            summary = loader.load([drop], relative_to=drop)  # close_batch and failed batches
        finally:
            loader.close()
        assert summary.failed  # the broken file: record_failed_batch chained it
        engine = make_engine(settings.database_url)
        try:
            item_batch(engine, settings, "另一个名称")
        finally:
            engine.dispose()

    assert not env_home.exists(), sorted(str(p) for p in env_home.rglob("*"))
    assert _pem(first) != _pem(second)
    for own, other in ((first, second), (second, first)):
        engine = make_engine(own.database_url)
        try:
            result = verify_ledger(engine, trusted_keys=_pem(own))
            assert result.ok, [p.message for p in result.problems]
            assert result.entries >= 3
            foreign = verify_ledger(engine, trusted_keys=_pem(other))
            assert not foreign.ok  # signed by its own hub, not by the other one
        finally:
            engine.dispose()
    assert private_key_path(first).is_file() and private_key_path(second).is_file()


def test_closing_a_batch_without_the_hub_settings_is_refused_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_HOME, str(tmp_path / "env-home"))
    hub = _hub(tmp_path / "hub")
    engine = make_engine(hub.database_url)
    try:
        refused = pytest.raises(TypeError, match="Settings of the hub whose database is written")
        with refused, make_session_factory(engine).begin() as session:
            batch = open_batch(session, "items", "no-settings")
            close_batch(
                session, batch, read=0, accepted=0, quarantined=0, unchanged=0,
                status="committed", settings=None,  # type: ignore[arg-type]
            )  # fmt: skip
        with make_session_factory(engine)() as session:
            assert session.scalars(select(Batch.id)).all() == []
            assert session.scalars(select(LedgerEntry.seq)).all() == []
    finally:
        engine.dispose()
    assert not (tmp_path / "env-home").exists()
