"""Rules: time limits, item references, serials, identifiers, region codes, state sequences.

* ``item.time_limit`` — 承诺时限 ≤ 法定时限 (GX's column-pair expectation).
* ``case.item.unpublished`` — a case's 实施编码 names an item in force and published.
* serials — ``case.serial.duplicate`` (GX's unique expectation; the library's unique
  index should make it impossible, the check proves it for data migrated around it),
  ``case_serial.format`` (≥ 43 characters, yyyyMMdd and sequence all digits, canonical
  width) and ``case.serial.mismatch`` (the serial starts with the case's 实施编码).
* identifiers — ``uscc.check`` runs GB 32100 in SQL on authority and issuer codes;
  ``region.unknown`` against the GB/T 2260 table (GX's in-set expectation).
  身份证号 are stored encrypted, so the database cannot see a check digit without
  decrypting — which would take personal data out of the database for every run. The
  full GB 11643 check (check digit, birth date) is applied at ingestion, before
  encryption; what the database can check, and does, is the stored display form: an
  18-character mask whose visible address digits name a real province
  (``citizen_id.region``).
* state sequences — each case's events in order (seq) start in 已接件/已受理 and follow
  the legal transitions (``case.events.transition``); their times never go backwards
  (``case.events.order``). Window functions over ``case_events``, in the database.
"""

from __future__ import annotations

from standards.codes.regions import REGIONS
from standards.validation.state_machine import INITIAL_STATES, TRANSITIONS
from tongyuan.quality import populations
from tongyuan.quality.checks import Check, SuiteContext, failing, failing_joined
from tongyuan.quality.sql import in_list

SUITE = "rules"
CITIZEN_ID = "111"
WELL_FORMED = "ExpectWellFormedValues"


def region_codes() -> list[str]:
    return sorted(r.code for r in REGIONS)


def _legal_steps() -> list[str]:
    return sorted(f"{a.value}>{b.value}" for a, targets in TRANSITIONS.items() for b in targets)


def _event_steps(where: str) -> str:
    """Cases (as a join) having an event step that matches ``where`` (over prev/state/at)."""
    return (
        "JOIN (SELECT DISTINCT case_id FROM (SELECT e.case_id AS case_id, e.state AS state, "
        "e.at AS at, LAG(e.state) OVER (PARTITION BY e.case_id ORDER BY e.seq) AS prev_state, "
        "LAG(e.at) OVER (PARTITION BY e.case_id ORDER BY e.seq) AS prev_at "
        f"FROM case_events e) steps WHERE {where}) bad ON bad.case_id = b.case_id"
    )


def checks(ctx: SuiteContext) -> list[Check]:
    d = ctx.dialect
    items = populations.items(ctx)
    cases = populations.cases(ctx)
    licenses = populations.licenses(ctx)
    regions = region_codes()
    provinces = sorted({code[:2] for code in regions})

    published = (
        "LEFT JOIN item_versions v ON v.impl_code = b.impl_code AND v.valid_to IS NULL "
        "AND NOT v.is_tombstone AND v.status = 'published'"
    )
    serial_tail = "substr(serial, 32)"
    bad_format = (
        f"length(serial) < 43 OR {d.has_non_digit(serial_tail)} "
        "OR substr(serial, 36, 2) NOT BETWEEN '01' AND '12' "
        "OR substr(serial, 38, 2) NOT BETWEEN '01' AND '31' "
        "OR (length(serial) > 43 AND substr(serial, 40, 1) = '0')"
    )
    duplicate = (
        "JOIN (SELECT d.serial AS serial FROM {batch} AS d GROUP BY d.serial "
        "HAVING COUNT(*) > 1) dup ON dup.serial = b.serial"
    )
    initial = in_list(sorted(s.value for s in INITIAL_STATES))
    transition = (
        f"(prev_state IS NULL AND state NOT IN {initial}) OR (prev_state IS NOT NULL "
        f"AND prev_state || '>' || state NOT IN {in_list(_legal_steps())})"
    )
    bad_mask = (
        "{p}_id_type = '111' AND (length({p}_id_masked) <> 18 OR "
        f"substr({{p}}_id_masked, 1, 2) NOT IN {in_list(provinces)})"
    )
    in_set = {"column": "region_code", "value_set": regions}
    unknown_region = f"region_code IS NOT NULL AND region_code NOT IN {in_list(regions)}"
    return [
        Check(
            SUITE,
            "item.time_limit",
            items,
            failing("promised_limit_days > statutory_limit_days"),
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {
                "column_A": "statutory_limit_days",
                "column_B": "promised_limit_days",
                "or_equal": True,
            },
        ),
        Check(
            SUITE,
            "case.item.unpublished",
            cases,
            failing_joined(published, "v.id IS NULL"),
            "ExpectReferencedItemsPublished",
        ),
        Check(
            SUITE,
            "case.serial.duplicate",
            cases,
            failing_joined(duplicate),
            "ExpectColumnValuesToBeUnique",
            {"column": "serial"},
        ),
        Check(SUITE, "case_serial.format", cases, failing(bad_format), WELL_FORMED),
        Check(
            SUITE,
            "case.serial.mismatch",
            cases,
            failing("substr(serial, 1, 31) <> impl_code"),
            WELL_FORMED,
        ),
        Check(SUITE, "uscc.check", items, failing(d.uscc_invalid("authority_uscc")), WELL_FORMED),
        Check(
            SUITE,
            "uscc.check",
            licenses,
            failing(f"length(issuer_code) = 18 AND {d.uscc_invalid('issuer_code')}"),
            WELL_FORMED,
        ),
        Check(
            SUITE,
            "citizen_id.region",
            cases,
            failing(bad_mask.replace("{p}", "applicant")),
            WELL_FORMED,
        ),
        Check(
            SUITE,
            "citizen_id.region",
            licenses,
            failing(bad_mask.replace("{p}", "holder")),
            WELL_FORMED,
        ),
        Check(
            SUITE,
            "region.unknown",
            items,
            failing(unknown_region),
            "ExpectColumnValuesToBeInSet",
            in_set,
        ),
        Check(
            SUITE,
            "region.unknown",
            cases,
            failing(unknown_region),
            "ExpectColumnValuesToBeInSet",
            in_set,
        ),
        Check(
            SUITE,
            "region.unknown",
            licenses,
            failing(unknown_region),
            "ExpectColumnValuesToBeInSet",
            in_set,
        ),
        Check(
            SUITE,
            "case.events.transition",
            cases,
            failing_joined(_event_steps(transition)),
            "ExpectLegalStateSequences",
        ),
        Check(
            SUITE,
            "case.events.order",
            cases,
            failing_joined(_event_steps("prev_at IS NOT NULL AND at < prev_at")),
            "ExpectLegalStateSequences",
        ),
    ]
