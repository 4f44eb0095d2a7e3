"""Reading the quality history for the report: runs and results, nothing of GX.

This module reads only ``quality_runs`` and ``quality_results`` (the case details of the
timeliness rules are looked up apart, in :mod:`.case_details`). Both tables are reflected
rather than imported from the quality package, so rendering never pulls Great
Expectations in, and an extra column added by a later migration changes nothing here.
Every string that leaves this module is passed through :func:`mask_text` (failing keys
are stored masked already, but a report is the last place a clear ID could slip out),
except department codes: they are authorities' USCCs, kept as stored so their names can
be looked up, and masked like all text by every writer (pages, exports, PDF).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    func,
    inspect,
    literal_column,
    select,
)

from adapters.sdk.db_url import safe_url_text
from standards.privacy import mask_text

REPORT_TIMEZONE = ZoneInfo("Asia/Shanghai")
RUNS_TABLE = "quality_runs"
GRAIN_TOTAL = "total"
GRAIN_GROUP = "group"
# Runs in these states have no complete set of results: listed, never scored.
UNSCORED_STATUSES = frozenset({"running", "error"})
RESULTS_TABLE = "quality_results"

# What dates the exports and the PDF of a database without any quality run.
NO_RUNS_TIME = datetime(2000, 1, 1, tzinfo=UTC)
# Backdated days (quality run --as-of a past day) whose runs the report shows in full.
BACKDATED_DAYS_SHOWN = 7

# Columns of quality_runs that may hold the run's GX Data Docs location, best first.
_DOCS_COLUMNS = ("data_docs_path", "data_docs", "docs_path", "gx_docs_path")


class ReportDataError(RuntimeError):
    """The database cannot feed a report (tables missing: migrations not applied)."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: str
    started_at: datetime | None
    finished_at: datetime | None
    suite: str
    scope: str
    status: str
    docs_path: str | None = None
    as_of: date | None = None  # the day timeliness was judged as of (migration 0014)

    @property
    def judged_on(self) -> date | None:
        """The day the run judged timeliness as of: as stored, else (runs stored before
        it was) the Beijing day the run started, what ``--as-of`` defaults to."""
        if self.as_of is not None:
            return self.as_of
        when = self.started_at or self.finished_at
        return when.astimezone(REPORT_TIMEZONE).date() if when else None

    @property
    def backdated(self) -> bool:
        """Whether the run judged another day than the Beijing day it started on
        (``quality run --as-of`` a past day): such a run is listed, never the headline.
        A run without a stored day (before migration 0014) judged the day it ran."""
        when = self.started_at or self.finished_at
        if self.as_of is None or when is None:
            return False
        return self.as_of != when.astimezone(REPORT_TIMEZONE).date()

    @property
    def label(self) -> str:
        """Short time label for charts and tables, in Beijing time as auditors read it."""
        when = self.started_at or self.finished_at
        return when.astimezone(REPORT_TIMEZONE).strftime("%Y-%m-%d %H:%M") if when else self.id[:8]


# How quality_runs names a run over the whole topology; older rows may leave it empty.
WHOLE_SCOPES = frozenset({"all", ""})


def is_whole(run: RunInfo) -> bool:
    """Whether the run checked the whole topology (``--scope all``), not one region."""
    return run.scope in WHOLE_SCOPES


@dataclass(frozen=True, slots=True)
class ResultRow:
    id: int
    run_id: str
    suite: str
    expectation: str
    title: str
    region_code: str | None
    level: str | None
    department: str | None
    evaluated: int
    failed: int
    pass_rate: float | None
    failing_keys: tuple[str, ...]
    regulation: str | None
    grain: str  # "total": the run's whole scope; "group": one (region, level, department)
    kind: str | None = None  # record kind the rule checks (item, case, license …)

    @property
    def is_total(self) -> bool:
        return self.grain == GRAIN_TOTAL


Latest = tuple[RunInfo, list[ResultRow]]  # a suite's newest run and that run's rows of it


@dataclass(slots=True)
class QualityHistory:
    """Scored runs (finished, not in error; oldest first), their results by run id, and
    every run including unscored ones for the run log."""

    runs: list[RunInfo] = field(default_factory=list)
    results: dict[str, list[ResultRow]] = field(default_factory=dict)
    all_runs: list[RunInfo] = field(default_factory=list)

    @property
    def current_runs(self) -> list[RunInfo]:
        """Scored runs that judged the day they ran, oldest first. A backdated run
        (``--as-of`` a past day) started last but judged March: taken as the latest it
        replaced today's scorecard, dated by today's time and plotted as today's point."""
        return [run for run in self.runs if not run.backdated]

    @property
    def whole_runs(self) -> list[RunInfo]:
        """Scored runs over the whole topology that judged the day they ran, oldest first:
        what the headline and the trends show."""
        return [run for run in self.current_runs if is_whole(run)]

    def _latest(self, runs: list[RunInfo]) -> dict[tuple[str, str], Latest]:
        return {(scope, suite): found for (_, scope, suite), found in self._newest(runs).items()}

    def _newest(self, runs: list[RunInfo]) -> dict[tuple[date | None, str, str], Latest]:
        """Per (day judged, scope, suite), the newest of ``runs`` and its rows of it."""
        latest: dict[tuple[date | None, str, str], Latest] = {}
        for run in runs:  # oldest first: later runs overwrite
            by_suite: dict[str, list[ResultRow]] = {}
            for row in self.results.get(run.id, []):
                by_suite.setdefault(row.suite, []).append(row)
            for suite, rows in by_suite.items():
                key = (run.judged_on if run.backdated else None, run.scope, suite)
                latest[key] = (run, rows)
        return latest

    def latest_by_suite(self) -> dict[str, Latest]:
        """For every suite, the newest whole-topology run that checked it, and its rows.

        A run of one suite (``tongyuan quality run --suite timeliness``) must not make
        the other suites disappear from the scorecard: each keeps its own latest run. A
        run limited to one region (``--scope 440305``) measured only that region: it
        never stands in for the province-wide figures (see :meth:`latest_scoped`).
        """
        return {suite: found for (_, suite), found in self._latest(self.whole_runs).items()}

    def latest_scoped(self) -> dict[tuple[str, str], Latest]:
        """For every (scope, suite) of runs limited to a region, the newest run and its rows."""
        return self._latest([run for run in self.current_runs if not is_whole(run)])

    def latest_backdated(self) -> dict[tuple[date | None, str, str], Latest]:
        """For every (day judged, scope, suite) of backdated runs, the newest run and its
        rows: listed apart with their 基准日 and drill-downs, never in the headline.

        Only the :data:`BACKDATED_DAYS_SHOWN` days judged most recently are kept: a
        backfill (``--as-of`` each day of a quarter) would otherwise bring every one of
        those runs, with its rows and failing keys, into every report for good. The run
        log still lists them all.
        """
        found = self._newest([run for run in self.runs if run.backdated])
        ran: dict[date | None, datetime] = {}
        for (day, _, _), (run, _) in found.items():
            when = run.started_at or run.finished_at or NO_RUNS_TIME
            ran[day] = max(ran.get(day, when), when)
        kept = set(sorted(ran, key=lambda day: ran[day], reverse=True)[:BACKDATED_DAYS_SHOWN])
        return {key: value for key, value in found.items() if key[0] in kept}

    def latest_rows(self) -> list[ResultRow]:
        return [row for _, rows in self.latest_by_suite().values() for row in rows]

    def shown_runs(self) -> set[str]:
        """Ids of the runs whose rows the report shows in full (group rows, failing
        keys): each suite's latest whole-topology run and each backdated day's newest."""
        found = [*self.latest_by_suite().values(), *self.latest_backdated().values()]
        return {run.id for run, _ in found}

    @property
    def as_of(self) -> datetime:
        """When the stored results were last written: the newest run's end (its start if
        it has none), or :data:`NO_RUNS_TIME` before any run.

        It dates the exports and the PDF instead of the time of rendering, so that the
        same results always render to the same bytes (evidence can be hashed and compared).
        """
        times = [t for run in self.all_runs if (t := run.finished_at or run.started_at)]
        return max(times) if times else NO_RUNS_TIME

    @property
    def latest_run(self) -> RunInfo | None:
        """The newest scored whole-topology run (the one the headline is dated by)."""
        whole = self.whole_runs
        return whole[-1] if whole else None


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return mask_text(text) if text else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _keys(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return (mask_text(str(value)),)
    if not isinstance(value, list | tuple):
        return (mask_text(str(value)),)
    return tuple(mask_text(str(key)) for key in value if key is not None)


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _date(value: Any) -> date | None:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _tables(engine: Engine) -> tuple[Table, Table]:
    names = set(inspect(engine).get_table_names())
    missing = [name for name in (RUNS_TABLE, RESULTS_TABLE) if name not in names]
    if missing:
        raise ReportDataError(
            f"table(s) {', '.join(missing)} not found in {safe_url_text(engine.url)}: "
            "run `tongyuan db upgrade`, then `tongyuan quality run`"
        )
    meta = MetaData()
    return Table(RUNS_TABLE, meta, autoload_with=engine), Table(
        RESULTS_TABLE, meta, autoload_with=engine
    )


def _docs_path(row: Any, columns: Sequence[str]) -> str | None:
    for name in _DOCS_COLUMNS:
        if name in columns and row[name]:
            return str(row[name])
    return None


def _grain(row: Any, columns: Sequence[str]) -> str:
    if "grain" in columns and row["grain"]:
        return str(row["grain"])
    dims = (row["region_code"], row["level"], row["department"])
    return GRAIN_TOTAL if all(d is None for d in dims) else GRAIN_GROUP


def load_history(engine: Engine) -> QualityHistory:
    """All quality runs and the results of the scored ones, oldest run first.

    A run without ``finished_at`` or with status running/error has partial results at
    best: scoring them would show rates that were never measured, so they are only
    listed in the run log.
    """
    runs_t, results_t = _tables(engine)
    run_columns = list(runs_t.c.keys())
    history = QualityHistory()
    with engine.connect() as conn:
        run_rows = conn.execute(
            select(runs_t).order_by(runs_t.c.started_at, runs_t.c.id)
        ).mappings()
        for row in run_rows:
            history.all_runs.append(
                RunInfo(
                    id=str(row["id"]),
                    started_at=_utc(row["started_at"]),
                    finished_at=_utc(row["finished_at"]),
                    suite=_clean(row["suite"]) or "",
                    scope=_clean(row["scope"]) or "",
                    status=_clean(row["status"]) or "",
                    docs_path=_docs_path(row, run_columns),
                    as_of=_date(row["as_of"]) if "as_of" in run_columns else None,
                )
            )
            if row["finished_at"] is not None and row["status"] not in UNSCORED_STATUSES:
                history.runs.append(history.all_runs[-1])
        columns = list(results_t.c.keys())
        counted = select(*[c for c in results_t.c if c.name != "failing_keys"]).order_by(
            results_t.c.run_id, results_t.c.id
        )
        if "grain" not in columns:
            _add_rows(history, conn.execute(counted).mappings(), columns)
        else:
            # Totals of every run feed the trends and tell which run is each suite's
            # latest; group rows (one per region/level/department, many) are read for
            # those latest runs only, so a long history does not grow the report's memory.
            totals = counted.where(results_t.c.grain == GRAIN_TOTAL)
            _add_rows(history, conn.execute(totals).mappings(), columns)
            latest = sorted(history.shown_runs())
            for start in range(0, len(latest), 500):
                groups = counted.where(
                    results_t.c.grain != GRAIN_TOTAL,
                    results_t.c.run_id.in_(latest[start : start + 500]),
                )
                _add_rows(history, conn.execute(groups).mappings(), columns)
        _attach_failing_keys(conn, results_t, history)
    return history


def _add_rows(history: QualityHistory, rows: Iterable[Any], columns: Sequence[str]) -> None:
    wanted = {run.id for run in history.runs}
    for row in rows:
        run_id = str(row["run_id"])
        if run_id not in wanted:
            continue
        history.results.setdefault(run_id, []).append(
            ResultRow(
                id=int(row["id"]),
                run_id=run_id,
                suite=_clean(row["suite"]) or "",
                expectation=_clean(row["expectation"]) or "",
                title=_clean(row["title_zh"]) or _clean(row["expectation"]) or "",
                region_code=_clean(row["region_code"]),
                level=_clean(row["level"]),
                # Kept as stored (an authority's USCC) so its name can be looked up;
                # every output masks it like any other text.
                department=_text(row["department"]),
                evaluated=int(row["evaluated"] or 0),
                failed=int(row["failed"] or 0),
                pass_rate=_float(row["pass_rate"]),
                failing_keys=(),
                regulation=_clean(row["regulation"]),
                grain=_grain(row, columns),
                kind=_clean(row["kind"]) if "kind" in columns else None,
            )
        )


def _attach_failing_keys(conn: Connection, results_t: Table, history: QualityHistory) -> None:
    """Failing keys only for the rows the drill-downs show: the latest run of each suite
    and the newest backdated run of each day and suite.

    Older runs feed the trend charts with their counts alone; their key lists (up to 1000
    per row) would only cost memory.
    """
    runs = history.shown_runs()
    shown = {row.id for run_id in runs for row in history.results.get(run_id, [])}
    if not shown:
        return
    keys: dict[int, tuple[str, ...]] = {}
    ids = sorted(shown)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = select(results_t.c.id, results_t.c.failing_keys).where(results_t.c.id.in_(chunk))
        for row_id, value in conn.execute(stmt):
            keys[int(row_id)] = _keys(value)
    for run_id, rows in history.results.items():
        history.results[run_id] = [
            replace(row, failing_keys=keys.get(row.id, ())) if row.id in shown else row
            for row in rows
        ]


def _most_common(rows: Iterable[Any]) -> dict[str, str]:
    """Per code, the name most rows give; a tie goes to the name seen latest, then to the
    first in code-point order, so that the same data always gives the same name.

    ``rows`` are ``(code, name, count, latest)``; blank names count for nothing.
    """
    best: dict[str, tuple[int, str, str]] = {}
    for code, name, count, latest in rows:
        text = str(name).strip() if name is not None else ""
        if not code or not text:
            continue
        rank = (int(count), str(latest or ""), text)
        if code not in best or _beats(rank, best[code]):
            best[code] = rank
    return {code: rank[2] for code, rank in best.items()}


def _beats(rank: tuple[int, str, str], other: tuple[int, str, str]) -> bool:
    """More rows first, then the later date, then the smaller name."""
    if rank[:2] != other[:2]:
        return rank[:2] > other[:2]
    return rank[2] < other[2]


def _item_authority_names(conn: Connection, codes: Sequence[str]) -> dict[str, str]:
    """The implementing authority's name in the items in force (current, not cancelled
    versions), the most common one per authority."""
    from tongyuan.libraries.items import ItemVersion
    from tongyuan.quality.sql import Dialect

    name = literal_column(
        Dialect(conn.dialect.name).json_text("item_versions.data", "authority_name")
    )
    stmt = (
        select(
            ItemVersion.authority_uscc,
            name,
            func.count(),
            func.max(ItemVersion.valid_from),
        )
        .where(
            ItemVersion.authority_uscc.in_(codes),
            ItemVersion.valid_to.is_(None),
            ItemVersion.is_tombstone.is_(False),
        )
        .group_by(ItemVersion.authority_uscc, name)
    )
    return _most_common(conn.execute(stmt))


def _issuer_names(conn: Connection, codes: Sequence[str]) -> dict[str, str]:
    """The issuer's name on the e-licenses it issued, the most common one per issuer."""
    from tongyuan.libraries.licenses import LicenseRow

    stmt = (
        select(
            LicenseRow.issuer_code,
            LicenseRow.issuer_name,
            func.count(),
            func.max(LicenseRow.issue_date),
        )
        .where(LicenseRow.issuer_code.in_(codes))
        .group_by(LicenseRow.issuer_code, LicenseRow.issuer_name)
    )
    return _most_common(conn.execute(stmt))


def department_names(
    engine: Engine, codes: Sequence[str], known: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Names of the departments (authority USCCs) that results are broken down by.

    Quality stores the USCC; auditors read names. Whose word counts, best first: the
    topology (``known``: what the data bureau declared), then the items in force (the
    authority's own name in its items), then the e-licenses it issued. Items and
    licenses each give the name most of them carry, not one row's: the smallest name of
    any one licence renamed a department across the whole report when one licence
    carried an odd or forged issuer name (ASCII sorts before Chinese). Codes found
    nowhere stay codes.
    """
    wanted = sorted({code for code in codes if code})
    names: dict[str, str] = {
        code: str(known[code]).strip() for code in wanted if known and known.get(code)
    }
    with engine.connect() as conn:
        for lookup in (_item_authority_names, _issuer_names):
            missing = [code for code in wanted if code not in names]
            for start in range(0, len(missing), 500):
                names.update(lookup(conn, missing[start : start + 500]))
    return {code: mask_text(name) for code, name in names.items()}
