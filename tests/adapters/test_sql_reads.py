"""The ``sql`` source reading a department database, on SQLite and on PostgreSQL.

Full reads map to valid Case records; incremental reads follow the composite
(updated_at, ID) cursor, so rows sharing the boundary timestamp are neither duplicated
nor lost — and a source comparing with ``>=``, the classic bug, is caught by the same test.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from sql_fixtures import (  # noqa: F401 - fixtures
    case_numbers,
    dept_url,
    harness,
    make_source,
    read_all,
)
from sqlalchemy import ColumnElement, Connection, bindparam

from adapters.builtin.sql import SqlSource
from adapters.builtin.sql_department import BAD_STATE_CODE, CLOCK_START, SOURCE_SYSTEM
from adapters.builtin.sql_harness import SqlHarness
from adapters.builtin.sql_query import ReadPlan
from standards.codes.enums import CaseState, IdType
from standards.records import Case
from standards.validation.record_checks import check_case

BOUNDARY = CLOCK_START.replace(month=6)


def test_full_read_maps_department_rows_to_valid_cases(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    keys = harness.add(30)
    source = make_source(dept_url)
    envelopes, state = read_all(source)
    assert [(SOURCE_SYSTEM, n) for n in case_numbers(envelopes)] == keys
    for position, env in enumerate(envelopes, start=1):
        assert env.ok, env.findings
        assert env.stream == "cases"
        assert env.location.file == "cases" and env.location.record == position
        case = env.record
        assert isinstance(case, Case)
        assert check_case(case) == []
        assert case.source_system == SOURCE_SYSTEM
        assert [e.state for e in case.events] == [
            CaseState.RECEIVED,
            CaseState.ACCEPTED,
            CaseState.PROCESSING,
            CaseState.DONE_APPROVED,
        ]
        assert case.accepted_at is not None and case.accepted_at.utcoffset() is not None
        assert case.decided_at == case.events[-1].at  # parsed from "2025年…日 …时…分"
        assert env.raw["CASE_NO"] == case.dept_case_no
        assert [e["SEQ"] for e in env.raw["events"]] == [0, 1, 2, 3]
    companies = [e.record for e in envelopes if e.record.applicant.id_type is IdType.USCC]  # type: ignore[union-attr]
    assert companies, "the harness mixes residents and companies"
    assert state == {"cursor": state["cursor"], "tiebreaker": 30}
    assert json.loads(json.dumps(state)) == state


def test_no_change_reads_nothing_and_keeps_the_state(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    harness.add(10)
    _, state = read_all(make_source(dept_url))
    envelopes, again = read_all(make_source(dept_url), json.loads(json.dumps(state)))
    assert envelopes == []
    assert again == state


def test_changed_rows_are_read_again_and_only_they(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    keys = harness.add(20)
    _, state = read_all(make_source(dept_url))
    changed = [keys[3], keys[11], keys[0]]
    harness.change(changed)
    envelopes, state2 = read_all(make_source(dept_url), state)
    assert sorted(case_numbers(envelopes)) == sorted(k[1] for k in changed)
    assert all(env.record.applicant.phone.startswith("0755") for env in envelopes)  # type: ignore[union-attr]
    new = harness.add(2)
    envelopes, _ = read_all(make_source(dept_url), state2)
    assert case_numbers(envelopes) == [k[1] for k in new]


def test_500_rows_on_one_timestamp_split_across_two_reads(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    """The first read stops in the middle of 500 rows sharing updated_at; nothing is
    duplicated or lost, and rows added later with that same timestamp are found too."""
    harness.add(5)
    keys = harness.add(500, cursor_value=BOUNDARY)
    source = make_source(dept_url, page_size=64)  # the boundary falls inside a page
    seen: list[str] = []
    with source.read("cases") as first:
        for env in first:
            seen += case_numbers([env])
            if len(seen) == 255:
                break
        state = first.state()
    assert state["cursor"].startswith("2025-06-02")
    rest, state = read_all(make_source(dept_url, page_size=64), json.loads(json.dumps(state)))
    seen += case_numbers(rest)
    expected = [k[1] for k in keys]
    assert len(seen) == len(set(seen)) == 505
    assert seen[5:] == expected
    later = harness.add(7, cursor_value=BOUNDARY)
    third, _ = read_all(make_source(dept_url), state)
    assert case_numbers(third) == [k[1] for k in later]


class _GreaterOrEqualPlan(ReadPlan):
    """The classic bug: resume at ``updated_at >= last`` and forget the tie-breaker."""

    __slots__ = ()

    def after(self, values: list[Any]) -> ColumnElement[bool]:
        column = self.order_columns[0]
        return column >= bindparam("after_0", values[0], type_=column.type)


class GreaterOrEqualSource(SqlSource):
    def plan(self, conn: Connection, stream: str) -> ReadPlan:
        plan = super().plan(conn, stream)
        return _GreaterOrEqualPlan(**{f.name: getattr(plan, f.name) for f in fields(plan)})


def _boundary_split(url: str, harness: SqlHarness, cls: type[SqlSource]) -> list[str]:  # noqa: F811
    harness.add(500, cursor_value=BOUNDARY)
    seen: list[str] = []
    with make_source(url, cls=cls).read("cases") as first:
        for env in first:
            seen += case_numbers([env])
            if len(seen) == 250:
                break
        state = first.state()
    rest, _ = read_all(make_source(url, cls=cls), state)
    return seen + case_numbers(rest)


def test_the_boundary_test_catches_a_greater_or_equal_cursor(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    broken = _boundary_split(dept_url, harness, GreaterOrEqualSource)
    assert len(set(broken)) == 500
    assert len(broken) == 750, "resuming at >= re-reads every row sharing the timestamp"
    harness.reset()
    assert sorted(_boundary_split(dept_url, harness, SqlSource)) == sorted(set(broken))


class SpelledOutCursorSource(SqlSource):
    """Reads as on a database without row values: ``c > :c OR (c = :c AND pk > :pk)``."""

    def plan(self, conn: Connection, stream: str) -> ReadPlan:
        plan = super().plan(conn, stream)
        plan.row_values = False
        return plan


def test_spelled_out_composite_cursor_is_as_exact(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    source = make_source(dept_url, cls=SpelledOutCursorSource)
    with source.engine.connect() as conn:
        spelled = str(source.plan(conn, "cases").after([BOUNDARY, 1]))
        row_value = str(SqlSource.plan(source, conn, "cases").after([BOUNDARY, 1]))
    if dept_url.startswith("sqlite"):
        # SQLite compares its normalisation of the stored text, after a coarse range
        # on the bare column an index serves
        at = "strftime('%Y-%m-%d %H:%M:%f', cases.updated_at)"
        at_b = "strftime('%Y-%m-%d %H:%M:%f', :after_0)"
        floor = "cases.updated_at >= :after_floor AND "
        assert spelled == f'{floor}({at} > {at_b} OR {at} = {at_b} AND cases."ID" > :after_1)'
        assert row_value == f'{floor}({at}, cases."ID") > ({at_b}, :after_1)'
    else:
        assert spelled == (
            'cases.updated_at > :after_0 OR cases.updated_at = :after_0 AND cases."ID" > :after_1'
        )
        assert row_value == '(cases.updated_at, cases."ID") > (:after_0, :after_1)'
    split = _boundary_split(dept_url, harness, SpelledOutCursorSource)
    assert len(split) == len(set(split)) == 500


def test_unmappable_row_is_yielded_with_findings_not_dropped(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    keys = harness.add(4, bad=2)
    envelopes, state = read_all(make_source(dept_url))
    assert len(envelopes) == 6
    bad = [env for env in envelopes if not env.ok]
    assert len(bad) == 2
    for env in bad:
        assert env.record is None
        (finding,) = env.findings
        assert finding.rule == "mapping.code"
        assert finding.field == "events.3.state"
        assert repr(BAD_STATE_CODE) in finding.message and "ZT" in finding.message
        assert env.raw["events"][-1]["ZT"] == BAD_STATE_CODE
        assert env.location.record in (2, 3, 4, 5)
    assert [(SOURCE_SYSTEM, n) for n in case_numbers(envelopes)] == keys
    assert state["tiebreaker"] == 6  # the state moves past bad rows: the hub quarantines them


def test_monotonic_id_cursor_without_timestamp(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    harness.add(3)
    source = make_source(dept_url, cursor="ID", tiebreaker=None)
    _, state = read_all(source)
    assert state == {"cursor": 3, "tiebreaker": 3}
    new = harness.add(2)
    envelopes, state = read_all(make_source(dept_url, cursor="ID"), state)
    assert case_numbers(envelopes) == [k[1] for k in new]
    assert state == {"cursor": 5, "tiebreaker": 5}


def test_stream_spec_and_reads_are_iterated_once(dept_url: str, harness: SqlHarness) -> None:  # noqa: F811
    source = make_source(dept_url)
    spec = source.stream("cases")
    assert (spec.kind, spec.primary_key, spec.cursor_field) == (
        "case",
        ("source_system", "dept_case_no"),
        "updated_at",
    )
    harness.add(1)
    stream_read = source.read("cases")
    assert len(list(stream_read)) == 1
    try:
        iter(stream_read)
    except Exception as exc:
        assert "iterated once" in str(exc)
    else:
        raise AssertionError("a second iteration must be refused")
    stream_read.close()
