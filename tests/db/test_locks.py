"""Named locks between hub processes: exclusive for one job, shared for a run's steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from tongyuan.db.locks import LockBusy, exclusive_lock, shared_lock


def test_shared_holders_coexist_and_keep_an_exclusive_one_out(db_url: str, tmp_path: Path) -> None:
    """Advisory locks on PostgreSQL, flock beside the SQLite file: the same semantics."""
    where = {"fallback_dir": tmp_path}
    with shared_lock(db_url, "job", **where), shared_lock(db_url, "job", **where):
        with pytest.raises(LockBusy), exclusive_lock(db_url, "job", **where):
            pass
        with exclusive_lock(db_url, "another job", **where):
            pass
    with (
        exclusive_lock(db_url, "job", **where),
        pytest.raises(LockBusy),
        shared_lock(db_url, "job", **where),
    ):
        pass
    with exclusive_lock(db_url, "job", **where):  # released: free again
        pass
