"""``run_quality``: the suites through GX Checkpoints on the libraries' database.

One run: record the run (``running``), build the suites' checks, give GX a SQL
datasource on the libraries' database with one query asset per population, one
expectation suite per (suite, population), and run them through checkpoints (cases,
their event steps and everything else each in one, side by side); Data Docs are written under
``<reports>/gx``. Every expectation of a population reads one metric whose single query
returns, per rule and (region, level, department), the failures and the first failing
keys (:mod:`tongyuan.quality.expectations`), so each population is read once; the
records per group are counted beside the checkpoints. Then the integrity checks that
need files or the ledger run, and everything is stored in the history. Only counts,
keys and the Data Docs path leave the database; no table is ever loaded into Python.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect

from tongyuan.config import Settings
from tongyuan.db import make_engine
from tongyuan.db.errors import describe_error
from tongyuan.libraries.base import HUB_TIMEZONE
from tongyuan.quality import breakdown, files
from tongyuan.quality.checks import SUITES, Check, Population, SuiteContext, region_prefix
from tongyuan.quality.gx import add_libraries_source, build_data_docs, docs_dir, make_context
from tongyuan.quality.history import ResultRow, finish_run, pass_rate, start_run
from tongyuan.quality.sql import Dialect
from tongyuan.quality.suites import SUITE_CHECKS

log = logging.getLogger(__name__)


class QualityError(RuntimeError):
    """A run could not produce trustworthy results (the run row says why)."""


@dataclass(frozen=True, slots=True)
class RuleSummary:
    suite: str
    rule: str
    title: str
    kind: str
    evaluated: int
    failed: int

    @property
    def pass_rate(self) -> float:
        return pass_rate(self.evaluated, self.failed)


@dataclass(slots=True)
class QualityRunSummary:
    """What a run found, per rule (totals); the groups are in the history tables."""

    run_id: str
    status: str
    suites: list[str]
    scope: str
    as_of: date
    started_at: datetime
    finished_at: datetime | None
    data_docs_path: str | None
    rules: list[RuleSummary] = field(default_factory=list)

    @property
    def evaluated(self) -> int:
        return sum(r.evaluated for r in self.rules)

    @property
    def failed(self) -> int:
        return sum(r.failed for r in self.rules)

    def failed_by_rule(self) -> dict[tuple[str, str], int]:
        """Failures keyed by (rule, kind): what tests compare with planted defects."""
        return {(r.rule, r.kind): r.failed for r in self.rules}

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "suites": self.suites,
            "scope": self.scope,
            "as_of": self.as_of.isoformat(),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "data_docs_path": self.data_docs_path,
            "evaluated": self.evaluated,
            "failed": self.failed,
            "rules": [
                {
                    "suite": r.suite,
                    "rule": r.rule,
                    "title": r.title,
                    "kind": r.kind,
                    "evaluated": r.evaluated,
                    "failed": r.failed,
                    # None when nothing was evaluated: no rate, never 100 %.
                    "pass_rate": _json_rate(r) if r.evaluated else None,
                }
                for r in self.rules
            ],
        }


def _json_rate(rule: RuleSummary) -> float:
    """Six decimals, except where rounding would claim 1.0 with failures or 0.0 with passes
    (one failure in millions of records): then the exact ratio, which never does."""
    rate = round(rule.pass_rate, 6)
    if (rule.failed and rate >= 1.0) or (rule.failed < rule.evaluated and rate <= 0.0):
        return rule.pass_rate
    return rate


def resolve_suites(suites: Sequence[str] | None) -> list[str]:
    """The suites to run, in canonical order; unknown names are an error naming the known."""
    if not suites:
        return list(SUITES)
    unknown = sorted(set(suites) - set(SUITES))
    if unknown:
        raise ValueError(
            f"unknown quality suite(s) {', '.join(unknown)}; known: {', '.join(SUITES)}"
        )
    return [s for s in SUITES if s in suites]


def hub_today() -> date:
    return datetime.now(HUB_TIMEZONE).date()


def run_quality(
    settings: Settings,
    *,
    suites: Sequence[str] | None = None,
    scope: str = "all",
    as_of: date | None = None,
    files_and_ledger: bool = True,
) -> QualityRunSummary:
    """Run the quality suites over the libraries and store the run in the history.

    ``scope`` is ``"all"`` or a region code (that region and everything under it);
    ``as_of`` is the reference day of the timeliness and validity checks (hub-local
    today by default). ``files_and_ledger=False`` leaves out the integrity checks that
    read every material file and re-hash every ledger-covered row (they are not SQL and
    scale with the files, not the database). Raises ValueError for unknown suites or a
    malformed scope, and QualityError when GX and the breakdown disagree or GX could not
    evaluate a check.
    """
    chosen = resolve_suites(suites)
    if scope != "all":
        region_prefix(scope)  # validates the shape before anything runs
    day = as_of or hub_today()
    engine = make_engine(settings.database_url)
    try:
        run = start_run(engine, suites=chosen, scope=scope, as_of=day)
        try:
            rows, docs = _run(settings, engine, chosen, scope, day, files_and_ledger)
        except Exception as exc:
            finish_run(
                engine,
                run.id,
                [],
                status="error",
                data_docs_path=None,
                error=describe_error(exc),
            )
            raise
        failed = any(r.failed for r in rows if r.grain == "total")
        stored = finish_run(
            engine, run.id, rows, status="failed" if failed else "passed", data_docs_path=docs
        )
    finally:
        engine.dispose()
    summary = QualityRunSummary(
        run_id=stored.id,
        status=stored.status,
        suites=chosen,
        scope=scope,
        as_of=day,
        started_at=stored.started_at,
        finished_at=stored.finished_at,
        data_docs_path=docs,
        rules=[
            RuleSummary(r.suite, r.rule, r.title, r.kind, r.evaluated, r.failed)
            for r in rows
            if r.grain == "total"
        ],
    )
    log.info(
        "quality run %s %s: %d checks, %d of %d records failed",
        summary.run_id,
        summary.status,
        len(summary.rules),
        summary.failed,
        summary.evaluated,
    )
    return summary


def build_checks(engine: Engine, suites: Sequence[str], scope: str, as_of: date) -> list[Check]:
    """The checks of the chosen suites for this database (its dialect and tables)."""
    ctx = SuiteContext(
        dialect=Dialect(engine.dialect.name),
        as_of=as_of,
        scope=scope,
        tables=frozenset(inspect(engine).get_table_names()),
    )
    return [check for suite in suites for check in SUITE_CHECKS[suite](ctx)]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What GX found for one check: failures in total, and count and first keys per group."""

    failed: int
    failures: dict[breakdown.Group, int]
    keys: dict[breakdown.Group, list[str]]
    # Records per group the check could not judge (its ``unjudged`` condition).
    unjudged: dict[breakdown.Group, int]


def _run(
    settings: Settings,
    engine: Engine,
    suites: list[str],
    scope: str,
    as_of: date,
    files_and_ledger: bool,
) -> tuple[list[ResultRow], str | None]:
    checks = build_checks(engine, suites, scope, as_of)
    rows: list[ResultRow] = []
    docs: str | None = None
    if checks:
        # The records per group are counted in two worker threads on a reader engine (on
        # SQLite its transactions begin DEFERRED, so they and GX's own connection read side
        # by side) while GX imports and validates: the database does the work (SQLite and
        # psycopg release the GIL while a statement runs), so the counts use the second
        # core without changing what is computed or the order rows are stored in.
        reader = make_engine(settings.database_url, sqlite_begin="DEFERRED")
        try:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="quality-groups") as pool:
                # Populations over the same records (cases, case steps) share one count;
                # one narrowing another (case times) subtracts the records it leaves out,
                # counted in the same read transaction as the whole (one snapshot: a
                # case committed between two reads would otherwise be subtracted without
                # having been counted).
                bases: dict[str, Population] = {}
                narrowing: dict[str, dict[str, Population]] = {}
                base_of: dict[str, str] = {}  # population name -> its counted query
                for check in checks:
                    pop = check.population
                    if pop.name not in base_of:
                        base_of[pop.name] = pop.counted_from.sql_for([])
                    base = base_of[pop.name]
                    bases.setdefault(base, pop.counted_from)
                    if pop.narrows is not None:
                        narrowing.setdefault(base, {})[pop.name] = pop
                counts = {
                    base: pool.submit(
                        _evaluated, reader, whole, tuple(narrowing.get(base, {}).values())
                    )
                    for base, whole in bases.items()
                }
                evaluated: dict[str, _Counted] = {
                    check.population.name: (
                        counts[base_of[check.population.name]],
                        check.population.name if check.population.narrows else None,
                    )
                    for check in checks
                }
                try:
                    outcomes, docs = run_checkpoint(settings, checks)
                except BaseException:
                    for future in counts.values():
                        future.cancel()
                    raise
                rows += _breakdown(checks, outcomes, _results(evaluated))
        finally:
            reader.dispose()
    if "integrity" in suites and scope == "all" and files_and_ledger:
        rows += files.check_material_files(settings, engine)
        rows += files.check_ledger(engine, settings)
    return rows, docs


_Groups = dict[breakdown.Group, int]


def _evaluated(
    engine: Engine, population: Population, narrowing: tuple[Population, ...] = ()
) -> dict[str | None, _Groups]:
    """Records per group of ``population`` (key None) and, for each population narrowing
    it, of the records that one leaves out (key: its name), all in one snapshot."""
    with engine.connect() as connection:
        if narrowing and connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():  # SQLite: one DEFERRED read transaction, one snapshot
            counts: dict[str | None, _Groups] = {
                None: breakdown.evaluated_by_group(connection, population)
            }
            for narrower in narrowing:
                left_out = narrower.left_out_records()
                counts[narrower.name] = breakdown.evaluated_by_group(connection, left_out)
    return counts


_Counted = tuple[Future[dict[str | None, _Groups]], str | None]
"""Records per group of a population: its base count, less the records it leaves out
(the name they are counted under in the same result) when it narrows another."""


def _results(counted: dict[str, _Counted]) -> dict[str, _Groups]:
    results: dict[str, _Groups] = {}
    for name, (future, narrower) in counted.items():
        counts = future.result()
        groups = dict(counts[None])
        for group, left_out in (counts[narrower] if narrower is not None else {}).items():
            remaining = groups.get(group, 0) - left_out
            if remaining > 0:
                groups[group] = remaining
            else:
                groups.pop(group, None)
        results[name] = groups
    return results


def _suite_name(check: Check) -> str:
    return f"{check.suite}.{check.population.name}"


def _expectation(
    check: Check, index: int, query: str, position: int, unjudged_position: int | None
) -> Any:
    from tongyuan.quality.expectations import CUSTOM

    meta = {
        "rule": check.rule,
        "kind": check.kind,
        "check": index,
        "title_zh": check.title,
        "regulation": check.regulation,
    }
    return CUSTOM[check.expectation](
        condition=check.condition,
        failing_query=query,
        rule_position=position,
        unjudged_position=unjudged_position,
        description=check.title,
        meta=meta,
    )


LANES: tuple[frozenset[str], ...] = (frozenset({"cases"}), frozenset({"case_steps"}))
"""Populations validated by a checkpoint of their own, beside the one for all the rest.

Cases outnumber every other record by an order of magnitude, and their events three to
one; the case rules and the event-step rules each have a checkpoint in a worker thread
while the main thread validates items, licenses, claims and reviews, so the database
reads them at once (each checkpoint has its own datasource, engine and connection;
SQLite and psycopg release the GIL while a statement runs).
"""


def _lane(check: Check) -> int:
    for number, names in enumerate(LANES):
        if check.population.name in names:
            return number
    return len(LANES)


def run_checkpoint(settings: Settings, checks: Sequence[Check]) -> tuple[dict[int, Outcome], str]:
    """Run every check through GX Checkpoints; what each found, and the Data Docs index.

    One expectation suite per (suite, population), as auditors read them in Data Docs;
    every expectation over a population names the same query over all the run's checks
    on it, so the database reads each population once. The populations are split in
    :data:`LANES`, one checkpoint each, run at the same time; Data Docs are built once,
    from all their results.
    """
    context = make_context(settings)
    import great_expectations as gx

    by_population: dict[str, list[int]] = {}
    for index, check in enumerate(checks):
        by_population.setdefault(check.population.name, []).append(index)
    queries = {
        name: breakdown.failing_query([checks[i] for i in indexes])
        for name, indexes in by_population.items()
    }
    # Each query asset selects only the derived columns its checks read: the rest (the
    # case population's serial-repeat count, its event lookups) would be computed for
    # every row and thrown away — SQLite keeps a LEFT JOIN whose columns go unused.
    mentioned = {
        name: [c for i in indexes for c in (checks[i].condition, checks[i].unjudged) if c]
        for name, indexes in by_population.items()
    }
    position = {i: p for indexes in by_population.values() for p, i in enumerate(indexes)}
    unjudged_at = {
        i: at
        for indexes in by_population.values()
        for i, at in zip(
            indexes, breakdown.unjudged_positions([checks[i] for i in indexes]), strict=True
        )
    }

    sources: dict[int, Any] = {}
    batches: dict[str, Any] = {}
    suites: dict[str, Any] = {}
    lanes: dict[int, list[str]] = {}
    for index, check in enumerate(checks):
        population, lane = check.population, _lane(check)
        if lane not in sources:
            name = "libraries" if not sources else f"libraries-{len(sources)}"
            sources[lane] = add_libraries_source(context, settings.database_url, name)
        if population.name not in batches:
            query = population.sql_for(mentioned[population.name])
            asset = sources[lane].add_query_asset(population.name, query=query)
            batches[population.name] = asset.add_batch_definition_whole_table("all")
        name = _suite_name(check)
        if name not in suites:
            suites[name] = (context.suites.add(gx.ExpectationSuite(name=name)), population.name)
            lanes.setdefault(lane, []).append(name)
        suites[name][0].add_expectation(
            _expectation(
                check, index, queries[population.name], position[index], unjudged_at[index]
            )
        )
    checkpoints = [
        context.checkpoints.add(
            gx.Checkpoint(
                name=f"tongyuan-quality-{lane}",
                validation_definitions=[
                    context.validation_definitions.add(
                        gx.ValidationDefinition(
                            name=name, data=batches[suites[name][1]], suite=suites[name][0]
                        )
                    )
                    for name in names
                ],
                result_format={"result_format": "BASIC", "partial_unexpected_count": 5},
            )
        )
        for lane, names in sorted(lanes.items())
    ]
    with ThreadPoolExecutor(max_workers=len(LANES), thread_name_prefix="quality-lane") as pool:
        others = [pool.submit(checkpoint.run) for checkpoint in checkpoints[:-1]]
        results = [checkpoints[-1].run(), *(future.result() for future in others)]
    run_results = {key: value for result in results for key, value in result.run_results.items()}
    build_data_docs(context, run_results)
    outcomes: dict[int, Outcome] = {}
    problems: list[str] = []
    for validation in run_results.values():
        for outcome in validation.results:
            meta = outcome.expectation_config.meta or {}
            index = int(meta["check"])
            raised = (outcome.exception_info or {}).get("raised_exception")
            if raised:
                message = (outcome.exception_info or {}).get("exception_message")
                problems.append(f"{checks[index].rule} ({checks[index].kind}): {message}")
                continue
            res = outcome.result or {}
            details = res.get("details") or {}
            groups = details.get("groups", [])
            outcomes[index] = Outcome(
                failed=int(res.get("observed_value") or 0),
                failures={breakdown.group_of(g): int(g[3]) for g in groups},
                keys={breakdown.group_of(g): [str(k) for k in g[4]] for g in groups},
                unjudged={breakdown.group_of(g): int(g[3]) for g in details.get("unjudged", [])},
            )
    if problems:
        raise QualityError("GX could not evaluate: " + "; ".join(problems))
    return outcomes, str(docs_dir(settings) / "index.html")


def _breakdown(
    checks: Sequence[Check],
    outcomes: dict[int, Outcome],
    evaluated: dict[str, dict[breakdown.Group, int]],
) -> list[ResultRow]:
    rows: list[ResultRow] = []
    for index, check in enumerate(checks):
        outcome = outcomes[index]
        groups = evaluated[check.population.name]
        if outcome.unjudged:
            left_out = outcome.unjudged
            groups = {
                g: max(n - left_out.get(g, 0), outcome.failures.get(g, 0))
                for g, n in groups.items()
            }
        stray = set(outcome.failures) - set(groups)
        if stray:
            # Both queries read the same population: a failing group with no records
            # means the data changed under the run, and its rates would be nonsense.
            raise QualityError(
                f"{check.rule} ({check.kind}): failures in {len(stray)} group(s) the "
                "record count did not see; the libraries changed during the run"
            )
        rows.append(
            _row(
                check,
                "total",
                sum(groups.values()),
                outcome.failed,
                [k for keys in outcome.keys.values() for k in keys],
            )
        )
        for group in sorted(groups, key=_sort_key):
            row = _row(
                check,
                "group",
                groups[group],
                outcome.failures.get(group, 0),
                outcome.keys.get(group, []),
            )
            row.region_code, row.level, row.department = group
            rows.append(row)
    return rows


def _sort_key(group: breakdown.Group) -> tuple[str, str, str]:
    return tuple(part or "" for part in group)  # type: ignore[return-value]


def _row(check: Check, grain: str, evaluated: int, failed: int, keys: list[str]) -> ResultRow:
    return ResultRow(
        check.suite,
        check.rule,
        check.title,
        check.kind,
        check.regulation,
        grain,
        evaluated,
        failed,
        failing_keys=sorted(keys)[:1000],
    )


def data_docs_index(settings: Settings) -> Path:
    """Where the GX Data Docs site's entry page is written."""
    return docs_dir(settings) / "index.html"


__all__ = ["QualityError", "QualityRunSummary", "RuleSummary", "data_docs_index", "run_quality"]
