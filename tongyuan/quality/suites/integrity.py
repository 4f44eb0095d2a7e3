"""Integrity in the database: licenses verified, in force and not revoked.

A license counts as verified when the signing component recorded indication PASSED
(ETSI EN 319 102-1); never verified (NULL) fails too — an unverified license is not
evidence. Material files and the ledger chain need the files and the chain itself; they
are checked by :mod:`tongyuan.quality.files` and stored in the same history.
"""

from __future__ import annotations

from tongyuan.quality import populations
from tongyuan.quality.checks import Check, SuiteContext
from tongyuan.quality.sql import date_literal

SUITE = "integrity"
EXPECTATION = "ExpectLicensesUsable"


def checks(ctx: SuiteContext) -> list[Check]:
    licenses = populations.licenses(ctx)
    day = date_literal(ctx.as_of)
    return [
        Check(
            SUITE,
            "license.signature",
            licenses,
            "indication IS NULL OR indication <> 'PASSED'",
            EXPECTATION,
        ),
        Check(
            SUITE,
            "license.expired",
            licenses,
            f"status = 'expired' OR (valid_to IS NOT NULL AND valid_to < {day})",
            EXPECTATION,
        ),
        Check(SUITE, "license.revoked", licenses, "status = 'revoked'", EXPECTATION),
    ]
