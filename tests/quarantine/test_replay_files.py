"""Quarantine → fix the mapping → replay → accepted exactly once (files adapter, CSV)."""

from __future__ import annotations

from pathlib import Path

import pytest
from quarantine_world import FIXED_MAPPING, MAPPING, write_csv
from sqlalchemy import func, select
from std_factories import IMPL, PERSON

from adapters.builtin.files import FilesSource
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.quarantine import QuarantineEntry, ReplayOutcome
from tongyuan.pulling import pull
from tongyuan.quarantine.replay import replay
from tongyuan.quarantine.selection import Selection

GOOD = {"BJBH": "SC0001", "SSBM": IMPL, "SQR": "张伟", "SQR_ZJHM": PERSON,
        "ZT1": "SJ", "SJSJ": "2026-03-02 09:00:00", "ZT2": "", "SLSJ": ""}  # fmt: skip
BAD = {**GOOD, "BJBH": "SC0002", "ZT2": "SL", "SLSJ": "2026-03-02 10:30:00"}


@pytest.fixture
def source(tmp_path: Path) -> FilesSource:
    drop = tmp_path / "drop"
    drop.mkdir()
    (tmp_path / "cases.yaml").write_text(MAPPING, encoding="utf-8")
    write_csv(drop / "cases_20260302.csv", [GOOD, BAD])
    return FilesSource.from_config(
        {
            "path": "drop",
            "streams": {"cases": {"patterns": ["*.csv"], "mapping": "cases.yaml"}},
            "settle_seconds": 0,
            "staging_dir": str(tmp_path / "staging"),
        },
        base_dir=tmp_path,
    )


def _cases(session, dept_case_no: str) -> int:
    stmt = select(func.count()).select_from(CaseRow).where(CaseRow.dept_case_no == dept_case_no)
    return session.scalar(stmt)


def test_fix_the_mapping_then_replay_accepts_exactly_once(hub, in_session, source, tmp_path):
    result = pull(hub, source, "cases", source_name="sz-market")
    assert result.status == "committed", result.error
    assert (result.added, result.quarantined) == (1, 1)

    entry = in_session(lambda s: s.scalars(select(QuarantineEntry)).one())
    assert entry.rule == "mapping.code" and entry.status == "open"
    # The source row is kept (department columns), with what produced it.
    assert entry.origin["stream"] == "cases" and entry.origin["form"] == "source"
    assert entry.origin["mapping"]["file"] == str(tmp_path / "cases.yaml")
    assert "config" not in entry.origin  # the configuration is kept only encrypted
    assert entry.payload_masked["BJBH"] == "SC0002"
    assert entry.payload_masked["SQR_ZJHM"] != PERSON
    assert entry.payload_masked["SQR_ZJHM"].endswith(PERSON[-4:])

    # Replayed before the fix: still open, one more attempt, the findings kept.
    first = replay(hub, Selection(rule="mapping.code", status="open"))
    assert (first.accepted, first.still_open) == (0, 1)
    entry = in_session(lambda s: s.get(QuarantineEntry, entry.id))
    assert entry.status == "open" and entry.replay_count == 1
    assert entry.rules[0]["rule"] == "mapping.code"

    (tmp_path / "cases.yaml").write_text(FIXED_MAPPING, encoding="utf-8")
    dry = replay(hub, Selection(ids=(entry.id,)), dry_run=True)
    assert dry.accepted == 1 and dry.batch_id is None
    assert in_session(lambda s: _cases(s, "SC0002")) == 0  # a dry run changes nothing

    second = replay(hub, Selection(ids=(entry.id,)))
    assert [o.outcome for o in second.outcomes] == ["added"]
    entry = in_session(lambda s: s.get(QuarantineEntry, entry.id))
    assert entry.status == "resolved" and entry.resolved_batch_id == second.batch_id
    assert entry.replay_count == 2
    assert in_session(lambda s: _cases(s, "SC0002")) == 1

    # Replaying a resolved entry does nothing: no batch, no write, no count.
    third = replay(hub, Selection(ids=(entry.id,)))
    assert [o.outcome for o in third.outcomes] == ["skipped"] and third.batch_id is None
    fourth = replay(hub, Selection(status="open", everything=True))
    assert fourth.outcomes == []
    assert in_session(lambda s: _cases(s, "SC0002")) == 1
    assert in_session(lambda s: s.get(QuarantineEntry, entry.id)).replay_count == 2

    def history(s):
        batches = s.scalars(select(Batch).where(Batch.kind == "replay").order_by(Batch.started_at))
        outcomes = s.scalars(select(ReplayOutcome).order_by(ReplayOutcome.id))
        return list(batches), [(o.batch_id, o.outcome) for o in outcomes]

    batches, outcomes = in_session(history)
    assert [(b.read_count, b.accepted_count, b.quarantined_count) for b in batches] == [
        (1, 0, 1),
        (1, 1, 0),
    ]
    assert outcomes == [(first.batch_id, "quarantined"), (second.batch_id, "added")]


def test_a_record_accepted_by_replay_is_not_also_open(hub, in_session, source, tmp_path):
    pull(hub, source, "cases", source_name="sz-market")
    (tmp_path / "cases.yaml").write_text(FIXED_MAPPING, encoding="utf-8")
    summary = replay(hub, Selection(status="open", everything=True))
    assert summary.accepted == 1

    def both(s):
        is_open = QuarantineEntry.status == "open"
        open_ = s.scalar(select(func.count()).select_from(QuarantineEntry).where(is_open))
        return open_, _cases(s, "SC0002")

    assert in_session(both) == (0, 1)


def test_replay_of_an_adapter_that_cannot_be_rebuilt_stays_open(hub, in_session, source, tmp_path):
    pull(hub, source, "cases", source_name="sz-market")
    (tmp_path / "cases.yaml").unlink()  # the mapping file is gone
    summary = replay(hub, Selection(status="open", everything=True))
    assert [o.outcome for o in summary.outcomes] == ["error"]
    assert "cases.yaml" in (summary.outcomes[0].message or "")
    entry = in_session(lambda s: s.scalars(select(QuarantineEntry)).one())
    assert entry.status == "open" and entry.replay_count == 1


def test_a_row_delivered_again_since_is_not_overwritten_by_the_replay(
    hub, in_session, source, tmp_path
):
    pull(hub, source, "cases", source_name="sz-market")
    # The department fixed the row at the source and sent it again (without the 受理 step).
    write_csv(tmp_path / "drop" / "cases_20260303.csv", [{**GOOD, "BJBH": "SC0002"}])
    again = pull(hub, source, "cases", source_name="sz-market")
    assert again.added == 1
    (tmp_path / "cases.yaml").write_text(FIXED_MAPPING, encoding="utf-8")
    summary = replay(hub, Selection(status="open", everything=True))
    assert [o.outcome for o in summary.outcomes] == ["superseded"]
    assert summary.resolved == 1 and summary.accepted == 0

    def state(s):
        row = s.scalars(select(CaseRow).where(CaseRow.dept_case_no == "SC0002")).one()
        entry = s.scalars(select(QuarantineEntry)).one()
        return row.accepted_at, entry.status, _cases(s, "SC0002")

    assert in_session(state) == (None, "resolved", 1)  # the later delivery stands
