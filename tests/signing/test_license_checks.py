"""License semantics that need no database: identifier, issuer agreement, dates vs signing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from lxml import etree
from std_factories import AUTHORITY, PERSON, make_license

from signing.license_checks import (
    check_license_semantics,
    check_signed_license,
    semantics_passed,
)
from signing.license_xml import build_license_document
from signing.xmldsig import read_verified_license_xml, sign_license_xml
from standards.identifiers import build_license_identifier

OTHER_ISSUER = "91110000600037341L"  # a valid USCC (GB 32100 example)
SIGNED_AT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def by_name(checks):
    return {c.name: c for c in checks}


def test_a_coherent_license_passes_every_check():
    checks = check_license_semantics(make_license(), signing_time=SIGNED_AT)
    assert semantics_passed(checks)
    assert set(by_name(checks)) == {
        "license.identifier",
        "license.identifier.issuer",
        "license.identifier.type_code",
        "license.identifier.version",
        "license.issuer_code",
        "license.validity",
        "license.signing_time",
    }


def test_wrong_check_character_fails_the_identifier():
    good = make_license().identifier
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    checks = by_name(check_license_semantics(make_license(identifier=wrong)))
    assert checks["license.identifier"].passed is False
    assert "[license_id.check]" in checks["license.identifier"].detail
    assert "license.identifier.issuer" not in checks  # segments of a bad identifier are not read


def test_malformed_identifier_is_a_format_failure_of_the_identifier():
    checks = by_name(check_license_semantics(make_license(identifier="1.2.156.3005.2.XYZ")))
    assert checks["license.identifier"].passed is False
    assert "[license_id.format]" in checks["license.identifier"].detail


def test_issuer_in_the_identifier_must_be_the_issuer_code():
    license = make_license()
    identifier = build_license_identifier(license.type_code, OTHER_ISSUER, "A0000001", "001")
    checks = by_name(check_license_semantics(make_license(identifier=identifier)))
    assert checks["license.identifier"].passed is True  # well formed, right check character
    assert checks["license.identifier.issuer"].passed is False
    assert OTHER_ISSUER in checks["license.identifier.issuer"].detail
    assert checks["license.identifier.type_code"].passed is True
    assert not semantics_passed(checks.values())


def test_version_in_the_identifier_must_be_the_record_version():
    checks = by_name(check_license_semantics(make_license(version="002")))
    assert checks["license.identifier.version"].passed is False
    assert "[license.identifier.mismatch]" in checks["license.identifier.version"].detail


def test_identifier_segments_compare_after_normalisation():
    license = make_license()
    lower = license.identifier.lower().replace(".", " . ", 1)
    assert semantics_passed(check_license_semantics(make_license(identifier=lower)))


def test_region_code_issuer_is_accepted_and_a_bad_uscc_is_not():
    type_code = AUTHORITY + "001"
    ident = build_license_identifier(type_code, "440305", "A0000001", "001")
    region_issued = make_license(identifier=ident, issuer_code="440305")
    assert semantics_passed(check_license_semantics(region_issued))
    bad_uscc = AUTHORITY[:-1] + ("0" if AUTHORITY[-1] != "0" else "1")
    checks = by_name(check_license_semantics(make_license(issuer_code=bad_uscc)))
    assert checks["license.issuer_code"].passed is False
    assert "[uscc." in checks["license.issuer_code"].detail


def test_validity_that_ends_before_it_starts_fails():
    license = make_license(valid_from=date(2026, 3, 6), valid_to=date(2026, 3, 1))
    check = by_name(check_license_semantics(license))["license.validity"]
    assert check.passed is False and "[license.validity]" in check.detail
    long_term = make_license(valid_to=None)
    assert by_name(check_license_semantics(long_term))["license.validity"].passed is True


@pytest.mark.parametrize(
    ("signed_at", "ok"),
    [
        # 2026-03-05 17:00 UTC is 2026-03-06 01:00 in Beijing: the issue date itself.
        (datetime(2026, 3, 5, 17, 0, tzinfo=UTC), True),
        (datetime(2026, 3, 5, 15, 0, tzinfo=UTC), False),  # 2026-03-05 23:00 Beijing
        (datetime(2031, 3, 5, 12, 0, tzinfo=UTC), True),  # last day of validity
        (datetime(2031, 3, 6, 12, 0, tzinfo=UTC), False),  # after it ran out
    ],
)
def test_signing_time_must_fall_between_issue_and_expiry(signed_at, ok):
    license = make_license(issue_date=date(2026, 3, 6), valid_to=date(2031, 3, 5))
    check = by_name(check_license_semantics(license, signing_time=signed_at))[
        "license.signing_time"
    ]
    assert check.passed is ok, check.detail


def test_long_term_license_can_be_signed_any_time_after_issue():
    license = make_license(valid_to=None)
    later = datetime(2040, 1, 1, tzinfo=UTC)
    assert semantics_passed(check_license_semantics(license, signing_time=later))


def test_checks_on_a_verified_signed_license(test_pki):
    key, chain = test_pki.signer("ecdsa")
    signing_time = test_pki.now - timedelta(days=1)
    xml = sign_license_xml(
        build_license_document(make_license(valid_to=date(2026, 5, 1))),
        key,
        chain,
        signing_time=signing_time,
    )
    result = read_verified_license_xml(xml, test_pki.trust, now=test_pki.now)
    assert result.report.passed  # the signature is fine…
    checks = by_name(check_signed_license(result.trusted_license))
    assert checks["license.schema"].passed is True
    assert checks["license.signing_time"].passed is False  # …but it signed an expired license
    assert PERSON not in str([c.detail for c in checks.values()])


def test_a_signed_document_that_is_not_a_valid_record_fails_the_schema_check(test_pki):
    root = etree.fromstring(build_license_document(make_license()))
    root.find("license/version").text = "1"
    etree.SubElement(root.find("license"), "colour").text = "red"
    key, chain = test_pki.signer("ecdsa")
    xml = sign_license_xml(
        etree.tostring(root), key, chain, signing_time=test_pki.now - timedelta(days=1)
    )
    result = read_verified_license_xml(xml, test_pki.trust, now=test_pki.now)
    assert result.report.passed
    checks = check_signed_license(result.trusted_license)
    assert [c.name for c in checks] == ["license.schema"]
    assert checks[0].passed is False
    assert "version [" in checks[0].detail and "colour [schema.unknown_field]" in checks[0].detail
