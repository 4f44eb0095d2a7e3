"""A holder's still-valid materials and licenses: what an applicant need not submit again.

The holder is found by the keyed hash of the ID (the same normalisation and key as the
libraries use), so the clear ID is never part of a query, a log line or an output; what
is shown is its masked form. A material is valid on a day when the day lies within its
validity (an open end is valid); a license must also have the status ``valid``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from standards.codes.enums import LicenseStatus
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.libraries.materials import MaterialRow
from tongyuan.privacy import PiiProtector


@dataclass(frozen=True, slots=True)
class HeldMaterial:
    material_id: str
    name: str
    material_type: str
    media_type: str
    size: int
    sha256: str
    valid_from: date | None
    valid_to: date | None
    source_case: str | None


@dataclass(frozen=True, slots=True)
class HeldLicense:
    identifier: str
    name: str
    type_name: str
    type_code: str
    number: str
    issuer_name: str
    valid_from: date
    valid_to: date | None


@dataclass(slots=True)
class Holdings:
    """What one holder has on file that is valid on ``at``."""

    holder_masked: str
    at: date
    materials: list[HeldMaterial] = field(default_factory=list)
    licenses: list[HeldLicense] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def plain(obj: Any) -> dict[str, Any]:
            return {
                name: (value.isoformat() if isinstance(value, date) else value)
                for name in obj.__slots__
                for value in [getattr(obj, name)]
            }

        return {
            "holder": self.holder_masked,
            "at": self.at.isoformat(),
            "materials": [plain(m) for m in self.materials],
            "licenses": [plain(lic) for lic in self.licenses],
        }


def holdings_for(session: Session, protector: PiiProtector, holder_id: str, at: date) -> Holdings:
    """Still-valid materials and licenses of the holder with this ID, on day ``at``."""
    if not holder_id or not holder_id.strip():
        raise ValueError("give the holder's ID number")
    key = protector.lookup_hash(holder_id)
    out = Holdings(holder_masked=protector.masked(holder_id), at=at)
    materials = session.scalars(
        select(MaterialRow)
        .where(
            MaterialRow.holder_id_hash == key,
            or_(MaterialRow.valid_from.is_(None), MaterialRow.valid_from <= at),
            or_(MaterialRow.valid_to.is_(None), MaterialRow.valid_to >= at),
        )
        .order_by(MaterialRow.material_type, MaterialRow.material_id)
    )
    out.materials = [
        HeldMaterial(
            m.material_id,
            m.name,
            m.material_type,
            m.media_type,
            m.size,
            m.sha256,
            m.valid_from,
            m.valid_to,
            m.source_case,
        )
        for m in materials
    ]
    licenses = session.scalars(
        select(LicenseRow)
        .where(
            LicenseRow.holder_id_hash == key,
            LicenseRow.status == LicenseStatus.VALID.value,
            LicenseRow.valid_from <= at,
            or_(LicenseRow.valid_to.is_(None), LicenseRow.valid_to >= at),
        )
        .order_by(LicenseRow.type_code, LicenseRow.identifier)
    )
    out.licenses = [
        HeldLicense(
            lic.identifier,
            lic.name,
            lic.type_name,
            lic.type_code,
            lic.number,
            lic.issuer_name,
            lic.valid_from,
            lic.valid_to,
        )
        for lic in licenses
    ]
    return out
