"""A department's CSV export and its mapping (broken, then fixed), for the quarantine tests.

A module of its own, not the conftest: ``from conftest import`` finds whichever conftest
was imported first when several test folders run together."""

from __future__ import annotations

from pathlib import Path

# A department's case export: its own column names, its own state codes.
MAPPING = """\
kind: case
timezone: "+08:00"
code_tables:
  states: {"SJ": "1", "BJ": "11"}
fields:
  source_system: {const: SZ-MARKET}
  dept_case_no: {from: BJBH, transforms: [trim]}
  impl_code: {from: SSBM, transforms: [trim, upper]}
  applicant.name: {from: SQR, transforms: [trim]}
  applicant.id_type: {const: "111"}
  applicant.id_number: {from: SQR_ZJHM, transforms: [trim, upper]}
  accepted_at: {from: SLSJ, datetime: ["%Y-%m-%d %H:%M:%S"]}
  events:
    from_columns:
      - {state: {from: ZT1, code_table: states}, at: {from: SJSJ, datetime: ["%Y-%m-%d %H:%M:%S"]}}
      - {state: {from: ZT2, code_table: states}, at: {from: SLSJ, datetime: ["%Y-%m-%d %H:%M:%S"]}}
"""
# The fix an engineer makes once the quarantine shows the missing code: 受理 is "SL".
FIXED_MAPPING = MAPPING.replace('{"SJ": "1", "BJ": "11"}', '{"SJ": "1", "SL": "3", "BJ": "11"}')


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(row[c] for c in header) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
