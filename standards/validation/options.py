"""Knobs a data bureau sets per source when checking records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from standards.validation.findings import Severity


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """How strictly to check.

    ``uscc_check_severity``: some legally registered USCCs fail their check character
    (DESIGN §3), so for legacy sources a bad check character on an *authority's* code may be
    downgraded to a warning: the record loads and the finding is still reported.
    ``today`` pins "now" for birth-date checks so results are reproducible.
    """

    uscc_check_severity: Severity = Severity.ERROR
    today: date | None = None
