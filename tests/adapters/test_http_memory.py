"""Streaming a million rows from the department API keeps the reader's memory bounded.

The API runs in a process of its own (so only the reader is measured, and the two use
both cores). tracemalloc counts the reader's Python allocations over the first
:data:`TRACED_ROWS` rows — it slows allocation several-fold, and what it would catch (a
read that fetches everything before yielding) shows within the first pages; the
process's RSS is sampled over the whole million and catches growth row by row.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpdept
import psutil
import pytest
from pydantic import SecretStr

from adapters.builtin.http import HttpSource

ROWS = 1_000_000
TRACED_ROWS = 30_000
PAGE_SIZE = 1_000
#: One page of 1,000 objects is about 0.8 MB of JSON and a few MB parsed; 32 MiB leaves
#: room for the mapping's records and the client, and is far below 1M rows (~1.5 GB).
TRACED_BOUND_MIB = 32
RSS_BOUND_MIB = 96
MIB = 1024 * 1024
TOKEN = "dept-api-token-memory"


@pytest.fixture
def api_process() -> Iterator[str]:
    """The department API with ROWS bulk rows, in a child process; yields its base URL."""
    script = Path(httpdept.__file__)
    proc = subprocess.Popen(
        [sys.executable, str(script), "--token", TOKEN, "--bulk", str(ROWS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=script.parent.parent,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:"), "the API process did not start"
        yield base_url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_a_million_rows_stream_in_bounded_memory(api_process: str) -> None:
    config = {
        "base_url": api_process,
        "auth": {"type": "bearer", "token": "env:DEPT_API_TOKEN"},
        "streams": {
            "cases": {
                "endpoint": "/cases",
                "mapping": httpdept.DEPT_MAPPING,
                "records_path": "data.list",
                "pagination": {"style": "keyset", "page_size": PAGE_SIZE},
                "incremental": {"cursor_field": "gxsj", "id_field": "id"},
            }
        },
    }
    src = HttpSource.from_config(config, secrets=lambda ref: SecretStr(TOKEN))
    process = psutil.Process()
    rss_start = rss_peak = process.memory_info().rss
    count = unmapped = 0
    last_id = None
    tracemalloc.start()
    try:
        with src.read("cases") as stream_read:
            for envelope in stream_read:
                count += 1
                unmapped += not envelope.ok
                last_id = envelope.raw["id"]
                if count == TRACED_ROWS:
                    traced_peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                if count % 50_000 == 0:
                    rss_peak = max(rss_peak, process.memory_info().rss)
            state = stream_read.state()
    finally:
        tracemalloc.stop()
    rss_peak = max(rss_peak, process.memory_info().rss)

    assert count == ROWS and unmapped == 0
    assert state == {"mode": "after_id", "cursor": state["cursor"], "id": ROWS}
    assert last_id == ROWS
    assert traced_peak < TRACED_BOUND_MIB * MIB, f"traced peak {traced_peak / MIB:.1f} MiB"
    growth = rss_peak - rss_start
    assert growth < RSS_BOUND_MIB * MIB, f"RSS grew {growth / MIB:.1f} MiB"
