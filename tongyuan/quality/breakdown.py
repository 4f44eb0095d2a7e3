"""Breakdown by region, level and department, in the database.

For each population one GROUP BY counts the evaluated records per (region, level,
department); for each failing check one query over the check's own failing SQL returns,
per group, the failure count and at most :data:`FAILING_KEYS_CAP` keys (window
functions, so the database does the capping and Python never holds more than the cap
per group).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from tongyuan.libraries.quality import FAILING_KEYS_CAP
from tongyuan.quality.checks import Check, Population
from tongyuan.quality.sql import substitute_batch

Group = tuple[str | None, str | None, str | None]


@dataclass(slots=True)
class Failures:
    """A check's failures: count and capped keys per group."""

    counts: dict[Group, int] = field(default_factory=dict)
    keys: dict[Group, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _group(row: object) -> Group:
    region, level, department = row[0], row[1], row[2]  # type: ignore[index]
    return (
        None if region is None else str(region),
        None if level is None else str(level),
        None if department is None else str(department),
    )


def evaluated_by_group(connection: Connection, population: Population) -> dict[Group, int]:
    """How many records of the population fall in each (region, level, department)."""
    rows = connection.execute(
        text(
            "SELECT p.region_code, p.level, p.department, COUNT(*) "
            f"FROM ({population.sql}) p GROUP BY p.region_code, p.level, p.department"
        )
    )
    return {_group(row): int(row[3]) for row in rows}


def failures_by_group(connection: Connection, check: Check) -> Failures:
    """The check's failing rows per group: counts, and the first keys in key order."""
    failing = substitute_batch(check.failing_sql, check.population.sql)
    rows = connection.execute(
        text(
            "SELECT region_code, level, department, record_key, group_count FROM ("
            "SELECT f.region_code AS region_code, f.level AS level, "
            "f.department AS department, f.record_key AS record_key, "
            "ROW_NUMBER() OVER (PARTITION BY f.region_code, f.level, f.department "
            "ORDER BY f.record_key) AS position, "
            "COUNT(*) OVER (PARTITION BY f.region_code, f.level, f.department) AS group_count "
            f"FROM ({failing}) f) ranked WHERE position <= {FAILING_KEYS_CAP}"
        )
    )
    out = Failures()
    for row in rows:
        group = _group(row)
        out.counts[group] = int(row[4])
        out.keys[group].append(str(row[3]))
    return out
