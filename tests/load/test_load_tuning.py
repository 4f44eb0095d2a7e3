"""What a load changes in its process for speed: the cycle collector, the page cache."""

from __future__ import annotations

import gc

import pytest
from sqlalchemy import text

from tongyuan.collection import BULK_THRESHOLDS, bulk_collection
from tongyuan.db import make_engine, make_session_factory
from tongyuan.loading import LOAD_PAGE_CACHE_MB, _widen_page_cache, load_page_cache_mb


def test_bulk_collection_restores_the_collector() -> None:
    before = gc.get_threshold()
    with bulk_collection():
        assert gc.get_threshold() == BULK_THRESHOLDS
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with bulk_collection():  # nested: the outer one decides
            pass
        assert gc.get_threshold() == BULK_THRESHOLDS
        assert gc.get_freeze_count() == frozen
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_page_cache_size_comes_from_the_environment():
    assert load_page_cache_mb({}) == LOAD_PAGE_CACHE_MB
    assert load_page_cache_mb({"TONGYUAN_LOAD_CACHE_MB": " 48 "}) == 48
    for bad in ("0", "-5", "16; DROP TABLE cases", "1e3", "70000"):
        with pytest.raises(ValueError, match="TONGYUAN_LOAD_CACHE_MB"):
            load_page_cache_mb({"TONGYUAN_LOAD_CACHE_MB": bad})


def test_a_loading_connection_gets_the_page_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TONGYUAN_LOAD_CACHE_MB", "24")
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        with make_session_factory(engine).begin() as session:
            _widen_page_cache(session)
            assert session.execute(text("PRAGMA cache_size")).scalar_one() == -24 * 1024
    finally:
        engine.dispose()


def test_entering_runs_no_full_collection():
    # A DAG task holding millions of objects enters it once per pull: a full pass each
    # time cost the item re-sync seconds.
    passes: list[int] = []

    def watch(phase: str, info: dict) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.callbacks.append(watch)
    try:
        with bulk_collection():
            pass
    finally:
        gc.callbacks.remove(watch)
    assert 2 not in passes
