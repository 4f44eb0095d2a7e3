"""Completeness: every element the item rules require is filled; every case field its state needs.

Item elements follow the 实施清单 elements the standard record requires (name, 设立依据,
办理条件, 办理地点, 办理流程, the three channels, 实施机构); blank text counts as missing.
A case must name its applicant, item and place; once accepted (a 已受理 event) it needs
``accepted_at``, once decided (an 办结 event) ``decided_at`` — the fields the state
machine promises downstream systems.
"""

from __future__ import annotations

from tongyuan.quality import populations
from tongyuan.quality.checks import Check, SuiteContext

SUITE = "completeness"
EXPECTATION = "ExpectRequiredValuesPresent"
ITEM_REQUIRED: tuple[str, ...] = ("name", *populations.ITEM_TEXT_ELEMENTS)
CASE_REQUIRED: tuple[str, ...] = ("applicant_name", "applicant_id_hash", "impl_code", "region_code")


def checks(ctx: SuiteContext) -> list[Check]:
    missing_item = " OR ".join(f"{c} IS NULL" for c in ITEM_REQUIRED)
    missing_case = " OR ".join(f"{c} IS NULL" for c in CASE_REQUIRED)
    case_condition = f"{missing_case} OR accepted_unrecorded = 1 OR decided_unrecorded = 1"
    return [
        Check(SUITE, "item.required_elements", populations.items(ctx), missing_item, EXPECTATION),
        Check(SUITE, "case.required_fields", populations.cases(ctx), case_condition, EXPECTATION),
    ]
