"""Cross-level consistency (四级四同) and implementation codes that agree with their item.

四级四同: an item implemented at several levels carries the same name, 基本编码, 设立依据,
type and statutory limit everywhere (``Item.BASE_ELEMENTS``). The reference copy of a
基本编码 is the one at the highest level (smallest 行使层级, then the smallest 实施编码):
that is where the base catalogue is issued, so a lower copy that differs is the one that
drifted and the one reported. A 实施编码 is 实施机构 USCC (18) + 行使层级 (1) + 基本编码
(12): each part must equal the item's own element; a 基本编码 is national (``00``) or from
the item's own province's catalogue.

The item sync never lets a disagreeing copy overwrite its owner's values: the library
holds the owners' values and the disagreement is an open consistency finding. So the
rules also run over the open findings: a ``base`` finding breaks 四级四同
(``item.base_elements.inconsistent`` over findings), an ``implementation`` or ``status``
one breaks 一数一源 (``item.copy.inconsistent``). Each open finding is one failure.
"""

from __future__ import annotations

from tongyuan.quality import populations
from tongyuan.quality.checks import Check, SuiteContext

SUITE = "consistency"


def checks(ctx: SuiteContext) -> list[Check]:
    items = populations.items(ctx)
    differs = (
        "COALESCE(name, '') <> COALESCE(ref_name, '') "
        "OR item_type <> ref_item_type "
        "OR COALESCE(legal_basis, '') <> COALESCE(ref_legal_basis, '') "
        "OR statutory_limit_days <> ref_statutory_limit_days"
    )
    codes = "ExpectCodesConsistent"
    found = [
        Check(
            SUITE,
            "item.base_elements.inconsistent",
            items,
            differs,
            "ExpectBaseElementsConsistentAcrossLevels",
        ),
        Check(
            SUITE,
            "item.impl_code.authority_mismatch",
            items,
            "substr(impl_code, 1, 18) <> authority_uscc",
            codes,
        ),
        Check(
            SUITE,
            "item.impl_code.level_mismatch",
            items,
            "substr(impl_code, 19, 1) <> exercise_level",
            codes,
        ),
        Check(
            SUITE,
            "item.impl_code.basic_mismatch",
            items,
            "substr(impl_code, 20, 12) <> basic_code",
            codes,
        ),
        # Items stored before the sync refused them (standards.validation.record_checks).
        Check(
            SUITE,
            "item.basic_code.other_province",
            items,
            "substr(basic_code, 1, 2) NOT IN ('00', substr(region_code, 1, 2))",
            codes,
        ),
    ]
    if "consistency_findings" in ctx.tables:
        found += [
            Check(
                SUITE,
                "item.base_elements.inconsistent",
                populations.findings(ctx, ("base",), "base_findings"),
                "status = 'open'",
                "ExpectBaseElementsConsistentAcrossLevels",
            ),
            Check(
                SUITE,
                "item.copy.inconsistent",
                populations.findings(ctx, ("implementation", "status"), "copy_findings"),
                "status = 'open'",
                "ExpectBaseElementsConsistentAcrossLevels",
            ),
        ]
    return found
