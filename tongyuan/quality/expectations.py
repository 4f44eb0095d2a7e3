"""Custom GX expectations for rules GX has no expectation for.

Each is an ``UnexpectedRowsExpectation`` whose query (over ``{batch}``, the population
query asset) returns the failing records' keys; GX counts them with ``COUNT(*)`` in the
database and renders them in Data Docs under the class's own name. Subclasses exist so
that Data Docs and the suites name what is checked (四级四同, legal state sequences…)
rather than showing one anonymous "SQL" expectation for every rule.

This module imports Great Expectations: import it only once a run has started
(:func:`tongyuan.quality.gx.import_gx` first).
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.expectations import UnexpectedRowsExpectation


class ExpectNoFailingRecords(UnexpectedRowsExpectation):
    """No record of the batch breaks a library rule (the query returns the failing ones).

    Only the count is a GX metric: the stock expectation also fetches a sample of the
    failing rows, which runs every query a second time; the failing keys are fetched
    once instead, per region, level and department, by the run's breakdown.
    """

    rule_family: ClassVar[str] = "library rule"
    metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.row_count",)

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        count = int(metrics["unexpected_rows_query.row_count"])
        return {"success": count == 0, "result": {"observed_value": count}}


class ExpectRequiredValuesPresent(ExpectNoFailingRecords):
    """Every element the rules require of the record is filled (blank text is missing)."""

    rule_family: ClassVar[str] = "completeness"


class ExpectBaseElementsConsistentAcrossLevels(ExpectNoFailingRecords):
    """四级四同: base elements equal the highest level's copy of the same 基本编码."""

    rule_family: ClassVar[str] = "cross-level consistency"


class ExpectCodesConsistent(ExpectNoFailingRecords):
    """The parts of a 实施编码 equal the item's authority, level and 基本编码."""

    rule_family: ClassVar[str] = "code consistency"


class ExpectReferencedItemsPublished(ExpectNoFailingRecords):
    """A case's 实施编码 names an item in force with review status published."""

    rule_family: ClassVar[str] = "references"


class ExpectWellFormedValues(ExpectNoFailingRecords):
    """Serials and identifiers are well formed (check characters computed in SQL)."""

    rule_family: ClassVar[str] = "identifiers"


class ExpectLegalStateSequences(ExpectNoFailingRecords):
    """Case events follow the legal transitions, in non-decreasing time."""

    rule_family: ClassVar[str] = "state machine"


class ExpectWithinDeadline(ExpectNoFailingRecords):
    """Nothing is past its working-day deadline as of the run's reference day."""

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
        ExpectReferencedItemsPublished,
        ExpectWellFormedValues,
        ExpectLegalStateSequences,
        ExpectWithinDeadline,
        ExpectLicensesUsable,
    )
}
