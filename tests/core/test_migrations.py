from __future__ import annotations

from pathlib import Path

import pg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.sql.expression import TableClause

import tongyuan.libraries
from tongyuan.db import (
    VERSION_TABLE,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)

LIBRARY_TABLES = set(tongyuan.libraries.metadata.tables)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    assert current_revision(empty_db_url) is None
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    assert _tables(empty_db_url) == LIBRARY_TABLES | {VERSION_TABLE}
    downgrade(empty_db_url, "base")
    assert current_revision(empty_db_url) is None
    assert _tables(empty_db_url) - {VERSION_TABLE} == set()
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    upgrade(empty_db_url)  # at head already: nothing to do, no error


def test_models_match_migrations(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            diff = compare_metadata(context, tongyuan.libraries.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    finally:
        engine.dispose()


def test_postgres_url_uses_psycopg() -> None:
    engine = make_engine("postgresql://u@localhost/db")
    assert engine.dialect.driver == "psycopg"


def test_comparison_would_notice_drift(db_url: str) -> None:
    """Guards the test above: a schema that drifted from the models must show a diff."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP INDEX ix_cases_impl_code")
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            diff = compare_metadata(context, tongyuan.libraries.metadata)
    finally:
        engine.dispose()
    assert any(op[0] == "add_index" and op[1].name == "ix_cases_impl_code" for op in diff)


def test_pg_helper_reports_missing_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg, "find_pg_bin", lambda name: None)
    with pytest.raises(pg.PgUnavailable, match="initdb/pg_ctl not found"):
        pg.PgServer.start()


def _quality_results() -> TableClause:
    """quality_results as the remasking tests write and read it (JSON failing_keys)."""
    return sa.table(
        "quality_results", *(sa.column(c) for c in (
            "run_id", "suite", "expectation", "title_zh", "grain", "kind",
            "evaluated", "failed", "pass_rate")),
        sa.column("failing_keys", sa.JSON),
    )  # fmt: skip


_QUALITY_RUNS = sa.table("quality_runs", *(sa.column(c) for c in (
    "id", "started_at", "suite", "scope", "status", "error")))  # fmt: skip


def _store_failed_run(
    connection: sa.Connection, run_id: str, error: str, keys: list[object]
) -> None:
    """A failed consistency run with its error and one result holding ``keys``."""
    connection.execute(_QUALITY_RUNS.insert().values(
        id=run_id, started_at=sa.func.current_timestamp(), suite="consistency",
        scope="all", status="failed", error=error,
    ))  # fmt: skip
    connection.execute(_quality_results().insert().values(
        run_id=run_id, suite="consistency", expectation="x", title_zh="x",
        grain="total", kind="item", evaluated=9, failed=9, pass_rate=0.0, failing_keys=keys,
    ))  # fmt: skip


def test_0013_masks_again_the_keys_older_runs_stored(db_url: str) -> None:
    """Keys cut before masking kept up to 17 digits of an ID (also written in full-width
    digits, in groups, split by a hidden character, or a legacy 15-digit one's first
    14). Upgrading masks every stored key as current runs would."""
    from standards.privacy import mask_text

    downgrade(db_url, "0012")
    head17 = "联系人身份证号码为如下号码请核对后办理事项44030519850312001…"
    whole = "SZNS/1 applicant 440305198503120017"
    kept = "440300/4403**********0017 already masked"
    heads = [
        "依据 ４４０３０５１９８５０３１２００１…",  # full-width digits
        "身份证 440305 19850312 001…",
        "身份证 440305\u200b1985031200…",
        "旧号 44030585031200…",
    ]
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO quality_runs (id, started_at, suite, scope, status) "
                    "VALUES ('r1', '2026-01-01 00:00:00', 'consistency', 'all', 'failed')"
                )
            )
            results = _quality_results()
            connection.execute(
                results.insert().values(
                    run_id="r1", suite="consistency", expectation="x", title_zh="x",
                    grain="total", kind="item", evaluated=3, failed=3, pass_rate=0.0,
                    failing_keys=[head17, whole, kept, 7, *heads],
                )
            )  # fmt: skip
        engine.dispose()
        upgrade(db_url)
        with engine.connect() as connection:
            stored = connection.execute(
                sa.select(sa.column("failing_keys", sa.JSON)).select_from(
                    sa.table("quality_results")
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored[0].endswith("4403*************…") and "44030519" not in stored[0]
    assert stored[1] == mask_text(whole) and "198503120017" not in stored[1]
    assert stored[2:4] == [kept, 7]
    for before, after in zip(heads, stored[4:], strict=True):
        digits = "".join(str(int(c)) for c in after if c.isdigit())
        assert digits == "4403" and after.endswith("*…"), (before, after)
    downgrade(db_url, "0012")  # nothing to undo, and no error


def test_0014_down_and_up_keeps_every_stored_quality_result(db_url: str) -> None:
    """0014's downgrade rebuilt quality_runs on SQLite (batch mode); with foreign keys on,
    dropping the old table deleted every quality_results row through its cascade."""
    downgrade(db_url, "0013")
    engine = make_engine(db_url)
    counts = "SELECT (SELECT COUNT(*) FROM quality_runs), (SELECT COUNT(*) FROM quality_results)"
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO quality_runs (id, started_at, suite, scope, status) "
                    "VALUES ('r14', '2026-01-01 00:00:00', 'timeliness', 'all', 'passed')"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO quality_results (run_id, suite, expectation, title_zh, grain, "
                    "kind, evaluated, failed, pass_rate, failing_keys) VALUES ('r14', "
                    "'timeliness', 'x', 'x', 'total', 'case', 1, 0, 1.0, '[]')"
                )
            )
        engine.dispose()
        upgrade(db_url)
        downgrade(db_url, "0013")
        with engine.connect() as connection:
            assert tuple(connection.execute(sa.text(counts)).one()) == (1, 1)
        engine.dispose()
        upgrade(db_url)
        with engine.connect() as connection:
            assert tuple(connection.execute(sa.text(counts)).one()) == (1, 1)
    finally:
        engine.dispose()


def test_0015_masks_again_ids_in_groups_stored_in_clear(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mask_text knew only the 6-8-4 grouping: keys and run errors stored with an ID in
    another grouping held it in clear. Upgrading masks them, a few rows at a time."""
    import tongyuan.migrations.remask as remask

    monkeypatch.setattr(remask, "BATCH", 2)  # several chunks from a few rows
    downgrade(db_url, "0014")
    grouped = [
        "申请人 110105 1949 1231 002X",
        "1101 0519 4912 3100 2X",
        "110105.1949.1231.002X",
        "旧号 110105 491231 002",
    ]
    kept = ["1101************002X already masked", "电话 138 0013 8000", 7]
    runs = _QUALITY_RUNS
    results = _quality_results()
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            for n in range(3):
                _store_failed_run(connection, f"r{n}", f"failed on {grouped[n]}", [*grouped, *kept])
            connection.execute(runs.insert().values(
                id="r9", started_at=sa.func.current_timestamp(), suite="consistency",
                scope="all", status="passed", error=None,
            ))  # fmt: skip
        engine.dispose()
        upgrade(db_url)
        with engine.connect() as connection:
            keys = connection.execute(sa.select(results.c.failing_keys)).scalars().all()
            errors = dict(connection.execute(sa.select(runs.c.id, runs.c.error)).all())
    finally:
        engine.dispose()
    assert len(keys) == 3
    for stored in keys:
        assert stored[:4] == [
            "申请人 1101*************002X",
            "1101*************00 2X",
            "1101*************002X",
            "旧号 11************002",
        ]
        assert stored[4:] == kept
    assert errors == {
        "r0": "failed on 申请人 1101*************002X",
        "r1": "failed on 1101*************00 2X",
        "r2": "failed on 1101*************002X",
        "r9": None,
    }
    downgrade(db_url, "0014")  # nothing to undo, and no error


def test_0018_masks_again_ids_with_other_separators_stored_in_clear(db_url: str) -> None:
    """mask_text knew one space, hyphen or dot between groups: keys and run errors with
    two spaces, " - ", "/", "_", tabs or line ends between groups, or glued to letters,
    held the ID in clear. Upgrading masks them (tabs and line ends kept) — with "/",
    "_", tabs, line ends or glued letters where the text names an ID; a drop folder's
    path, a file name or a TSV row of region + date + counter (whose check character
    fits here) stays readable."""
    downgrade(db_url, "0017")
    separated = [
        ("110105  19491231  002X", "1101**************002X"),
        ("110105 - 19491231 - 002X", "1101****************002X"),
        ("身份证号 110105/19491231/002X", "身份证号 1101************002X"),
        ("证件号码：110105_19491231_002X", "证件号码：1101************002X"),
        ("id_number\t110105\t19491231\t002X", "id_number\t1101**\t********\t002X"),
        ("身份证：11010519491231\n002X", "身份证：1101**********\n002X"),
        ("ID110105 19491231 002Xabc", "ID1101************002Xabc"),
    ]
    kept = [
        "1101************002X already masked",
        "2024/01/15",
        "110105/2024",
        "/srv/drop/440303/20250826/0368.xml",
        "cases_440303_20250826_0368.xml",
        "440303\t20250826\t0368",
        7,
    ]
    results = _quality_results()
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            for n, (written, _) in enumerate(separated):
                keys = [*(written for written, _ in separated), *kept]
                _store_failed_run(connection, f"r{n}", f"failed on {written}", keys)
        engine.dispose()
        upgrade(db_url)
        with engine.connect() as connection:
            stored = connection.execute(sa.select(results.c.failing_keys)).scalars().all()
            errors = dict(
                connection.execute(sa.select(_QUALITY_RUNS.c.id, _QUALITY_RUNS.c.error)).all()
            )
    finally:
        engine.dispose()
    assert stored == [[*(masked for _, masked in separated), *kept]] * len(separated)
    assert errors == {f"r{n}": f"failed on {masked}" for n, (_, masked) in enumerate(separated)}
    downgrade(db_url, "0017")  # nothing to undo, and no error
