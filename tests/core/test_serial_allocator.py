from __future__ import annotations

import multiprocessing
from datetime import date

from sqlalchemy import Engine

from tongyuan.db import make_engine
from tongyuan.libraries import DbSerialAllocator

IMPL = "91110000600037341L3440101001000"
PER_PROCESS = 200
PROCESSES = 4


def _allocate_many(url: str, count: int) -> list[int]:
    engine = make_engine(url)
    try:
        allocator = DbSerialAllocator(engine)
        return [allocator.allocate(IMPL, date(2024, 3, 1)) for _ in range(count)]
    finally:
        engine.dispose()


def test_sequences_per_item_and_day(engine: Engine) -> None:
    allocator = DbSerialAllocator(engine)
    day = date(2024, 3, 1)
    assert [allocator.allocate(IMPL, day) for _ in range(3)] == [1, 2, 3]
    assert allocator.allocate(IMPL, date(2024, 3, 2)) == 1
    assert allocator.allocate("91110108551385082Q4440101002000", day) == 1
    assert allocator.allocate(IMPL.lower(), day) == 4  # one item, however it is spelt


def test_collision_free_across_processes(db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES) as pool:
        results = pool.starmap(_allocate_many, [(db_url, PER_PROCESS)] * PROCESSES)
    numbers = [n for chunk in results for n in chunk]
    assert len(numbers) == PROCESSES * PER_PROCESS
    assert sorted(numbers) == list(range(1, PROCESSES * PER_PROCESS + 1))
    for chunk in results:
        assert chunk == sorted(chunk)  # each process sees its own numbers increase
