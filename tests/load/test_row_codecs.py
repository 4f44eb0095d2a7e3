"""Prepared rows: one pass gives the driver's values and the ledger's digest text.

The codecs specialised for SQLite must agree with the column types' own bind processors
and with the ledger's digest of the row as stored, for every value, or a bulk load would
write rows (or ledger records) that differ from the one-by-one path.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import JSON
from sqlalchemy.dialects import sqlite

from tongyuan.ledger.digests import BY_TABLE
from tongyuan.loading_rows import RowShape, case_shapes

SQLITE = "sqlite:///:memory:"
_DIALECT = sqlite.dialect()

_zones = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3, minutes=-30))]
)
_datetimes = st.builds(
    lambda value, zone: value.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    _zones,
)
_text = st.text(st.characters(codec="utf-8"), max_size=30)
_maybe = st.none() | st.just("absent")


def _oracle(
    shape: RowShape, row: dict[str, Any], ids: tuple[int, ...]
) -> tuple[tuple[Any, ...], str]:
    """What the bulk path must produce: the bind processors' values, and the ledger's
    digest of the row as stored (JSON columns as their stored text)."""
    columns = {column.name: column for column in shape.table.columns}
    values = []
    for name in shape.prepared:
        value = row.get(name)
        process = columns[name].type._cached_bind_processor(_DIALECT)
        values.append(process(value) if value is not None and process else value)
    values = tuple(values)
    stored = dict(zip(shape.prepared, values, strict=True))
    as_read = {name: row.get(name) for name in shape.prepared}
    for column in shape.table.columns:
        if column.name in stored and isinstance(column.type, JSON):
            as_read[column.name] = stored[column.name]
    as_read.update(zip(shape.assigned, ids, strict=True))
    for name in shape.digest_order:
        as_read.setdefault(name, None)
    spec = BY_TABLE.get(shape.table.name)
    return values, spec.digest_of(as_read) if spec else ""


def _check(shape: RowShape, row: dict[str, Any], ids: tuple[int, ...]) -> None:
    row = {k: v for k, v in row.items() if v != "absent"}
    values, parts = shape.encode(row)
    expected_values, expected_digest = _oracle(shape, row, ids)
    assert values == expected_values
    assert shape.values(row) == expected_values
    assert shape.digest(parts, ids) == expected_digest


@settings(max_examples=300, deadline=None)
@given(
    at=_datetimes,
    seq=st.integers(min_value=0, max_value=10**12),
    state=_text,
    actor=_text | _maybe,
    note=_text | _maybe,
    ids=st.tuples(st.integers(1, 10**15), st.integers(1, 10**15)),
)
def test_event_rows_match_the_processors_and_the_ledger(at, seq, state, actor, note, ids):
    shape = case_shapes(SQLITE).event
    row = {"seq": seq, "state": state, "at": at, "actor": actor, "note": note, "batch_id": "b"}
    _check(shape, row, ids)


@settings(max_examples=200, deadline=None)
@given(
    accepted=_datetimes | st.none(),
    decided=_datetimes | st.none(),
    updated=_datetimes,
    deadline=st.dates() | st.none(),
    name=_text,
    data=st.dictionaries(_text, _text | st.integers() | st.none(), max_size=4),
    case_id=st.integers(1, 10**15),
)
def test_case_rows_match_the_processors_and_the_ledger(
    accepted, decided, updated, deadline, name, data, case_id
):
    shape = case_shapes(SQLITE).case
    row = {
        "serial": "S1", "source_system": "SYS", "dept_case_no": "N1", "impl_code": "I",
        "item_name": name, "applicant_name": name, "applicant_id_type": "111",
        "applicant_id_enc": "v1:x", "applicant_id_hash": "h", "applicant_id_masked": "m",
        "current_state": "3", "accepted_at": accepted, "decided_at": decided,
        "delivered_at": None, "promised_deadline": deadline, "region_code": None,
        "content_hash": "c", "batch_id": "b", "data": data, "updated_at": updated,
    }  # fmt: skip
    _check(shape, row, (case_id,))


class _Stamp(datetime):
    pass


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 5, 9, 0, 12, tzinfo=timezone(timedelta(hours=8))),
        datetime(2026, 1, 5, 9, 0, 12, 1),  # naive: hub time, with microseconds
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),  # a year of three digits
        _Stamp(2026, 1, 5, 1, 2, 3, tzinfo=UTC),  # a subclass: the generic processors decide
    ],
)
def test_unusual_values_take_the_exact_path(value):
    shape = case_shapes(SQLITE).event
    _check(shape, {"seq": 1, "state": "3", "at": value, "batch_id": "b"}, (1, 2))


@settings(max_examples=200, deadline=None)
@given(
    status=_text,
    overdue=st.booleans() | st.none(),
    limit=st.integers(0, 10**6) | st.none(),
    deadline=st.dates() | st.none(),
    received=_datetimes | st.none(),
)
def test_timeliness_values_match_the_processors(status, overdue, limit, deadline, received):
    shape = case_shapes(SQLITE).timeliness
    row = {
        "status": status, "overdue": overdue, "limit_days": limit, "deadline": deadline,
        "received_at": received, "as_of": deadline, "prereview_late": overdue,
    }  # fmt: skip
    expected_values, _ = _oracle(shape, row, (1,))
    assert shape.values(row) == expected_values


def test_prepared_columns_follow_the_digest_order():
    shapes = case_shapes(SQLITE)
    for shape in (shapes.case, shapes.event):
        digested = [n for n in shape.digest_order if n not in shape.assigned]
        assert list(shape.prepared[: len(digested)]) == digested
        assert set(shape.names) == {c.name for c in shape.table.columns}
