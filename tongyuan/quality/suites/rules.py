"""Rules: time limits, item references, serials, identifiers, region codes, state sequences.

* ``item.time_limit`` — 承诺时限 ≤ 法定时限.
* ``case.item.unpublished`` — a case's 实施编码 names an item in force and published.
* serials — ``case.serial.duplicate`` (the library's unique index should make it
  impossible; the check proves it for data migrated around it), ``case_serial.format``
  (≥ 43 characters, yyyyMMdd and sequence all digits, canonical width) and
  ``case.serial.mismatch`` (the serial starts with the case's 实施编码).
* identifiers — ``uscc.check`` runs GB 32100 in SQL on authority and issuer codes;
  ``region.unknown`` against the GB/T 2260 table.
  身份证号 are stored encrypted, so the database cannot see a check digit without
  decrypting — which would take personal data out of the database for every run. The
  full GB 11643 check (check digit, birth date) is applied at ingestion, before
  encryption; what the database can check, and does, is the stored display form: an
  18-character mask whose visible address digits name a real province
  (``citizen_id.region``).
* state sequences — each case's events in order (seq) start in 已接件/已受理 and follow
  the legal transitions (``case.events.transition``); their times never go backwards
  (``case.events.order``). One pass over ``case_events`` finds both
  (:func:`tongyuan.quality.populations.event_steps`), in the database.

GX has built-in expectations for uniqueness, set membership and column pairs, but each
scans the table again and none breaks its count down by region, level and department;
these rules are row predicates of their population like every other, so the one query
per population evaluates them too.
"""

from __future__ import annotations

from standards.codes.regions import REGIONS
from tongyuan.quality import populations
from tongyuan.quality.checks import Check, SuiteContext
from tongyuan.quality.sql import in_list

SUITE = "rules"
CITIZEN_ID = "111"
WELL_FORMED = "ExpectWellFormedValues"
KNOWN_CODES = "ExpectKnownCodes"
STATES = "ExpectLegalStateSequences"


def region_codes() -> list[str]:
    return sorted(r.code for r in REGIONS)


def checks(ctx: SuiteContext) -> list[Check]:
    d = ctx.dialect
    items = populations.items(ctx)
    cases = populations.cases(ctx)
    steps = populations.case_steps(ctx)
    licenses = populations.licenses(ctx)
    regions = region_codes()
    provinces = sorted({code[:2] for code in regions})

    serial_tail = "substr(serial, 32)"
    bad_format = (
        f"length(serial) < 43 OR {d.has_non_digit(serial_tail)} "
        "OR substr(serial, 36, 2) NOT BETWEEN '01' AND '12' "
        "OR substr(serial, 38, 2) NOT BETWEEN '01' AND '31' "
        "OR (length(serial) > 43 AND substr(serial, 40, 1) = '0')"
    )
    bad_mask = (
        f"{{p}}_id_type = '{CITIZEN_ID}' AND (length({{p}}_id_masked) <> 18 OR "
        f"substr({{p}}_id_masked, 1, 2) NOT IN {in_list(provinces)})"
    )
    unknown_region = f"region_code IS NOT NULL AND region_code NOT IN {in_list(regions)}"
    return [
        Check(
            SUITE,
            "item.time_limit",
            items,
            "promised_limit_days > statutory_limit_days",
            "ExpectPromisedWithinStatutoryLimit",
        ),
        Check(
            SUITE,
            "case.item.unpublished",
            cases,
            "item_published = 0",
            "ExpectReferencedItemsPublished",
        ),
        Check(SUITE, "case.serial.duplicate", cases, "serial_repeated = 1", "ExpectUniqueSerials"),
        Check(SUITE, "case_serial.format", cases, bad_format, WELL_FORMED),
        Check(
            SUITE, "case.serial.mismatch", cases, "substr(serial, 1, 31) <> impl_code", WELL_FORMED
        ),
        Check(SUITE, "uscc.check", items, d.uscc_invalid("authority_uscc"), WELL_FORMED),
        Check(
            SUITE,
            "uscc.check",
            licenses,
            f"length(issuer_code) = 18 AND {d.uscc_invalid('issuer_code')}",
            WELL_FORMED,
        ),
        Check(SUITE, "citizen_id.region", cases, bad_mask.replace("{p}", "applicant"), WELL_FORMED),
        Check(SUITE, "citizen_id.region", licenses, bad_mask.replace("{p}", "holder"), WELL_FORMED),
        Check(SUITE, "region.unknown", items, unknown_region, KNOWN_CODES),
        Check(SUITE, "region.unknown", cases, unknown_region, KNOWN_CODES),
        Check(SUITE, "region.unknown", licenses, unknown_region, KNOWN_CODES),
        Check(SUITE, "case.events.transition", steps, "bad_transition = 1", STATES),
        Check(SUITE, "case.events.order", steps, "bad_order = 1", STATES),
    ]
