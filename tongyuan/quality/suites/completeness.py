"""Completeness: every element the item rules require is filled; every case field its state needs.

Item elements follow the 实施清单 elements the standard record requires (name, 设立依据,
办理条件, 办理地点, 办理流程, the three channels, 实施机构); blank text counts as missing.
A case must name its applicant, item and place; once accepted (a 已受理 event) it needs
``accepted_at``, once decided (an 办结 event) ``decided_at`` — the fields the state
machine promises downstream systems.
"""

from __future__ import annotations

from tongyuan.quality import populations
from tongyuan.quality.checks import Check, SuiteContext, failing, failing_joined

SUITE = "completeness"
EXPECTATION = "ExpectRequiredValuesPresent"
ITEM_REQUIRED: tuple[str, ...] = ("name", *populations.ITEM_TEXT_ELEMENTS)
CASE_REQUIRED: tuple[str, ...] = ("applicant_name", "applicant_id_hash", "impl_code", "region_code")
_ACCEPTED = "'3'"
_DONE = "('11', '12', '13')"


def checks(ctx: SuiteContext) -> list[Check]:
    items = populations.items(ctx)
    cases = populations.cases(ctx)
    missing_item = " OR ".join(f"{c} IS NULL" for c in ITEM_REQUIRED)
    missing_case = " OR ".join(f"b.{c} IS NULL" for c in CASE_REQUIRED)
    state_fields = (
        "LEFT JOIN (SELECT case_id, "
        f"MAX(CASE WHEN state = {_ACCEPTED} THEN 1 ELSE 0 END) AS was_accepted, "
        f"MAX(CASE WHEN state IN {_DONE} THEN 1 ELSE 0 END) AS was_decided "
        "FROM case_events GROUP BY case_id) s ON s.case_id = b.case_id"
    )
    case_where = (
        f"{missing_case} OR (s.was_accepted = 1 AND b.accepted_at IS NULL) "
        "OR (s.was_decided = 1 AND b.decided_at IS NULL)"
    )
    return [
        Check(SUITE, "item.required_elements", items, failing(missing_item), EXPECTATION),
        Check(
            SUITE,
            "case.required_fields",
            cases,
            failing_joined(state_fields, case_where),
            EXPECTATION,
        ),
    ]
