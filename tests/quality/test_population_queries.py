"""The queries a run sends per population: derived columns on demand, failing keys capped,
and event steps that follow ``seq`` order even across gaps — on both backends."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, Engine, text

from tongyuan.libraries.quality import FAILING_KEYS_CAP
from tongyuan.quality.breakdown import evaluated_by_group, failing_query
from tongyuan.quality.checks import Check, Derived, Population, SuiteContext
from tongyuan.quality.populations import event_steps
from tongyuan.quality.sql import Dialect


def _ctx(engine: Engine) -> SuiteContext:
    return SuiteContext(Dialect(engine.dialect.name), date(2026, 6, 30), "all", frozenset())


def test_derived_columns_are_joined_only_when_a_condition_reads_them() -> None:
    derived = Derived(("late",), "x.late AS late", "LEFT JOIN x ON x.id = t.id")
    population = Population("t", "case", "t.k AS record_key", "t", "1 = 1", (derived,))
    assert "LEFT JOIN x" in population.sql
    assert "LEFT JOIN x" in population.sql_for(["late = 1"])
    assert "LEFT JOIN x" not in population.sql_for(["lateness = 1", "k IS NULL"])
    assert population.sql_for([]) == "SELECT t.k AS record_key FROM t WHERE 1 = 1"


def _rows_table(connection: Connection) -> None:
    connection.execute(
        text(
            "CREATE TEMPORARY TABLE quality_rows (record_key VARCHAR(16), region_code "
            "VARCHAR(6), level VARCHAR(1), department VARCHAR(18), x INTEGER, y INTEGER)"
        )
    )
    rows = [(f"a{i:05d}", "440300", "3", "D1", 1, 0) for i in range(FAILING_KEYS_CAP + 5)]
    rows += [(f"b{i}", "440305", "4", None, 1, 1) for i in range(3)]
    rows += [(f"c{i}", "440305", "4", None, 0, 0) for i in range(2)]
    connection.execute(
        text("INSERT INTO quality_rows VALUES (:k, :r, :l, :d, :x, :y)"),
        [dict(zip("krldxy", row, strict=True)) for row in rows],
    )


def test_one_query_counts_every_rule_per_group_and_caps_the_keys(engine: Engine) -> None:
    population = Population(
        "rows",
        "case",
        "record_key, region_code, level, department, x, y",
        "quality_rows",
        "1 = 1",
    )
    checks = [
        Check("rules", "case_serial.format", population, "x = 1", "ExpectWellFormedValues"),
        Check("rules", "case.serial.mismatch", population, "y = 1", "ExpectWellFormedValues"),
    ]
    sql = failing_query(checks).format(batch=f"({population.sql}) AS subselect")
    with engine.connect() as connection:
        _rows_table(connection)
        found = connection.execute(text(sql)).all()
        evaluated = evaluated_by_group(connection, population)
    counts: dict[tuple[int, str], int] = {}
    keys: dict[tuple[int, str], list[str]] = {}
    for position, region, _level, _department, key, group_count in found:
        counts[(position, region)] = group_count
        keys.setdefault((position, region), []).append(key)
    assert counts == {(0, "440300"): FAILING_KEYS_CAP + 5, (0, "440305"): 3, (1, "440305"): 3}
    assert sorted(keys[(0, "440300")]) == [f"a{i:05d}" for i in range(FAILING_KEYS_CAP)]
    assert sorted(keys[(1, "440305")]) == ["b0", "b1", "b2"]
    assert evaluated == {("440300", "3", "D1"): FAILING_KEYS_CAP + 5, ("440305", "4", None): 5}


def test_event_steps_compare_each_event_with_the_previous_seq_even_across_gaps(
    engine: Engine,
) -> None:
    events = [
        # case 1: seqs 1, 3, 7 — legal (接件 → 受理 → 准予), times rising
        (1, 1, 1, "1", "2026-01-05 09:00:00"),
        (2, 1, 3, "3", "2026-01-05 10:00:00"),
        (3, 1, 7, "11", "2026-01-06 10:00:00"),
        # case 2: legal states, the decision timed before the acceptance
        (4, 2, 2, "3", "2026-01-05 10:00:00"),
        (5, 2, 5, "11", "2026-01-05 09:00:00"),
        # case 3: starts in a state no case starts in
        (6, 3, 1, "11", "2026-01-05 09:00:00"),
        # case 4: 接件 straight to 办结 (1 > 11 is not a transition), across a gap
        (7, 4, 1, "1", "2026-01-05 09:00:00"),
        (8, 4, 4, "11", "2026-01-05 10:00:00"),
    ]
    with engine.connect() as connection:
        connection.execute(
            text(
                "CREATE TEMPORARY TABLE case_events (id INTEGER, case_id INTEGER, "
                "seq INTEGER, state VARCHAR(4), at VARCHAR(32))"
            )
        )
        connection.execute(
            text("INSERT INTO case_events VALUES (:i, :c, :s, :st, :at)"),
            [dict(zip(("i", "c", "s", "st", "at"), e, strict=True)) for e in events],
        )
        found = connection.execute(text(event_steps(_ctx(engine)))).all()
    assert {int(r[0]): (int(r[1]), int(r[2])) for r in found} == {
        2: (0, 1),
        3: (1, 0),
        4: (1, 0),
    }
