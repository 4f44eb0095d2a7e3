"""From stored results to the figures the report shows: scorecards, trends, drill-downs.

Quality stores two grains of rows per rule: a ``total`` over the run's scope and one
``group`` row per (region, level, department). Adding both would count each record
twice, so every figure picks one grain (see :func:`_rows_along`): totals for the overall
scorecard and the trends, group rows summed by one dimension for the split scorecards.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from standards.codes.enums import ExerciseLevel
from standards.codes.regions import lookup_region
from tongyuan.report.data import QualityHistory, ResultRow, RunInfo
from tongyuan.report.themes import Theme, ordered_themes, pooled_rate, theme_of

Dimension = str  # "region_code" | "level" | "department"
DIMENSIONS: tuple[Dimension, ...] = ("region_code", "level", "department")
_LEVEL_LABELS = {member.value: member.label for member in ExerciseLevel}


@dataclass(frozen=True, slots=True)
class Tally:
    evaluated: int = 0
    failed: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.evaluated + other.evaluated, self.failed + other.failed)

    @property
    def rate(self) -> float | None:
        return pooled_rate(self.evaluated, self.failed)


DetailValue = str | int | None


@dataclass(frozen=True, slots=True)
class FailingRecord:
    key: str
    region: str
    level: str
    department: str
    # (column, value) explaining why the record is listed, in the rule's detail columns
    # (:mod:`tongyuan.report.case_details`); empty for the other rules.
    details: tuple[tuple[str, DetailValue], ...] = ()

    def detail(self, column: str) -> DetailValue:
        """The value of one detail column, None if this record has no such column."""
        return next((value for name, value in self.details if name == column), None)


KIND_LABELS = {
    "item": "事项",
    "case": "办件",
    "material": "材料",
    "license": "证照",
    "claim": "认领",
    "review": "审核",
    "finding": "同步发现的不一致",
    "ledger": "台账",
}


def kind_label(kind: str | None) -> str:
    return KIND_LABELS.get(kind or "", kind or "—")


ExpectationKey = tuple[str, str, str]  # suite, rule id, record kind ("" if not stored)


@dataclass(slots=True)
class ExpectationSummary:
    """One rule over one kind of record: a rule such as uscc.check runs over items,
    cases and licenses, and each is its own line with its own drill-down."""

    suite: str
    expectation: str
    kind: str
    title: str
    regulation: str
    theme: str
    run: RunInfo
    tally: Tally
    records: list[FailingRecord] = field(default_factory=list)
    # Headings of the records' detail columns, looked up when the report is built.
    detail_columns: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        """File name of the drill-down page: suite and rule id, safe on every filesystem;
        a backdated run's page also names its 基准日 and scope (``asof-2026-03-31--all--…``)
        so that it never takes the place of the headline's page of the same rule."""
        parts = (self.suite, self.expectation, self.kind)
        if self.run.backdated:
            parts = (f"asof-{self.run.judged_on}", self.run.scope or "all", *parts)
        raw = "--".join(part for part in parts if part)
        return re.sub(r"[^A-Za-z0-9._-]+", "_", raw)

    @property
    def keys_truncated(self) -> bool:
        """Quality caps stored keys (1000 per row): fewer listed than failed."""
        return len(self.records) < self.tally.failed


@dataclass(slots=True)
class ScoreRow:
    code: str
    label: str
    rates: dict[str, Tally]


@dataclass(slots=True)
class ScopedRun:
    """The newest run of one suite limited to one region: shown apart, labelled with its
    scope, never mixed into the whole-topology figures."""

    scope: str
    scope_label: str
    suite: str
    run: RunInfo
    rates: dict[str, Tally]


@dataclass(slots=True)
class ReportModel:
    """Everything the pages, exports and PDF show, computed once.

    The headline (scorecards, rule table, drill-downs, trends) reads whole-topology runs
    that judged the day they ran only; runs limited to a region are in ``scoped``, runs
    judged as of another day (``--as-of``) in ``backdated``.
    """

    history: QualityHistory
    themes: list[Theme]
    overall: dict[str, Tally]
    by_dimension: dict[Dimension, list[ScoreRow]]
    expectations: list[ExpectationSummary]
    trends: dict[str, list[tuple[RunInfo, Tally]]]
    scoped: list[ScopedRun] = field(default_factory=list)
    # Rules of the newest backdated run (``--as-of`` a past day) per day, scope and
    # suite: listed apart with their drill-downs, never in the figures above.
    backdated: list[ExpectationSummary] = field(default_factory=list)

    @property
    def has_results(self) -> bool:
        return bool(self.expectations)


UNSPECIFIED = "未标明"


def region_label(code: str | None) -> str:
    if not code:
        return UNSPECIFIED
    region = lookup_region(code)
    return f"{region.name}（{code}）" if region else code


def level_label(code: str | None) -> str:
    if not code:
        return UNSPECIFIED
    label = _LEVEL_LABELS.get(code)
    return f"{label}（{code}）" if label else code


class NamedCode(str):
    """A code with its name, as text ``name（code）``; the parts stay known, so that the
    HTML pages can isolate the name (``<bdi>``): a department's name comes from its data,
    and right-to-left letters in it would otherwise move the code beside it."""

    name: str
    code: str

    def __new__(cls, name: str, code: str) -> NamedCode:
        label = super().__new__(cls, f"{name}（{code}）")
        label.name, label.code = name, code
        return label


def department_label(value: str | None, names: Mapping[str, str] | None = None) -> str:
    if not value:
        return UNSPECIFIED
    name = (names or {}).get(value)
    return NamedCode(name, value) if name else value


def _labellers(names: Mapping[str, str]) -> dict[Dimension, Callable[[str | None], str]]:
    return {
        "region_code": region_label,
        "level": level_label,
        "department": lambda value: department_label(value, names),
    }


def _rows_along(rows: list[ResultRow], dimension: Dimension | None) -> list[ResultRow]:
    """One expectation's rows that count each checked record exactly once.

    For the total (``None``) the ``total`` row(s); if quality stored none, the group rows
    (they partition the scope). For a dimension, the group rows: summed by that
    dimension's value they give its rates; NULL there means the record has no such
    attribute, shown as 未标明.
    """
    totals = [row for row in rows if row.is_total]
    groups = [row for row in rows if not row.is_total]
    if dimension is None:
        return totals or groups
    return groups


def _group_by_expectation(rows: Iterable[ResultRow]) -> dict[ExpectationKey, list[ResultRow]]:
    grouped: dict[ExpectationKey, list[ResultRow]] = defaultdict(list)
    for row in rows:
        grouped[(row.suite, row.expectation, row.kind or "")].append(row)
    return grouped


def _tally(rows: Iterable[ResultRow]) -> Tally:
    total = Tally()
    for row in rows:
        total += Tally(row.evaluated, row.failed)
    return total


def _records(rows: list[ResultRow], names: Mapping[str, str]) -> list[FailingRecord]:
    """Failing keys with the finest breakdown each is known under, listed once each."""
    seen: dict[str, FailingRecord] = {}
    ranked = sorted(rows, key=lambda r: r.is_total)
    for row in ranked:  # group rows first: they say where the record belongs
        for key in row.failing_keys:
            if key not in seen:
                seen[key] = FailingRecord(
                    key=key,
                    region=region_label(row.region_code),
                    level=level_label(row.level),
                    department=department_label(row.department, names),
                )
    return list(seen.values())


def _scorecard(
    grouped: dict[ExpectationKey, list[ResultRow]],
    dimension: Dimension,
    names: Mapping[str, str],
) -> list[ScoreRow]:
    cells: dict[str | None, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for (suite, expectation, _kind), rows in grouped.items():
        key = theme_of(suite, expectation)
        for row in _rows_along(rows, dimension):
            code = getattr(row, dimension)
            cells[code][key] += Tally(row.evaluated, row.failed)
    label = _labellers(names)[dimension]
    ordered = sorted(cells, key=lambda code: (code is None, code or ""))
    return [ScoreRow(code or "", label(code), dict(cells[code])) for code in ordered]


def _per_theme(rows: Iterable[ResultRow]) -> dict[str, Tally]:
    per_theme: dict[str, Tally] = defaultdict(Tally)
    for (suite, expectation, _kind), group in _group_by_expectation(rows).items():
        per_theme[theme_of(suite, expectation)] += _tally(_rows_along(group, None))
    return dict(per_theme)


def _scoped(history: QualityHistory) -> list[ScopedRun]:
    """The newest region-limited run per (scope, suite), by scope then suite."""
    return [
        ScopedRun(scope, region_label(scope), suite, run, _per_theme(rows))
        for (scope, suite), (run, rows) in sorted(history.latest_scoped().items())
    ]


def _trends(history: QualityHistory) -> dict[str, list[tuple[RunInfo, Tally]]]:
    """Per theme, one point per scored whole-topology run: a run limited to one region
    measured something else and would make the line jump."""
    trends: dict[str, list[tuple[RunInfo, Tally]]] = defaultdict(list)
    for run in history.whole_runs:
        for key, tally in _per_theme(history.results.get(run.id, [])).items():
            trends[key].append((run, tally))
    return dict(trends)


def departments_of(history: QualityHistory) -> list[str]:
    """Department codes the latest results are broken down by (to look their names up)."""
    shown = history.shown_runs()
    rows = (row for run_id in shown for row in history.results.get(run_id, []))
    return sorted({row.department for row in rows if row.department})


def build_model(
    history: QualityHistory, *, department_names: Mapping[str, str] | None = None
) -> ReportModel:
    """The report's figures from the history: the latest whole-topology run per suite,
    every whole-topology run for trends, region-limited runs apart."""
    names = department_names or {}
    expectations: list[ExpectationSummary] = []
    overall: dict[str, Tally] = defaultdict(Tally)
    latest_rows: list[ResultRow] = []
    for run, rows in history.latest_by_suite().values():
        latest_rows.extend(rows)
        expectations.extend(_summaries(run, rows, names))
    for e in expectations:
        overall[e.theme] += e.tally
    themes = ordered_themes(overall)
    order = {t.key: i for i, t in enumerate(themes)}
    expectations.sort(key=lambda e: (order[e.theme], e.suite, e.expectation, e.kind))
    by_day = sorted(history.latest_backdated().items(), key=lambda item: str(item[0]))
    backdated = [e for _, (run, rows) in by_day for e in _summaries(run, rows, names)]
    grouped = _group_by_expectation(latest_rows)
    return ReportModel(
        history=history,
        themes=themes,
        overall=dict(overall),
        by_dimension={dim: _scorecard(grouped, dim, names) for dim in DIMENSIONS},
        expectations=expectations,
        trends=_trends(history),
        scoped=_scoped(history),
        backdated=backdated,
    )


def _summaries(
    run: RunInfo, rows: list[ResultRow], names: Mapping[str, str]
) -> list[ExpectationSummary]:
    """One line per rule and record kind of one run's rows of one suite."""
    return [
        ExpectationSummary(
            suite=suite,
            expectation=expectation,
            kind=kind,
            title=group[0].title,
            regulation=next((r.regulation for r in group if r.regulation), "") or "",
            theme=theme_of(suite, expectation),
            run=run,
            tally=_tally(_rows_along(group, None)),
            records=_records(group, names),
        )
        for (suite, expectation, kind), group in _group_by_expectation(rows).items()
    ]
