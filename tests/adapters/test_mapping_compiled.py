"""The compiled mapping (one generated function) against the per-field closures it replaces.

The closures are the reference: on random rows — valid, empty, absent, wrongly typed,
nested wrongly — both must build the same data and the same findings (rule, message,
field path). Hostile column names must stay data: nothing in a mapping becomes code.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.builtin.sql_department import DEPARTMENT_MAPPING
from adapters.mapping import Mapping
from standards.records import SourceLocation

LOC = SourceLocation("dept.rows", 3)

# Every option the engine has: transforms of each kind, code tables with a type, dates,
# dotted paths, defaults, split, child rows as records and as plain values, from_columns.
WIDE_MAPPING: dict[str, Any] = {
    "kind": "case",
    "timezone": "Asia/Shanghai",
    "code_tables": {
        "states": {"01": "1", "02": "3", "09": "11", "99": None},
        "id_types": {"SFZ": "111", "QY": "001"},
    },
    "fields": {
        "source_system": "SZ-TEST",
        "dept_case_no": {"from": "NO", "transforms": ["trim", "halfwidth", "upper"]},
        "impl_code": {"from": "IMPL", "transforms": ["strip_separators", "lower"]},
        "item_name": {"from": "item.name", "transforms": ["none_if_empty"], "default": "无"},
        "applicant.name": {"from": "NAME", "transforms": ["trim"]},
        "applicant.id_type": {"from": "KIND", "code_table": "id_types"},
        "applicant.id_number": {"from": "IDNO", "transforms": ["trim", "strip_separators"]},
        "applicant.phone": {"from": "PHONE", "type": "str", "default": None},
        "accepted_at": {"from": "ACC", "datetime": ["%Y-%m-%d %H:%M:%S", "%Y年%m月%d日 %H时%M分"]},
        "decided_at": {"from": "DEC"},
        "promised_limit_days": {"from": "DAYS", "type": "int", "default": None},
        "promised_deadline": {"from": "DUE", "date": ["%Y年%m月%d日", "iso"]},
        "region_code": {"from": "REGION"},
        "material_ids": {"from": "MATS", "split": ","},
        "events": {
            "rows": "events",
            "fields": {
                "state": {"from": "ZT", "code_table": "states"},
                "at": {"from": "SJ", "datetime": "%Y/%m/%d %H:%M"},
                "actor": {"from": "BLR", "transforms": ["trim", "none_if_empty"]},
                "note": {"from": "YJ", "default": "—"},
            },
        },
    },
}

COLUMNS_MAPPING: dict[str, Any] = {
    "kind": "case",
    "fields": {
        "source_system": {"const": "X"},
        "dept_case_no": {"from": "NO"},
        "impl_code": {"from": "IMPL"},
        "applicant.name": {"from": "NAME"},
        "applicant.id_type": "111",
        "applicant.id_number": {"from": "IDNO"},
        "events": {
            "from_columns": [
                {"state": "1", "at": {"from": "T1"}},
                {"state": {"from": "S2", "type": "str"}, "at": {"from": "T2"}},
            ]
        },
        "material_ids": {"rows": "mats", "value": {"from": "ID", "transforms": ["upper"]}},
    },
}

_scalars = st.one_of(
    st.none(),
    st.sampled_from(["", "  ", "\u3000", "01", "02", "09", "99", "7", "SFZ", "QY", "abc"]),
    st.sampled_from(["2026-03-02 09:30:00", "2026年3月2日 9时30分", "2026/03/02 09:30"]),
    st.sampled_from(["２０２６年３月２日", "2026-02-30", "1101 0519-4912", "Ａ１,b2,,c3"]),
    st.text(max_size=8),
    st.integers(-3, 40),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    st.dates(min_value=date(1990, 1, 1)),
    st.just(Decimal("1E+2")),
)
_values = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=2),
    st.dictionaries(st.sampled_from(["name", "x"]), _scalars, max_size=2),
)
_child = st.one_of(
    st.dictionaries(st.sampled_from(["ZT", "SJ", "BLR", "YJ", "ID", "x"]), _values, max_size=5),
    _scalars,
)
_children = st.one_of(
    st.lists(_child, max_size=3),
    st.none(),
    st.just(""),
    st.dictionaries(st.sampled_from(["ZT", "SJ"]), _scalars, max_size=2),
    _scalars,
    st.tuples(_child),
)


def _rows(columns: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(
        st.sampled_from(columns), _values, max_size=len(columns)
    ) | st.fixed_dictionaries({c: _values for c in columns})


def _same(mapping: Mapping, row: dict[str, Any]) -> None:
    compiled = mapping.build(row)
    reference = mapping.build(row, reference=True)
    assert compiled == reference
    assert mapping.map(row, LOC) == _reference_map(mapping, row)


def _reference_map(mapping: Mapping, row: dict[str, Any]) -> Any:
    """map() as it was written against the closures: build, then to_record."""
    from standards.formats.convert import to_record
    from standards.formats.raw import RawRecord

    data, findings = mapping.build(row, reference=True)
    if findings:
        return None, findings
    record, problems = to_record(RawRecord(mapping.kind, LOC, data))
    return record, [mapping._with_source(f, row) for f in problems]


WIDE = Mapping.from_dict(WIDE_MAPPING)
COLUMNS = Mapping.from_dict(COLUMNS_MAPPING)
DEPARTMENT = Mapping.from_dict(DEPARTMENT_MAPPING)
WIDE_COLUMNS = [
    "NO", "IMPL", "item", "NAME", "KIND", "IDNO", "PHONE", "ACC", "DEC", "DAYS", "DUE",
    "REGION", "MATS",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(row=_rows(WIDE_COLUMNS), events=_children, has_events=st.booleans())
def test_compiled_equals_reference_on_random_rows(
    row: dict[str, Any], events: Any, has_events: bool
) -> None:
    if has_events:
        row["events"] = events
    _same(WIDE, row)


@settings(max_examples=150, deadline=None)
@given(
    row=_rows(["NO", "IMPL", "NAME", "IDNO", "T1", "T2", "S2"]),
    mats=_children,
    has_mats=st.booleans(),
)
def test_compiled_equals_reference_for_from_columns_and_value_lists(
    row: dict[str, Any], mats: Any, has_mats: bool
) -> None:
    if has_mats:
        row["mats"] = mats
    _same(COLUMNS, row)


@settings(max_examples=150, deadline=None)
@given(
    row=_rows(["CASE_NO", "ITEM_CODE", "ITEM_NAME", "SQR_MC", "SQR_ZJLX", "SQR_ZJHM", "SLSJ"]),
    events=st.lists(
        st.fixed_dictionaries(
            {"ZT": st.sampled_from(["01", "02", "09", "77", None]), "SJ": _scalars}
        ),
        max_size=3,
    ),
)
def test_compiled_equals_reference_on_department_rows(
    row: dict[str, Any], events: list[dict[str, Any]]
) -> None:
    row["events"] = events
    _same(DEPARTMENT, row)


def test_a_valid_department_row_maps_to_the_same_case_both_ways() -> None:
    row = {
        "CASE_NO": " SZSC000000000001 ",
        "ITEM_CODE": "11440300mb2d7543xp3000120002000",
        "ITEM_NAME": "药品零售企业许可",
        "SQR_MC": "高志强",
        "SQR_ZJLX": "SFZ",
        "SQR_ZJHM": "440305196403179162",
        "SQR_DH": 13000007919,
        "SLSJ": "2025-03-03 09:19:00",
        "BJSJ": None,
        "CNSX": 15,
        "XZQH": "440305",
        "events": [
            {"ZT": "01", "SJ": datetime(2025, 3, 3, 9, 7), "BLR": "综合窗口", "YJ": None},
            {"ZT": "02", "SJ": datetime(2025, 3, 3, 9, 19), "BLR": "登记注册科", "YJ": ""},
        ],
    }
    record, findings = DEPARTMENT.map(row, LOC)
    assert findings == []
    assert record is not None
    assert record.impl_code == "11440300MB2D7543XP3000120002000"
    assert record.applicant.phone == "13000007919"
    assert [e.at.utcoffset().total_seconds() for e in record.events] == [28800, 28800]  # type: ignore[union-attr]
    assert _reference_map(DEPARTMENT, row) == (record, [])


HOSTILE = [
    "x'] = 1; import os; os.environ['TONGYUAN_PWNED'] = '1' #",
    "'''",
    '"""',
    "\\",
    "a\nb = 1",
    "{0}",
    "') or __import__('os').environ.setdefault('TONGYUAN_PWNED', '1') or ('",
    "k0",
    "row",
]


def test_hostile_column_and_row_names_are_only_data(monkeypatch: Any) -> None:
    monkeypatch.delenv("TONGYUAN_PWNED", raising=False)
    a, b, c, d, e, f, g, h, rows = HOSTILE
    mapping = Mapping.from_dict(
        {
            "kind": "case",
            "code_tables": {"'; raise SystemExit #": {"01": "1"}},
            "fields": {
                "source_system": {"const": "'); raise SystemExit('x') #"},
                "dept_case_no": {"from": a, "transforms": ["trim"]},
                "impl_code": {"from": b, "default": "\\'\"", "type": "str"},
                "item_name": {"from": c},
                "applicant.name": {"from": d},
                "applicant.id_type": {"from": e, "default": "111"},
                "applicant.id_number": {"from": f},
                "region_code": {"from": g},
                "events": {
                    "rows": rows,
                    "fields": {
                        "state": {"from": h, "code_table": "'; raise SystemExit #"},
                        "at": {"from": "row"},
                    },
                },
            },
        }
    )
    row = {
        a: " 编号1 ",
        c: "事项",
        d: "张三",
        f: "440305196403179162",
        g: "440305",
        rows: [{h: "01", "row": "2026-03-02T09:30:00"}],
    }
    record, findings = mapping.map(row, LOC)
    assert findings == []
    assert record is not None
    assert record.dept_case_no == "编号1"
    assert record.impl_code == "\\'\""
    assert record.source_system == "'); raise SystemExit('x') #"
    assert record.events[0].state.value == "1"
    assert mapping.build(row) == mapping.build(row, reference=True)
    # an absent hostile column is reported under its name, exactly as the closures do
    del row[c], row[f]
    assert mapping.build(row) == mapping.build(row, reference=True)
    import os

    assert "TONGYUAN_PWNED" not in os.environ
    for name in HOSTILE:  # the generated source holds the names only as literals
        assert repr(name) in (mapping._compiled.__doc__ or "")


def test_a_truncated_compact_date_is_a_finding_both_ways() -> None:
    """``%Y%m%d`` reads 2025031 as nothing (not 2025-03-01) in the compiled function and in
    the reference closures alike, and the finding quotes the value and the format."""
    mapping = Mapping.from_dict(
        {
            "kind": "case",
            "fields": {
                "source_system": "X",
                "dept_case_no": {"from": "NO"},
                "impl_code": {"from": "IMPL"},
                "applicant.name": {"from": "NAME"},
                "applicant.id_type": "111",
                "applicant.id_number": {"from": "IDNO"},
                "promised_deadline": {"from": "CNRQ", "date": "%Y%m%d"},
                "events": {"from_columns": [{"state": "1", "at": {"from": "T1"}}]},
            },
        }
    )
    row = {"NO": "A", "IMPL": "I", "NAME": "N", "IDNO": "1", "T1": "2025-03-01T09:00:00"}
    for value in ("2025031", "202531", "2025111"):
        compiled = mapping.build({**row, "CNRQ": value})
        assert compiled == mapping.build({**row, "CNRQ": value}, reference=True)
        assert [(f.rule, f.field, f.message) for f in compiled[1]] == [
            (
                "mapping.date",
                "promised_deadline",
                f"CNRQ: '{value}' matches none of the formats '%Y%m%d'",
            )
        ]
    data, findings = mapping.build({**row, "CNRQ": "20250331"})
    assert findings == [] and data["promised_deadline"] == date(2025, 3, 31)
