"""Cases with a given history, and the CLI pointed at a test hub: for the timeliness tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from ingest_world import World
from std_factories import make_case

from standards.codes.enums import CaseState
from standards.records import Case, CaseEvent

CST = timezone(timedelta(hours=8))


def t(month: int, day: int, hour: int = 10, year: int = 2026) -> datetime:
    """A Beijing time (2026 unless ``year`` says)."""
    return datetime(year, month, day, hour, tzinfo=CST)


def case_with(no: str, events: list[CaseEvent], **over: Any) -> Case:
    """Case ``no`` with this history (受理 and 办结 times taken from it), a promised limit
    of 3 working days unless ``over`` says otherwise."""
    accepted = next((e.at for e in events if e.state is CaseState.ACCEPTED), None)
    decided = next((e.at for e in events if e.state.is_done), None)
    return make_case(
        serial=None, dept_case_no=no, events=events, accepted_at=accepted,
        decided_at=decided, delivered_at=None, **({"promised_limit_days": 3} | over),
    )  # fmt: skip


def point_cli(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the ``tongyuan`` command (run in this process) at this hub."""
    monkeypatch.setenv("TONGYUAN_HOME", str(world.settings.home))
    monkeypatch.setenv("TONGYUAN_DATABASE_URL", world.settings.database_url)
    monkeypatch.setenv("TONGYUAN_PII_KEY", world.settings.pii_key_b64 or "")
