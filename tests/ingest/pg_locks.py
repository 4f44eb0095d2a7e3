"""Waiting, in a test, until another PostgreSQL backend waits for a lock: how the
concurrency tests know the race they stage is on, without sleeping for it."""

from __future__ import annotations

import threading

from sqlalchemy import text

from tongyuan.db import make_engine


def wait_for_a_lock_wait(url: str, done: threading.Event) -> str | None:
    """The statement of a backend of this database waiting for a lock, once there is
    one; None if ``done`` was set first (the work that was to wait ended without)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            while not done.is_set():
                waiting = conn.execute(
                    text(
                        "SELECT query FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar()
                conn.rollback()
                if waiting is not None:
                    return str(waiting)
                done.wait(0.05)
            return None
    finally:
        engine.dispose()
