"""Lone surrogate escapes in JSON (``"\\udcb0"``, which json.loads accepts): that row alone
is a mapping.encoding finding naming file, line and field, the rest of the batch goes
on, and what is quarantined can be stored. Before, the quarantine writer's UTF-8 encode
failed the whole pull with a bare UnicodeEncodeError, the file was never acknowledged,
and every later run failed the same way.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from httpdept import DeptApi, Fault, http_config, secrets_for
from sqlalchemy import select
from std_factories import make_case
from typer.testing import CliRunner

from adapters.builtin.http import HttpSource
from adapters.payloads import PayloadProblem, iter_json_rows
from standards.records import SourceLocation
from standards.surrogates import escape_surrogates, first_surrogate
from standards.validation import Finding
from tongyuan.cli import app
from tongyuan.config import load_settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.quarantine import QuarantineEntry, add_quarantined, quarantined_payload

runner = CliRunner()

ROW = {
    "BJBH": "BJ800000000001",
    "SXBM": "11440300MB2D7543XP3000120002000",
    "SQRMC": "李芳",
    "SLSJ": "2025-03-03 09:22:00",
}


def _line(**over: str) -> str:
    return json.dumps({**ROW, **over}) + "\n"  # ASCII: how a surrogate arrives, escaped


def _jsonl(path: Path, *lines: str) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_a_lone_surrogate_in_a_value_is_that_row_s_problem(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "cases.jsonl",
        _line(),
        _line(BJBH="BJ2", SQRMC="\udcb0李"),
        _line(BJBH="BJ3", EXTRA="\ud800"),  # an unmapped column: the same
        _line(BJBH="BJ4", SQRMC="😀"),  # a surrogate *pair* is one character: fine
    )
    rows = list(iter_json_rows(path))
    assert [type(row).__name__ for row, _ in rows] == ["dict", "PayloadProblem", "PayloadProblem",
                                                       "dict"]  # fmt: skip
    second, where = rows[1]
    assert isinstance(second, PayloadProblem)
    assert (second.rule, second.field, where.line) == ("mapping.encoding", "SQRMC", 2)
    assert f"{path}, line 2: field SQRMC holds U+DCB0, a lone surrogate" in second.message
    assert second.raw["_raw_text"].encode("utf-8")  # storable: the escape as it was sent
    third = rows[2][0]
    assert isinstance(third, PayloadProblem) and third.field == "EXTRA"
    assert "U+D800" in third.message
    assert rows[3][0]["SQRMC"] == "😀"


def test_a_lone_surrogate_in_a_key_is_named(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "cases.jsonl", '{"BJBH": "1", "SQ\\udcb0": {"a": "x"}}\n')
    ((problem, _),) = list(iter_json_rows(path))
    assert isinstance(problem, PayloadProblem) and problem.field == "SQ\\udcb0"


def test_an_array_entry_with_a_surrogate_is_a_problem_with_an_escaped_payload() -> None:
    document = json.dumps({"data": [ROW, {**ROW, "SQRMC": "\udcb0"}]}).encode()
    rows = list(iter_json_rows(document, records_path="data", source="page"))
    assert rows[0][0] == ROW
    problem = rows[1][0]
    assert isinstance(problem, PayloadProblem)
    assert problem.field == "SQRMC" and "page, data[1]" in problem.message
    assert problem.raw["SQRMC"] == "\\udcb0"


def test_helpers_find_and_escape_at_any_depth() -> None:
    value = {"a": [{"b": "ok"}, {"c": "x\udcb0"}], "d": "fine"}
    assert first_surrogate(value) == ("a.1.c", "\udcb0")
    assert escape_surrogates(value) == {"a": [{"b": "ok"}, {"c": "x\\udcb0"}], "d": "fine"}
    assert first_surrogate({"a": "b"}) is None


MAPPING = """
kind: case
fields:
  source_system: {const: HEALTH-FILES}
  dept_case_no: {from: BJBH}
  impl_code: {from: SXBM}
  applicant.name: {from: SQRMC}
  applicant.id_type: {const: "111"}
  applicant.id_number: {const: "11010519491231002X"}
  accepted_at: {from: SLSJ, datetime: "%Y-%m-%d %H:%M:%S"}
  events:
    from_columns:
      - {state: "1", at: {from: SLSJ, datetime: "%Y-%m-%d %H:%M:%S"}}
"""


def _entries() -> list[QuarantineEntry]:
    engine = make_engine(load_settings().database_url)
    try:
        with make_session_factory(engine)() as s:
            return list(s.scalars(select(QuarantineEntry).order_by(QuarantineEntry.id)))
    finally:
        engine.dispose()


def test_pull_quarantines_the_row_and_stores_the_rest(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    _jsonl(drop / "cases_1.jsonl", _line(), _line(BJBH="BJ2", SQRMC="\udcb0李"),
           _line(BJBH="BJ3", EXTRA="\ud800"))  # fmt: skip
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    config = tmp_path / "cfg.yaml"
    config.write_text(
        textwrap.dedent(f"""
        path: {drop}
        settle_seconds: 0
        streams:
          cases: {{patterns: ["cases_*.jsonl"], mapping: m.yaml}}
        """),
        encoding="utf-8",
    )
    args = ["pull", "files", "--config", str(config), "--stream", "cases", "--name", "h"]
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert (drop / "done" / "cases_1.jsonl").exists()  # acknowledged: the next run goes on
    encoding = [e for e in _entries() if e.rule == "mapping.encoding"]
    assert [(e.record_index, e.line, e.rules[0]["field"]) for e in encoding] == [
        (2, 2, "SQRMC"),
        (3, 3, "EXTRA"),
    ]
    assert all(e.source_file == f"{drop}/cases_1.jsonl" for e in encoding)
    # the first row went its ordinary way (stored, or quarantined for its own rules)
    assert all(e.record_index == 1 for e in _entries() if e.rule != "mapping.encoding")


@pytest.fixture
def api() -> Iterator[DeptApi]:
    with DeptApi() as running:
        yield running


def test_http_object_with_a_surrogate_is_quarantined_not_fatal(api: DeptApi) -> None:
    good = api.table.add(2)
    broken = {**good[1], "ywbh": "SZSC-SUR", "sqr": {**good[1]["sqr"], "mc": "\udcb0"}}
    page = {"code": 0, "data": {"list": [good[0], broken]}, "next_cursor": None}
    api.inject(Fault("body", body=json.dumps(page).encode()))
    src = HttpSource.from_config(
        http_config(api, {"pagination": {"style": "cursor", "page_size": 10}}),
        secrets=secrets_for(api),
    )
    with src.read("cases", None) as read:
        envelopes = list(read)
    assert envelopes[0].ok
    assert envelopes[1].record is None
    (finding,) = envelopes[1].findings
    assert (finding.rule, finding.field) == ("mapping.encoding", "sqr.mc")
    assert "item 2 of page 1: field sqr.mc holds U+DCB0" in finding.message
    assert envelopes[1].raw["sqr"]["mc"] == "\\udcb0"


def test_the_quarantine_stores_what_no_reader_checked(session, protector) -> None:
    """A hand-written source's row or a standard-form payload: escaped, and said so."""
    from tongyuan.libraries.batches import open_batch

    batch = open_batch(session, "pull", "rogue/cases", meta={})
    entry_id = add_quarantined(
        session,
        batch.id,
        kind="case",
        location=SourceLocation("f\udcb0.csv", 4, 5),
        payload={"SQRMC": "\udcb0\udcec李", **make_case().model_dump(mode="json")},
        findings=[Finding("schema.xml_char", "item_name: holds U+DCFF", "item_name")],
        protector=protector,
    )
    session.flush()
    entry = session.get(QuarantineEntry, entry_id)
    assert entry.source_file == "f\\udcb0.csv"
    assert quarantined_payload(entry, protector=protector)["SQRMC"] == "\\udcb0\\udcec李"
    added = entry.rules[-1]
    assert (added["rule"], added["field"]) == ("mapping.encoding", "SQRMC")
    assert "f\\udcb0.csv, record 4: SQRMC holds U+DCB0" in added["message"]


@pytest.mark.parametrize(
    ("document", "records_path", "where", "raw"),
    [
        (b'[{"a":1}, "\\udcb0"]', "", "[1] is a string", '"\\udcb0"'),
        (b'{"d":[{"a":1}, ["x\\ud800\xe6\x9d\x8e"]]}', "d", "d[1] is an array", '["x\\ud800李"]'),
    ],
)
def test_an_array_entry_that_is_no_object_with_a_surrogate_is_its_own_problem(
    document: bytes, records_path: str, where: str, raw: str
) -> None:
    """Before, encoding the entry's text raised UnicodeEncodeError for the whole page."""
    rows = list(iter_json_rows(document, records_path=records_path, source="page"))
    assert rows[0][0] == {"a": 1}
    problem = rows[1][0]
    assert isinstance(problem, PayloadProblem) and problem.rule == "payload.malformed"
    assert f"page: {where}, not an object; it also holds U+D" in problem.message
    assert problem.raw["_raw_text"] == raw  # the escape as it was sent; storable
    parsed = json.loads(document)
    assert json.loads(problem.raw["_raw_text"]) == (parsed[records_path] if records_path
                                                    else parsed)[1]  # fmt: skip


def test_an_escaped_key_beside_the_key_it_spells_keeps_both_values() -> None:
    """``"\\udcb0"`` escaped is the six characters of the other key: before, one value
    overwrote the other in the stored payload without a word."""
    renamed: list[tuple[str, str]] = []
    kept = escape_surrogates({"\udcb0": 1, "\\udcb0": 2}, renamed)
    assert kept == {"\\udcb0 (lone surrogate)": 1, "\\udcb0": 2}
    assert renamed == [("\\udcb0", "\\udcb0 (lone surrogate)")]
    nested = escape_surrogates([{"a": {"\\udcb0": 2, "\udcb0": 1, "\\udcb0 (lone surrogate)": 3}}])
    assert nested == [{"a": {"\\udcb0": 2, "\\udcb0 (lone surrogate 2)": 1,
                             "\\udcb0 (lone surrogate)": 3}}]  # fmt: skip

    ((problem, _),) = list(iter_json_rows(b'[{"\\udcb0":1, "\\\\udcb0":2}]', records_path=""))
    assert isinstance(problem, PayloadProblem) and problem.rule == "mapping.encoding"
    assert problem.raw == {"\\udcb0 (lone surrogate)": 1, "\\udcb0": 2}
    assert 'key \\udcb0 is kept as "\\udcb0 (lone surrogate)"' in problem.message
