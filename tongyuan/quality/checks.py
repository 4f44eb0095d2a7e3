"""What a quality check is: a rule, the records it looks at, and the SQL naming failures.

A check's ``failing_sql`` is the single statement of its rule: it is the query of the
custom GX expectation (an ``UnexpectedRowsExpectation`` subclass) that runs it, and the
breakdown by region, level and department runs that same text. Where GX has a built-in
expectation for the rule (unique, in set, column pair) the suite uses the built-in; its
``failing_sql`` then states the same condition for the breakdown, and the runner checks
that GX and the breakdown counted the same failures (a mismatch fails the run loudly).

Every population selects ``record_key, region_code, level, department`` first: the key
an auditor drills down with (never a personal ID) and the three scorecard dimensions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from standards.validation.rules import RULES
from tongyuan.quality.sql import Dialect, quote

SUITES: tuple[str, ...] = ("completeness", "consistency", "rules", "timeliness", "integrity")
KEY_COLUMNS: tuple[str, ...] = ("record_key", "region_code", "level", "department")


@dataclass(frozen=True, slots=True)
class Population:
    """The rows a suite checks for one kind of record (a GX query asset)."""

    name: str
    kind: str
    sql: str


@dataclass(frozen=True, slots=True)
class Check:
    """One rule over one population, run in the database as one GX expectation."""

    suite: str
    rule: str
    population: Population
    failing_sql: str
    expectation: str  # GX expectation class name
    kwargs: Mapping[str, Any] = field(default_factory=dict)  # for built-in expectations

    @property
    def title(self) -> str:
        return RULES[self.rule].title

    @property
    def regulation(self) -> str:
        return RULES[self.rule].source

    @property
    def kind(self) -> str:
        return self.population.kind


@dataclass(frozen=True, slots=True)
class SuiteContext:
    """What the suites need to write their SQL: dialect, reference day, scope, tables."""

    dialect: Dialect
    as_of: date
    scope: str  # "all" or a GB/T 2260 region code
    tables: frozenset[str]

    def in_scope(self, column: str) -> str:
        """A WHERE predicate keeping rows of the scope's region and the regions under it."""
        if self.scope == "all":
            return "1 = 1"
        return f"{column} LIKE {quote(region_prefix(self.scope) + '%')}"


def region_prefix(code: str) -> str:
    """The leading digits shared by a region and everything under it (GB/T 2260)."""
    if len(code) != 6 or not code.isdigit():
        raise ValueError(f"scope must be 'all' or a 6-digit region code, got {code!r}")
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def failing(where: str, *, source: str = "{batch}") -> str:
    """The usual shape of a failing-rows query: keys of the rows matching ``where``."""
    return f"SELECT {', '.join(KEY_COLUMNS)} FROM {source} WHERE {where}"


def failing_joined(join: str, where: str = "1 = 1") -> str:
    """Failing rows found through a join with ``{batch} AS b`` (GX needs the alias then)."""
    keys = ", ".join(f"b.{c}" for c in KEY_COLUMNS)
    return f"SELECT {keys} FROM {{batch}} AS b {join} WHERE {where}"


def region_level(column: str) -> str:
    """行使层级 of a node by its region code: province 2, city 3, county 4 (GB/T 2260)."""
    return (
        f"CASE WHEN substr({column}, 3, 4) = '0000' THEN '2' "
        f"WHEN substr({column}, 5, 2) = '00' THEN '3' ELSE '4' END"
    )
