"""The SQL building blocks of the suites, on both backends, and what the history stores."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, text

from tongyuan.libraries.quality import FAILING_KEYS_CAP
from tongyuan.quality.checks import SuiteContext, region_prefix
from tongyuan.quality.history import masked_keys, pass_rate
from tongyuan.quality.runner import QualityRunSummary, RuleSummary, resolve_suites
from tongyuan.quality.sql import Dialect, in_list, quote

VALID_USCC = ("91110000600037341L", "91110108551385082Q", "91350100M000100Y43")
INVALID_USCC = (
    "91110000600037341M",  # wrong check character
    "91350211M0000XUF46",  # registered, but fails its check (DESIGN §3)
    "9111000060003734",  # too short
    "91110000600037341LX",  # too long
    "9111000060003734IL",  # I is not in the set
)


def _value(engine: Engine, expression: str, code: str) -> object:
    with engine.connect() as connection:
        return connection.execute(
            text(f"SELECT CASE WHEN {expression} THEN 1 ELSE 0 END FROM (SELECT :c AS code) t"),
            {"c": code},
        ).scalar_one()


def test_uscc_check_runs_in_the_database(engine: Engine) -> None:
    expression = Dialect(engine.dialect.name).uscc_invalid("code")
    assert [_value(engine, expression, c) for c in VALID_USCC] == [0, 0, 0]
    assert [_value(engine, expression, c) for c in INVALID_USCC] == [1] * len(INVALID_USCC)


def test_non_digit_test_and_json_members(engine: Engine) -> None:
    d = Dialect(engine.dialect.name)
    assert _value(engine, d.has_non_digit("code"), "20260105001A") == 1
    assert _value(engine, d.has_non_digit("code"), "202601050012") == 0
    with pytest.raises(ValueError, match="JSON member"):
        d.json_text("data", "name') OR 1=1 --")
    with pytest.raises(ValueError, match="identifier"):
        d.json_text("data; DROP TABLE cases", "name")


def test_happened_by_a_day_is_the_hub_local_day_of_the_stored_time(engine: Engine) -> None:
    """The timeliness rules compare stored UTC times with one literal (the end of the
    Beijing day) instead of a date function per row; it must agree with the hub's local
    day (``local_date``) at every edge, on both backends. (SQLite's ``date(at, '+8
    hours')`` rounds 23:59:59.999999 up to the next day: the literal does not.)"""
    from sqlalchemy import Column, Integer, MetaData, Table, insert

    from tongyuan.libraries.base import UtcDateTime, local_date

    table = Table(
        "happened_probe",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", UtcDateTime),
    )
    table.create(engine)
    try:
        times = [
            datetime(2026, 6, 30, 15, 59, 59, 999999, tzinfo=UTC),  # 23:59:59.999999 local
            datetime(2026, 6, 30, 16, 0, tzinfo=UTC),  # midnight local: the next day
            datetime(2026, 6, 29, 16, 0, tzinfo=UTC),  # the day's first instant
            datetime(2026, 6, 29, 15, 59, 59, tzinfo=UTC),
            datetime(2026, 7, 1, 3, 0, tzinfo=UTC),
            None,
        ]
        day = date(2026, 6, 30)
        d = Dialect(engine.dialect.name)
        by, local_day = d.happened_by("at", day), d.local_day_of("at")
        with engine.begin() as connection:
            connection.execute(insert(table), [{"id": i, "at": at} for i, at in enumerate(times)])
            rows = connection.execute(
                text(
                    f"SELECT CASE WHEN {by} THEN 1 ELSE 0 END, {local_day} "
                    "FROM happened_probe ORDER BY id"
                )
            ).all()
        expected = [int(at is not None and local_date(at) <= day) for at in times]
        assert [r[0] for r in rows] == expected == [1, 0, 1, 1, 0, 0]
        # The local day the rules compare with deadlines agrees too (as text on SQLite).
        days = [None if r[1] is None else str(r[1]) for r in rows]
        assert days == [None if at is None else local_date(at).isoformat() for at in times]
    finally:
        table.drop(engine)


def test_dialects_and_literals() -> None:
    with pytest.raises(ValueError, match="sqlite or postgresql"):
        Dialect("mysql")
    assert quote("O'Brien") == "'O''Brien'"
    assert in_list([]) == "(NULL)"
    assert in_list(["1", "3"]) == "('1', '3')"


def test_scope_is_a_region_and_everything_under_it() -> None:
    assert region_prefix("440000") == "44"
    assert region_prefix("440300") == "4403"
    assert region_prefix("440305") == "440305"
    with pytest.raises(ValueError, match="6-digit region code"):
        region_prefix("4403")
    ctx = SuiteContext(Dialect("sqlite"), as_of=None, scope="440300", tables=frozenset())  # type: ignore[arg-type]
    assert ctx.in_scope("c.region_code") == "c.region_code LIKE '4403%'"


def test_unknown_suites_are_named() -> None:
    assert resolve_suites(None) == [
        "completeness",
        "consistency",
        "rules",
        "timeliness",
        "integrity",
    ]
    assert resolve_suites(["integrity", "rules"]) == ["rules", "integrity"]
    with pytest.raises(ValueError, match=r"unknown quality suite.*nonsense"):
        resolve_suites(["nonsense"])


def test_failing_keys_are_masked_and_capped() -> None:
    keys = masked_keys(["11010519491231002X", *[f"k{i}" for i in range(2 * FAILING_KEYS_CAP)]])
    assert keys[0] == "1101**********002X"
    assert len(keys) == FAILING_KEYS_CAP
    assert pass_rate(0, 0) == 1.0 and pass_rate(4, 1) == 0.75


def test_the_json_pass_rate_never_rounds_to_one_with_a_failure_or_to_zero_with_a_pass() -> None:
    """One failure in three million rounds to 1.0 at six decimals: the JSON gives the exact
    ratio then, as the report never shows 100.0 % with failures."""
    rules = [
        RuleSummary("timeliness", "case.overdue", "t", "case", 3_000_000, 1),
        RuleSummary("timeliness", "claim.overdue", "t", "claim", 3_000_000, 2_999_999),
        RuleSummary("timeliness", "review.overdue", "t", "review", 8, 2),
    ]
    now = datetime(2026, 6, 30, tzinfo=UTC)
    summary = QualityRunSummary(
        "r", "failed", ["timeliness"], "all", date(2026, 6, 30), now, now, None, rules
    )
    rates = [r["pass_rate"] for r in summary.to_dict()["rules"]]
    assert 0.999999 < rates[0] < 1.0
    assert 0.0 < rates[1] < 0.000001
    assert rates[2] == 0.75


def test_a_narrowed_population_counts_the_whole_less_what_it_leaves_out() -> None:
    """case_times' records per group are the cases' less those without an event by the
    day, both from one count; a group left with none is not a group at all (no 0-record
    row, no rate)."""
    from concurrent.futures import Future

    from tongyuan.quality.runner import _results

    counted: Future[dict] = Future()
    counted.set_result(
        {
            None: {("440300", "2", "X"): 3, ("440303", "3", "Y"): 1},
            "case_times": {("440300", "2", "X"): 1, ("440303", "3", "Y"): 1},
        }
    )
    assert _results({"case_times": (counted, "case_times"), "cases": (counted, None)}) == {
        "case_times": {("440300", "2", "X"): 2},
        "cases": {("440300", "2", "X"): 3, ("440303", "3", "Y"): 1},
    }


def test_the_whole_and_what_a_narrowing_leaves_out_are_counted_in_one_snapshot(
    engine: Engine, db_url: str
) -> None:
    """The two counts came from two connections: a case committed between them was
    subtracted without having been counted. Now one read transaction holds both."""
    from tongyuan.quality.checks import Population
    from tongyuan.quality.runner import _evaluated

    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE snap_probe (k INTEGER, old INTEGER)"))
        connection.execute(text("INSERT INTO snap_probe VALUES (1, 1), (2, 0)"))
    columns = "k AS record_key, 'r' AS region_code, '1' AS level, 'd' AS department"
    whole = Population("whole", "case", columns, "snap_probe", "1 = 1")
    narrowed = Population(
        "narrowed", "case", columns, "snap_probe", "old = 0", narrows=whole, left_out="old = 1"
    )
    writes = 0
    import tongyuan.quality.breakdown as breakdown

    real = breakdown_evaluated = breakdown.evaluated_by_group

    def count_then_write(connection, population):  # type: ignore[no-untyped-def]
        nonlocal writes
        result = real(connection, population)
        if writes == 0:  # another writer commits a left-out row between the two counts
            writes += 1
            with engine.begin() as other:
                other.execute(text("INSERT INTO snap_probe VALUES (3, 1)"))
        return result

    from tongyuan.db import make_engine

    reader = make_engine(db_url, sqlite_begin="DEFERRED")  # as the runner reads
    try:
        breakdown.evaluated_by_group = count_then_write  # type: ignore[assignment]
        counts = _evaluated(reader, whole, (narrowed,))
    finally:
        reader.dispose()
        breakdown.evaluated_by_group = breakdown_evaluated  # type: ignore[assignment]
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE snap_probe"))
    assert counts == {None: {("r", "1", "d"): 2}, "narrowed": {("r", "1", "d"): 1}}


def test_a_run_stores_the_day_it_judged_timeliness_as_of(engine: Engine) -> None:
    """The report counts working days late as of this day (``--as-of``), not the start."""
    from sqlalchemy.orm import Session

    from tongyuan.libraries.quality import QualityRun
    from tongyuan.quality.history import start_run

    run = start_run(engine, suites=["timeliness"], scope="all", as_of=date(2025, 10, 13))
    with Session(engine) as session:
        stored = session.get(QualityRun, run.id)
        assert stored is not None and stored.as_of == date(2025, 10, 13)
