"""Knobs a data bureau sets per source when checking records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from standards.validation.findings import Severity


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """How strictly to check.

    ``uscc_check_severity``: some legally registered USCCs fail their check character
    (DESIGN §3), so for legacy sources a bad check character on an *authority's* code may be
    downgraded to a warning: the record loads and the finding is still reported.
    ``today`` pins "now" for birth-date checks so results are reproducible.
    ``now`` is the hub's clock a case's times must not pass (``case.timestamps.future``);
    ``None`` reads :func:`hub_clock` at each check, so a long run never judges a case
    against the moment it started. ``clock_skew`` is how far a department's clock may run
    ahead of the hub's before its times count as the future.
    """

    uscc_check_severity: Severity = Severity.ERROR
    today: date | None = None
    now: datetime | None = None
    clock_skew: timedelta = timedelta(minutes=10)

    def reference_now(self) -> datetime:
        """The "now" a check judges the future by: ``now`` if pinned, else the clock."""
        return self.now if self.now is not None else hub_clock()


def hub_clock() -> datetime:
    """The hub's clock (UTC) for checks given no ``now``: one function, so that tests
    whose records are dated ahead of the real clock can pin it."""
    return datetime.now(UTC)
