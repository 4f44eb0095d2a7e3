"""What a quality check is: a rule, the records it looks at, and the condition naming failures.

A check's ``condition`` is a predicate over one row of its population: true when that
record breaks the rule. Everything a rule needs from other rows or tables (the case's
events, the published items, the highest level's copy of a 基本编码) is a column of the
population, so every rule of a population is a row predicate and all of them are
evaluated together: one query per population keeps the rows that break any rule and
counts, per rule and (region, level, department), the failures and the first keys
(:mod:`tongyuan.quality.breakdown`); that query is the metric every custom GX
expectation of the population reads (:mod:`tongyuan.quality.expectations`).

Every population selects ``record_key, region_code, level, department`` first: the key
an auditor drills down with (never a personal ID) and the three scorecard dimensions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from standards.validation.rules import RULES
from tongyuan.quality.sql import Dialect, quote

SUITES: tuple[str, ...] = ("completeness", "consistency", "rules", "timeliness", "integrity")
KEY_COLUMNS: tuple[str, ...] = ("record_key", "region_code", "level", "department")


@dataclass(frozen=True, slots=True)
class Derived:
    """Computed columns of a population, and the join (if any) they need.

    The run's rules read them; the count of records per group does not, and leaves them
    out (the database would compute them anyway: neither SQLite nor PostgreSQL drops an
    unused join to an aggregated subquery).
    """

    names: tuple[str, ...]
    select: str  # "expr AS name, …" for each name
    join: str = ""


@dataclass(frozen=True, slots=True)
class Population:
    """The rows a suite checks for one kind of record (a GX query asset)."""

    name: str
    kind: str
    columns: str  # the SELECT list, key columns first
    source: str  # FROM … (with the joins every row needs)
    where: str
    derived: tuple[Derived, ...] = ()
    # A population that is another's records less a few (``case_times``: the cases that
    # existed on the run's day) names it and the predicate of the records it leaves out.
    # Its records per group are then the other's counts less the left-out ones, so the
    # grouped count over every record is made once for both.
    narrows: Population | None = None
    left_out: str | None = None

    @property
    def counted_from(self) -> Population:
        """The population whose records per group this one's count starts from."""
        return self.narrows or self

    def left_out_records(self) -> Population:
        """The records of :attr:`narrows` this population leaves out (none if it narrows
        nothing)."""
        if self.narrows is None or self.left_out is None:
            raise ValueError(f"population {self.name} narrows no other")
        whole = self.narrows
        where = f"{whole.where} AND {self.left_out}"
        return Population(f"{self.name}.left_out", self.kind, whole.columns, whole.source, where)

    @property
    def sql(self) -> str:
        """The population with every column (what GX's query asset runs)."""
        return self.sql_for(None)

    def sql_for(self, conditions: list[str] | None) -> str:
        """The population with only the derived columns ``conditions`` mention (all if None)."""
        wanted = [
            d
            for d in self.derived
            if conditions is None
            or any(re.search(rf"\b{name}\b", c) for name in d.names for c in conditions)
        ]
        select = ", ".join([self.columns, *(d.select for d in wanted)])
        joins = "".join(f" {d.join}" for d in wanted if d.join)
        return f"SELECT {select} FROM {self.source}{joins} WHERE {self.where}"


@dataclass(frozen=True, slots=True)
class Check:
    """One rule over one population, run in the database as one GX expectation."""

    suite: str
    rule: str
    population: Population
    condition: str  # true for a failing row of the population
    expectation: str  # custom GX expectation class name
    # True for a record this rule cannot judge: left out of the rule's evaluated count
    # (an unknown deadline is neither on time nor late, so it must not raise the overdue
    # rule's pass rate). Counted per group in the population's failing query.
    unjudged: str | None = None

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


def region_level(column: str) -> str:
    """行使层级 of a node by its region code: province 2, city 3, county 4 (GB/T 2260)."""
    return (
        f"CASE WHEN substr({column}, 3, 4) = '0000' THEN '2' "
        f"WHEN substr({column}, 5, 2) = '00' THEN '3' ELSE '4' END"
    )
