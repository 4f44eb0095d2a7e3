"""Quality history: one row per quality run, and its results per rule and per scope.

The auditor report reads only these tables (and the libraries for drill-down), never
Great Expectations objects, so everything a scorecard or a trend needs is stored here:

* ``quality_runs`` — one run of one or more suites: when, over which scope, how it ended,
  its totals, and where GX wrote the run's Data Docs.
* ``quality_results`` — per expectation (a rule id) two grains of rows:
  ``grain = "total"``: the whole scope (``region_code``/``level``/``department`` NULL);
  ``grain = "group"``: one row per (region, level, department) the rule evaluated records
  in, so rates by region, by level or by department are sums over group rows. In a group
  row a NULL means the record carries no such attribute (a material with no case).
  ``department`` is the responsible authority's USCC (items: the implementing authority;
  cases: the authority in the 实施编码; licenses: the issuer). ``failing_keys`` are record
  keys, personal IDs masked, at most :data:`FAILING_KEYS_CAP` per row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tongyuan.libraries.base import Base, JsonDoc, UtcDateTime, new_id

FAILING_KEYS_CAP = 1000
RUN_STATUSES: tuple[str, ...] = ("running", "passed", "failed", "error")
GRAINS: tuple[str, ...] = ("total", "group")


class QualityRun(Base):
    """One quality run; ``status`` is ``passed`` only when no expectation failed."""

    __tablename__ = "quality_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    suite: Mapped[str] = mapped_column(String(200))  # suite names joined by ","
    scope: Mapped[str] = mapped_column(String(32))  # "all" or a region code
    status: Mapped[str] = mapped_column(String(16))
    evaluated: Mapped[int | None] = mapped_column(BigInteger)
    failed: Mapped[int | None] = mapped_column(BigInteger)
    pass_rate: Mapped[float | None] = mapped_column(Float)
    data_docs_path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # The hub-local day timeliness and validity were judged as of (``--as-of``); None for
    # runs stored before migration 0014.
    as_of: Mapped[date | None] = mapped_column(Date)


class QualityResult(Base):
    """One expectation's outcome over the run's scope or one (region, level, department)."""

    __tablename__ = "quality_results"
    __table_args__ = (Index("ix_quality_results_run_id_suite", "run_id", "suite"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("quality_runs.id", ondelete="CASCADE"))
    suite: Mapped[str] = mapped_column(String(32))
    expectation: Mapped[str] = mapped_column(String(64), index=True)  # the rule id
    title_zh: Mapped[str] = mapped_column(String(200))
    grain: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))  # item | case | material | license | ledger …
    region_code: Mapped[str | None] = mapped_column(String(12))
    level: Mapped[str | None] = mapped_column(String(4))
    department: Mapped[str | None] = mapped_column(String(64))
    evaluated: Mapped[int] = mapped_column(BigInteger)
    failed: Mapped[int] = mapped_column(BigInteger)
    pass_rate: Mapped[float] = mapped_column(Float)
    failing_keys: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)
    regulation: Mapped[str | None] = mapped_column(String(200))
