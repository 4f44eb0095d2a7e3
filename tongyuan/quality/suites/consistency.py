"""Cross-level consistency (四级四同) and implementation codes that agree with their item.

四级四同: an item implemented at several levels carries the same name, 基本编码, 设立依据,
type and statutory limit everywhere (``Item.BASE_ELEMENTS``). The reference copy of a
基本编码 is the one at the highest level (smallest 行使层级, then the smallest 实施编码):
that is where the base catalogue is issued, so a lower copy that differs is the one that
drifted and the one reported. A 实施编码 is 实施机构 USCC (18) + 行使层级 (1) + 基本编码
(12): each part must equal the item's own element.
"""

from __future__ import annotations

from tongyuan.quality import populations
from tongyuan.quality.checks import Check, SuiteContext, failing, failing_joined

SUITE = "consistency"


def checks(ctx: SuiteContext) -> list[Check]:
    items = populations.items(ctx)
    reference = (
        "JOIN (SELECT basic_code, name, item_type, legal_basis, statutory_limit_days FROM "
        "(SELECT r.basic_code, r.name, r.item_type, r.legal_basis, r.statutory_limit_days, "
        "ROW_NUMBER() OVER (PARTITION BY r.basic_code ORDER BY r.exercise_level, r.impl_code) "
        "AS rank_in_code FROM {batch} AS r) ranked WHERE rank_in_code = 1) ref "
        "ON ref.basic_code = b.basic_code"
    )
    differs = (
        "COALESCE(b.name, '') <> COALESCE(ref.name, '') "
        "OR b.item_type <> ref.item_type "
        "OR COALESCE(b.legal_basis, '') <> COALESCE(ref.legal_basis, '') "
        "OR b.statutory_limit_days <> ref.statutory_limit_days"
    )
    codes = "ExpectCodesConsistent"
    return [
        Check(
            SUITE,
            "item.base_elements.inconsistent",
            items,
            failing_joined(reference, differs),
            "ExpectBaseElementsConsistentAcrossLevels",
        ),
        Check(
            SUITE,
            "item.impl_code.authority_mismatch",
            items,
            failing("substr(impl_code, 1, 18) <> authority_uscc"),
            codes,
        ),
        Check(
            SUITE,
            "item.impl_code.level_mismatch",
            items,
            failing("substr(impl_code, 19, 1) <> exercise_level"),
            codes,
        ),
        Check(
            SUITE,
            "item.impl_code.basic_mismatch",
            items,
            failing("substr(impl_code, 20, 12) <> basic_code"),
            codes,
        ),
    ]
