"""Custom GX expectations for the library rules, and the one metric they all read.

Every rule of a population is a predicate over one of its rows, so one query evaluates
all of them: the ``tongyuan.failing_by_group`` metric keeps the population's (the
batch's) rows that break any rule and returns, per rule and (region, level,
department), the failure count and the first failing keys. Each expectation names the
metric's query (the same text for every rule of the population) and its own position
in it; GX resolves the metric once per validation, and :class:`FailingByGroup` answers
later validations of the same batch and query (the other suites over the population)
from what the first one computed, so a run reads each population once however many
suites and rules look at it.

The subclasses exist so that Data Docs and the suites name what is checked (四级四同,
legal state sequences…) rather than one anonymous "SQL" expectation for every rule.

This module imports Great Expectations: import it only once a run has started
(:func:`tongyuan.quality.gx.import_gx` first).
"""

from __future__ import annotations

import weakref
from typing import Any, ClassVar

from great_expectations.compatibility import pydantic
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import BatchExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metric_provider import QueryMetricProvider
from sqlalchemy import text

from tongyuan.quality.finding_keys import shown_key

METRIC = "tongyuan.failing_by_group"
Row = tuple[int, str | None, str | None, str | None, str, int]

# Results per execution engine (one per run's context), by batch and query text: the
# batch is a query over the libraries, which nothing writes to while a run reads them.
_computed: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], list[Row]]] = (
    weakref.WeakKeyDictionary()
)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class FailingByGroup(QueryMetricProvider):
    """``(position, region, level, department, key, group count)`` per failing key kept."""

    metric_name = METRIC
    value_keys = ("failing_query",)
    query_param_name: ClassVar[str] = "failing_query"

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(
        cls,
        execution_engine: SqlAlchemyExecutionEngine,
        metric_domain_kwargs: dict,
        metric_value_kwargs: dict,
        metrics: dict[str, Any],
        runtime_configuration: dict,
    ) -> list[Row]:
        query = cls._get_query_from_metric_value_kwargs(metric_value_kwargs)
        memo = _computed.setdefault(execution_engine, {})
        key = (str(metric_domain_kwargs.get("batch_id")), query)
        if key not in memo:
            selectable, _, _ = execution_engine.get_compute_domain(
                metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE
            )
            sql = cls._get_substituted_batch_subquery_from_query_and_batch_selectable(
                query=query, batch_selectable=selectable, execution_engine=execution_engine
            )
            memo[key] = [
                (int(r[0]), _text(r[1]), _text(r[2]), _text(r[3]), str(r[4]), int(r[5]))
                for r in execution_engine.execute_query(text(sql))
            ]
        return memo[key]


class ExpectNoFailingRecords(BatchExpectation):
    """No record of the batch breaks a library rule.

    ``condition`` is the rule (true for a failing record), shown in Data Docs;
    ``failing_query`` is the population's query that evaluates it with the population's
    other rules, ``rule_position`` this rule's place there. The result's ``details``
    hold, per group with failures, the count and the first keys (masked: keys are
    record keys, but a source system may have put an ID number in one; the values in a
    finding's key are cut only after masking, see :func:`shown_key`).
    """

    condition: str = pydantic.Field(description="SQL predicate true for a failing record")
    failing_query: str
    rule_position: int
    # Where the query flags the records this rule cannot judge (None: it judges all).
    unjudged_position: int | None = None

    rule_family: ClassVar[str] = "library rule"
    metric_dependencies: ClassVar[tuple[str, ...]] = (METRIC,)
    success_keys: ClassVar[tuple[str, ...]] = (
        "failing_query", "rule_position", "unjudged_position",
    )  # fmt: skip
    domain_keys: ClassVar[tuple[str, ...]] = ("batch_id", "row_condition", "condition_parser")

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        groups: dict[tuple[str | None, str | None, str | None], list[Any]] = {}
        unjudged: dict[tuple[str | None, str | None, str | None], int] = {}
        for position, region, level, department, key, count in metrics[METRIC]:
            if position == self.rule_position:
                group = groups.setdefault((region, level, department), [count, []])
                group[1].append(shown_key(key))
            elif position == self.unjudged_position:
                unjudged[(region, level, department)] = count
        failed = sum(count for count, _ in groups.values())
        return {
            "success": failed == 0,
            "result": {
                "observed_value": failed,
                "details": {
                    "groups": [[*group, count, keys] for group, (count, keys) in groups.items()],
                    # Records per group the rule could not judge (not evaluated).
                    "unjudged": [[*group, count] for group, count in unjudged.items()],
                },
            },
        }


class ExpectRequiredValuesPresent(ExpectNoFailingRecords):
    """Every element the rules require of the record is filled (blank text is missing)."""

    rule_family: ClassVar[str] = "completeness"


class ExpectBaseElementsConsistentAcrossLevels(ExpectNoFailingRecords):
    """四级四同: base elements equal the highest level's copy of the same 基本编码."""

    rule_family: ClassVar[str] = "cross-level consistency"


class ExpectCodesConsistent(ExpectNoFailingRecords):
    """The parts of a 实施编码 equal the item's authority, level and 基本编码."""

    rule_family: ClassVar[str] = "code consistency"


class ExpectPromisedWithinStatutoryLimit(ExpectNoFailingRecords):
    """承诺办结时限 is at most 法定办结时限."""

    rule_family: ClassVar[str] = "time limits"


class ExpectReferencedItemsPublished(ExpectNoFailingRecords):
    """A case's 实施编码 names an item in force with review status published."""

    rule_family: ClassVar[str] = "references"


class ExpectUniqueSerials(ExpectNoFailingRecords):
    """No two cases in scope share a 办件编号."""

    rule_family: ClassVar[str] = "uniqueness"


class ExpectWellFormedValues(ExpectNoFailingRecords):
    """Serials and identifiers are well formed (check characters computed in SQL)."""

    rule_family: ClassVar[str] = "identifiers"


class ExpectKnownCodes(ExpectNoFailingRecords):
    """Codes name an entry of their code table (GB/T 2260 regions)."""

    rule_family: ClassVar[str] = "code tables"


class ExpectLegalStateSequences(ExpectNoFailingRecords):
    """Case events follow the legal transitions, in non-decreasing time."""

    rule_family: ClassVar[str] = "state machine"


class ExpectWithinDeadline(ExpectNoFailingRecords):
    """Nothing is past its working-day deadline as of the run's reference day."""

    rule_family: ClassVar[str] = "timeliness"


class ExpectDeadlineKnown(ExpectNoFailingRecords):
    """Every running clock has a deadline: the calendar knew the years it needed."""

    rule_family: ClassVar[str] = "timeliness"


class ExpectLicensesUsable(ExpectNoFailingRecords):
    """E-licenses are verified (indication PASSED), in force and not revoked."""

    rule_family: ClassVar[str] = "licenses"


CUSTOM: dict[str, type[ExpectNoFailingRecords]] = {
    cls.__name__: cls
    for cls in (
        ExpectRequiredValuesPresent,
        ExpectBaseElementsConsistentAcrossLevels,
        ExpectCodesConsistent,
        ExpectPromisedWithinStatutoryLimit,
        ExpectReferencedItemsPublished,
        ExpectUniqueSerials,
        ExpectWellFormedValues,
        ExpectKnownCodes,
        ExpectLegalStateSequences,
        ExpectWithinDeadline,
        ExpectDeadlineKnown,
        ExpectLicensesUsable,
    )
}
