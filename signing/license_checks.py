"""What a signed license must say about itself, checked without the license library.

A valid signature proves who wrote a license, not that what it says is coherent. These
checks need only the license and its signing time:

- ``license.identifier``: the GB/T 36904 identifier parses and its MOD 37,36 check
  character is right (``standards.identifiers``);
- ``license.identifier.issuer`` / ``.type_code`` / ``.version``: the identifier's segments
  name the same issuer, license type and version as the catalogue fields;
- ``license.issuer_code``: the issuer code is a valid USCC (or 6-digit region code, which
  some issuers use);
- ``license.validity``: the validity period does not end before it starts;
- ``license.signing_time``: the license was signed on or after its issue date and not
  after its validity ended (dates in Beijing time, as licenses are dated).

Status in the library, holder = case applicant and "the item exists" need the database
and belong to the license pipeline. Results are report checks (``signing.report.Check``)
so they can be appended to a verification report; failed details name the standard's rule
id in brackets. Details never quote the holder's identifier.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from signing.license_xml import BEIJING, SignedLicense
from signing.report import Check
from standards.identifiers import (
    InvalidIdentifier,
    normalize_code,
    parse_license_identifier,
    validate_region_code,
    validate_uscc,
)
from standards.records import License


def check_signed_license(signed: SignedLicense) -> list[Check]:
    """Schema, then semantics, of the license as signed (see the module docstring)."""
    record, findings = signed.record()
    if record is None:
        problems = "; ".join(f"{f.field or 'record'} [{f.rule}]" for f in findings)
        return [Check("license.schema", False, f"not a valid license record: {problems}")]
    checks = [Check("license.schema", True, "a valid license record (GB/T 36902 fields)")]
    checks.extend(check_license_semantics(record, signing_time=signed.signing_time))
    return checks


def check_license_semantics(
    license: License, *, signing_time: datetime | None = None
) -> list[Check]:
    """Identifier, issuer agreement, validity and (when known) the signing time."""
    checks: list[Check] = []
    try:
        ident = parse_license_identifier(license.identifier)
    except InvalidIdentifier as exc:
        checks.append(Check("license.identifier", False, f"{exc.message} [{exc.rule}]"))
        ident = None
    else:
        checks.append(Check("license.identifier", True, f"check character {ident.check} is right"))
    if ident is not None:
        for name, segment, field_value, label in (
            ("issuer", ident.issuer_code, license.issuer_code, "issuer code"),
            ("type_code", ident.type_code, license.type_code, "license type code"),
            ("version", ident.version, license.version, "version"),
        ):
            agree = normalize_code(segment) == normalize_code(field_value)
            detail = (
                f"identifier and record name the same {label}"
                if agree
                else f"identifier names {label} {segment!r}, the record {field_value!r} "
                "[license.identifier.mismatch]"
            )
            checks.append(Check(f"license.identifier.{name}", agree, detail))
    checks.append(_issuer_code(license.issuer_code))
    checks.append(_validity(license.valid_from, license.valid_to))
    if signing_time is not None:
        checks.append(_signed_when_valid(license, signing_time))
    return checks


def semantics_passed(checks: Iterable[Check]) -> bool:
    """True when no license check failed (checks that could not run do not count as passes)."""
    return all(c.passed is True for c in checks)


def _issuer_code(code: str) -> Check:
    name = "license.issuer_code"
    try:
        if len(normalize_code(code)) == 6:
            validate_region_code(code)
            return Check(name, True, "a region code (GB/T 2260), as some issuers use")
        validate_uscc(code)
    except InvalidIdentifier as exc:
        return Check(name, False, f"{exc.message} [{exc.rule}]")
    return Check(name, True, "a valid USCC (GB 32100)")


def _validity(start: date, end: date | None) -> Check:
    name = "license.validity"
    if end is None:
        return Check(name, True, f"valid from {start.isoformat()}, no end date (long-term)")
    if end < start:
        return Check(
            name,
            False,
            f"validity ends {end.isoformat()} before it starts {start.isoformat()} "
            "[license.validity]",
        )
    return Check(name, True, f"valid {start.isoformat()} to {end.isoformat()}")


def _signed_when_valid(license: License, signing_time: datetime) -> Check:
    """A signature vouches for a license that exists and has not run out when it is made."""
    name = "license.signing_time"
    signed_on = signing_time.astimezone(BEIJING).date()
    if signed_on < license.issue_date:
        return Check(
            name,
            False,
            f"signed {signed_on.isoformat()}, before the license was issued "
            f"{license.issue_date.isoformat()}",
        )
    if license.valid_to is not None and signed_on > license.valid_to:
        return Check(
            name,
            False,
            f"signed {signed_on.isoformat()}, after the license expired "
            f"{license.valid_to.isoformat()}",
        )
    return Check(name, True, f"signed {signed_on.isoformat()}, within issue date and validity")
