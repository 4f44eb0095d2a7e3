"""E-licenses (电子证照): catalogue records for licenses issued on approved licensing cases."""

from __future__ import annotations

import random
from datetime import timedelta

from standards.codes.enums import CaseState, ItemType, LicenseStatus
from standards.identifiers import build_license_identifier
from standards.records import License
from tongyuan.generate.cases import GeneratedCase
from tongyuan.generate.catalogue import BaseItem
from tongyuan.generate.clock import add_years

VERSION = "001"
# License serial styles seen in practice: letters + region + year + sequence, upper- and
# lower-case hex (some provinces), and short numeric sequences (7–32 characters allowed).
SERIAL_STYLES = ("coded", "coded", "hex", "hexlower", "numeric")


def license_type_numbers(catalogue: tuple[BaseItem, ...]) -> dict[str, str]:
    """A 3-digit type number per license name, in catalogue order (stable across seeds)."""
    numbers: dict[str, str] = {}
    for base in catalogue:
        if base.license_name and base.license_name not in numbers:
            numbers[base.license_name] = f"{len(numbers) + 1:03d}"
    return numbers


def _initials(name: str) -> str:
    # Two letters standing for the license kind, stable per name.
    total = sum(ord(c) for c in name)
    alphabet = "ABCDEFGHJKLMNPQRSTWXYZ"
    return alphabet[total % len(alphabet)] + alphabet[(total // len(alphabet)) % len(alphabet)]


def build_licenses(
    rng: random.Random, cases: list[GeneratedCase], catalogue: tuple[BaseItem, ...]
) -> list[License]:
    """One license per approved (11/12) case of a licensing item that issues one."""
    type_numbers = license_type_numbers(catalogue)
    styles: dict[str, str] = {}
    counters: dict[str, int] = {}
    seen_hex: set[str] = set()
    result: list[License] = []
    for case in cases:
        base = case.item.base
        if base.item_type is not ItemType.LICENSING or not base.license_name or not case.approved:
            continue
        record = case.record
        assert record.decided_at is not None
        dept = case.item.dept
        style = styles.setdefault(dept.uscc, rng.choice(SERIAL_STYLES))
        n = counters[dept.uscc] = counters.get(dept.uscc, 0) + 1
        issued = record.decided_at.date()
        region = case.item.node.code
        if style == "coded":
            serial = f"{_initials(base.license_name)}{region}{issued.year}{n:06d}"
            number = serial
        elif style in ("hex", "hexlower"):
            serial = f"{rng.getrandbits(128):032X}"
            while serial in seen_hex:
                serial = f"{rng.getrandbits(128):032X}"
            seen_hex.add(serial)
            if style == "hexlower":
                serial = serial.lower()
            number = f"{region}{issued.year}{n:07d}"
        else:
            serial = f"{n:07d}"
            number = f"{_initials(base.license_name)}{issued.year}{serial}"
        type_code = dept.uscc + type_numbers[base.license_name]
        identifier = build_license_identifier(type_code, dept.uscc, serial, VERSION)
        valid_to = (
            add_years(issued, base.license_years) - timedelta(days=1)
            if base.license_years
            else None
        )
        revoked = any(e.state is CaseState.REVOKED for e in record.events)
        applicant = case.party.applicant
        result.append(
            License.model_construct(
                identifier=identifier,
                type_name=base.license_name,
                type_code=type_code,
                number=number,
                name=base.license_name,
                version=VERSION,
                issue_date=issued,
                issuer_name=dept.name,
                issuer_code=dept.uscc,
                valid_from=issued,
                valid_to=valid_to,
                region_code=region,
                holder_name=applicant.name,
                holder_id=applicant.id_number,
                holder_id_type=applicant.id_type,
                item_name=record.item_name,
                item_code=record.impl_code,
                status=LicenseStatus.REVOKED if revoked else LicenseStatus.VALID,
                file=None,
                signature_ref=None,
            )
        )
    return result
