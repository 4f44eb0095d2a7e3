"""Streaming a million department rows from PostgreSQL in bounded memory.

The rows are loaded with COPY by the harness; the read goes through the server-side
cursor page by page, children fetched per page. Bounds: Python allocations (tracemalloc,
over the first 100,000 rows — tracing slows allocation several-fold) stay under 64 MiB,
and the process's RSS, sampled over all million rows, grows by less than 128 MiB. A read
that fetched the whole result (about 1.5 GB of rows and events) would break both.
"""

from __future__ import annotations

import gc
import tracemalloc

import psutil
import pytest
from sql_fixtures import make_source, pg_dept_url  # noqa: F401 - fixtures

from adapters.builtin.sql_harness import SqlHarness

ROWS = 1_000_000
TRACED_ROWS = 100_000
TRACED_BOUND_MIB = 64
RSS_BOUND_MIB = 128
MIB = 1024 * 1024


@pytest.mark.postgres
@pytest.mark.slow
def test_streaming_a_million_rows_keeps_memory_bounded(pg_dept_url: str) -> None:  # noqa: F811
    source = make_source(pg_dept_url)
    harness = source.conformance_harness()
    assert isinstance(harness, SqlHarness)
    harness.add_bulk(ROWS)
    gc.collect()
    process = psutil.Process()
    rss_start = rss_peak = process.memory_info().rss
    tracemalloc.start()
    traced_peak = 0
    count = unmapped = 0
    try:
        with source.read("cases") as stream_read:
            for env in stream_read:
                count += 1
                unmapped += not env.ok
                if count == TRACED_ROWS:
                    traced_peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                if count % 10_000 == 0:
                    rss_peak = max(rss_peak, process.memory_info().rss)
            state = stream_read.state()
    finally:
        tracemalloc.stop()
        harness.close()
        source.dispose()
    assert (count, unmapped) == (ROWS, 0)
    assert state["tiebreaker"] == ROWS
    assert traced_peak / MIB < TRACED_BOUND_MIB, f"traced peak {traced_peak / MIB:.0f} MiB"
    growth = (rss_peak - rss_start) / MIB
    assert growth < RSS_BOUND_MIB, f"RSS grew by {growth:.0f} MiB"
