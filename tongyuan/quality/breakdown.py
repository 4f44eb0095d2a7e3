"""The two queries a run sends per population: records per group, and failing rows.

``failing_query`` is what the GX metric runs over the population (``{batch}``): one pass
keeps the rows that break any of the population's rules, with a flag per rule, and
window functions over those rows return per rule and (region, level, department) the
failure count and at most :data:`FAILING_KEYS_CAP` keys — so the database does the
counting and the capping, and only failing rows are ever sorted.

``evaluated_by_group`` counts the population's records per group. It reads none of the
rule columns, so the database leaves out their lookups and joins; the runner sends it
beside the GX checkpoint, on the second core.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from tongyuan.libraries.quality import FAILING_KEYS_CAP
from tongyuan.quality.checks import Check, Population

Group = tuple[str | None, str | None, str | None]


def group_of(row: Sequence[object]) -> Group:
    """(region, level, department) of a result row, as text or None."""
    region, level, department = row[0], row[1], row[2]
    return (
        None if region is None else str(region),
        None if level is None else str(level),
        None if department is None else str(department),
    )


def _escape_braces(sql: str) -> str:
    # GX fills ``{batch}`` with str.format: braces of the rule itself must be doubled.
    return sql.replace("{", "{{").replace("}", "}}")


def unjudged_positions(checks: Sequence[Check]) -> list[int | None]:
    """Where :func:`failing_query` flags the records each check cannot judge (its
    ``unjudged`` condition), after the checks' own positions; None for a check without."""
    positions: list[int | None] = []
    following = len(checks)
    for check in checks:
        positions.append(following if check.unjudged is not None else None)
        following += check.unjudged is not None
    return positions


def failing_query(checks: Sequence[Check]) -> str:
    """Over ``{batch}``: (position, region, level, department, key, group count) per failure.

    ``position`` is the check's place in ``checks``; at most the cap of keys per check and
    group, the first in key order; ``group count`` is the check's failures in the group.
    The records a check cannot judge are flagged at its :func:`unjudged_positions` place,
    one row per group (only the count is wanted).
    """
    conditions = [_escape_braces(c.condition) for c in checks]
    conditions += [_escape_braces(c.unjudged) for c in checks if c.unjudged is not None]
    flags = ", ".join(
        f"CASE WHEN {cond} THEN 1 ELSE 0 END AS failed_{i}" for i, cond in enumerate(conditions)
    )
    any_failing = " OR ".join(f"({cond})" for cond in conditions)
    per_check = " UNION ALL ".join(
        f"SELECT {i} AS position, record_key, region_code, level, department "
        f"FROM failing WHERE failed_{i} = 1"
        for i in range(len(conditions))
    )
    partition = "PARTITION BY u.position, u.region_code, u.level, u.department"
    return (
        f"WITH failing AS (SELECT record_key, region_code, level, department, {flags} "
        f"FROM {{batch}} WHERE {any_failing}) "
        "SELECT position, region_code, level, department, record_key, group_count FROM ("
        "SELECT u.position AS position, u.region_code AS region_code, u.level AS level, "
        "u.department AS department, u.record_key AS record_key, "
        f"ROW_NUMBER() OVER ({partition} ORDER BY u.record_key) AS rank_in_group, "
        f"COUNT(*) OVER ({partition}) AS group_count FROM ({per_check}) u) ranked "
        f"WHERE rank_in_group <= {FAILING_KEYS_CAP} "
        f"AND (position < {len(checks)} OR rank_in_group = 1)"
    )


def evaluated_by_group(connection: Connection, population: Population) -> dict[Group, int]:
    """How many records of the population fall in each (region, level, department)."""
    # Department first: grouped by region first, SQLite walks the region index and looks
    # every row up in the table; this way it reads the table once and sorts.
    rows = connection.execute(
        text(
            "SELECT p.region_code, p.level, p.department, COUNT(*) "
            f"FROM ({population.sql_for([])}) p GROUP BY p.department, p.level, p.region_code"
        )
    )
    return {group_of(row): int(row[3]) for row in rows}
