"""The populations the suites check: current items, cases, licenses, claims, reviews.

Each is a SELECT the database runs (a GX query asset): the four key columns first, then
what the rules look at. Nothing here is loaded into Python.
"""

from __future__ import annotations

from tongyuan.quality.checks import Population, SuiteContext, region_level

_CASE_KEYS = (
    "c.serial AS record_key, c.region_code AS region_code, "
    "substr(c.impl_code, 19, 1) AS level, substr(c.impl_code, 1, 18) AS department"
)
ITEM_TEXT_ELEMENTS: tuple[str, ...] = (
    "legal_basis",
    "conditions",
    "location",
    "process",
    "query_channels",
    "consult_channels",
    "complaint_channels",
    "authority_name",
)


def items(ctx: SuiteContext) -> Population:
    """Items in force: the current, not cancelled version of every 实施编码."""
    d = ctx.dialect
    elements = ", ".join(
        f"{d.blank_to_null(d.json_text('v.data', name))} AS {name}" for name in ITEM_TEXT_ELEMENTS
    )
    sql = (
        "SELECT v.impl_code AS record_key, v.region_code AS region_code, "
        "v.exercise_level AS level, v.authority_uscc AS department, "
        "v.impl_code AS impl_code, v.basic_code AS basic_code, "
        f"{d.blank_to_null('v.name')} AS name, v.item_type AS item_type, v.status AS status, "
        "v.exercise_level AS exercise_level, v.authority_uscc AS authority_uscc, "
        "v.statutory_limit_days AS statutory_limit_days, "
        f"v.promised_limit_days AS promised_limit_days, {elements} "
        "FROM item_versions v "
        f"WHERE v.valid_to IS NULL AND NOT v.is_tombstone AND {ctx.in_scope('v.region_code')}"
    )
    return Population("items", "item", sql)


def cases(ctx: SuiteContext) -> Population:
    """Every case, keyed by its unified serial; the authority and level come from 实施编码."""
    d = ctx.dialect
    sql = (
        f"SELECT {_CASE_KEYS}, "
        "c.id AS case_id, c.serial AS serial, c.impl_code AS impl_code, "
        "c.current_state AS current_state, c.accepted_at AS accepted_at, "
        "c.decided_at AS decided_at, c.promised_deadline AS promised_deadline, "
        f"{d.blank_to_null('c.applicant_name')} AS applicant_name, "
        "c.applicant_id_type AS applicant_id_type, "
        "c.applicant_id_masked AS applicant_id_masked, "
        f"{d.blank_to_null('c.applicant_id_hash')} AS applicant_id_hash "
        f"FROM cases c WHERE {ctx.in_scope('c.region_code')}"
    )
    return Population("cases", "case", sql)


def case_deadlines(ctx: SuiteContext) -> Population:
    """Cases with their working-day deadline and timeliness status (ingestion computes them)."""
    sql = (
        f"SELECT {_CASE_KEYS}, c.current_state AS current_state, c.decided_at AS decided_at, "
        "c.promised_deadline AS promised_deadline, t.status AS timeliness_status, "
        "t.deadline AS deadline "
        "FROM cases c LEFT JOIN case_timeliness t ON t.case_id = c.id "
        f"WHERE {ctx.in_scope('c.region_code')}"
    )
    return Population("case_deadlines", "case", sql)


def licenses(ctx: SuiteContext) -> Population:
    """E-license catalogue entries; the level is the related item's, the issuer the department."""
    sql = (
        "SELECT l.identifier AS record_key, l.region_code AS region_code, "
        "substr(l.item_code, 19, 1) AS level, l.issuer_code AS department, "
        "l.issuer_code AS issuer_code, l.status AS status, l.valid_to AS valid_to, "
        "l.indication AS indication, l.subindication AS subindication, "
        "l.holder_id_type AS holder_id_type, l.holder_id_masked AS holder_id_masked "
        f"FROM licenses l WHERE {ctx.in_scope('l.region_code')}"
    )
    return Population("licenses", "license", sql)


def claims(ctx: SuiteContext) -> Population:
    """Base items pushed down to a node to be claimed (认领), one row per node and 基本编码."""
    sql = (
        "SELECT k.node || '/' || k.basic_code AS record_key, k.node AS region_code, "
        f"{region_level('k.node')} AS level, NULL AS department, "
        "k.status AS status, k.deadline AS deadline "
        f"FROM item_claims k WHERE {ctx.in_scope('k.node')}"
    )
    return Population("claims", "claim", sql)


def reviews(ctx: SuiteContext) -> Population:
    """Item copies in the review workflow, one row per node and 实施编码."""
    sql = (
        "SELECT r.node || '/' || r.impl_code AS record_key, r.node AS region_code, "
        "substr(r.impl_code, 19, 1) AS level, substr(r.impl_code, 1, 18) AS department, "
        "r.status AS status, r.review_due AS review_due, r.correction_due AS correction_due "
        f"FROM item_reviews r WHERE {ctx.in_scope('r.node')}"
    )
    return Population("reviews", "review", sql)
