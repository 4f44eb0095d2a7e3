"""A holder's reusable materials and licenses: what an applicant need not submit again.

The holder is found by the keyed hash of the ID (the same normalisation and key as the
libraries use), so the clear ID is never part of a query, a log line or an output; what
is shown is its masked form, and every other value passes :func:`mask_text` on its way
out (departments build material numbers from the holder's ID).

Valid on the day is not enough to be offered: a window official reuses an item *instead
of* the applicant's paper, so it must be evidence the hub can produce. A material is
offered when the day lies within its validity (an open end is valid) and its file is in
the blob store with the content recorded for it. A license is offered when it has the
status ``valid``, the day lies within its validity, its last signature verification
PASSED, and its stored file (and detached signature, if any) is there with the content
recorded for it. Items valid on the day that fail the rest are listed apart as
*withheld*, each with the reason, so that nobody wonders where a license they know of went.

"There" means hashed now, not only present: a file altered in the store, or replaced by a
symbolic link, is not the evidence that was recorded (or, for a license, verified), and
the integrity suite would call it altered while the window reused it. A holder has a
handful of items, so streaming their files on every query is cheap. A license's file is
compared with ``licenses.file_sha256``, the content address it was stored and verified
under (a new file under the same license clears the verification).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from signing.report import Indication
from standards.codes.enums import LicenseStatus
from standards.privacy import mask_text
from tongyuan.config import Settings
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.libraries.materials import MaterialRow
from tongyuan.materials.stored import ALTERED, NOT_REGULAR, check_stored_file
from tongyuan.privacy import PiiProtector

# Why a valid item is withheld (the ``reason`` of :class:`WithheldItem`).
FILE_MISSING = "file_missing"
FILE_ALTERED = "file_altered"  # content no longer its sha256, or a link / not a regular file
NOT_VERIFIED = "signature_not_verified"
SIGNATURE_FAILED = "signature_failed"
SIGNATURE_INDETERMINATE = "signature_indeterminate"


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


@dataclass(frozen=True, slots=True)
class WithheldItem:
    """A material or license valid on the day that cannot be reused, and why."""

    kind: str  # "material" or "license"
    key: str  # material number or license identifier
    name: str
    # FILE_MISSING, FILE_ALTERED, NOT_VERIFIED, SIGNATURE_FAILED, SIGNATURE_INDETERMINATE
    reason: str
    detail: str


@dataclass(slots=True)
class Holdings:
    """What one holder has on file that is valid on ``at``: reusable, and withheld."""

    holder_masked: str
    at: date
    materials: list[HeldMaterial] = field(default_factory=list)
    licenses: list[HeldLicense] = field(default_factory=list)
    withheld: list[WithheldItem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form; every text value masked (IDs glued into numbers included)."""

        def plain(obj: Any) -> dict[str, Any]:
            # A digest is no personal data, and masking could star a digit run in it.
            return {
                name: getattr(obj, name) if name == "sha256" else _shown(getattr(obj, name))
                for name in obj.__slots__
            }

        return {
            "holder": self.holder_masked,
            "at": self.at.isoformat(),
            "materials": [plain(m) for m in self.materials],
            "licenses": [plain(lic) for lic in self.licenses],
            "withheld": [plain(w) for w in self.withheld],
        }


def _shown(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return mask_text(value)
    return value


def _file_withheld(settings: Settings, sha256: str | None) -> tuple[str, str] | None:
    """(reason, detail) when the stored file with this digest cannot be produced as the
    recorded evidence (gone, altered, or not a regular file in the store), else None."""
    state = check_stored_file(settings, sha256)
    if state.ok:
        return None
    if state.problem in (ALTERED, NOT_REGULAR):
        return FILE_ALTERED, state.detail
    return FILE_MISSING, state.detail


def _license_withheld(settings: Settings, lic: LicenseRow) -> tuple[str, str] | None:
    """(reason, detail) when a license valid on the day is no reusable evidence."""
    if lic.indication is None:
        return NOT_VERIFIED, "its signature has not been verified yet (tongyuan licenses verify)"
    if lic.indication != Indication.PASSED.value:
        reason = (
            SIGNATURE_FAILED if lic.indication == Indication.FAILED.value
            else SIGNATURE_INDETERMINATE
        )  # fmt: skip
        sub = f" ({lic.subindication})" if lic.subindication else ""
        return reason, f"its last signature verification gave {lic.indication}{sub}"
    withheld = _file_withheld(settings, lic.file_sha256)
    if withheld is None and lic.signature_sha256 is not None:
        withheld = _file_withheld(settings, lic.signature_sha256)
        if withheld is not None:
            withheld = withheld[0], f"its detached signature: {withheld[1]}"
    return withheld


def holdings_for(
    session: Session, protector: PiiProtector, holder_id: str, at: date, *, settings: Settings
) -> Holdings:
    """Reusable materials and licenses of the holder with this ID on day ``at``, and the
    ones valid on that day that are withheld (file missing or altered, signature not
    PASSED). Each offered item's stored file is hashed on the way."""
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
    for m in materials:
        withheld = _file_withheld(settings, m.sha256)
        if withheld is not None:
            out.withheld.append(WithheldItem("material", m.material_id, m.name, *withheld))
            continue
        out.materials.append(
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
        )
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
    for lic in licenses:
        withheld = _license_withheld(settings, lic)
        if withheld is not None:
            out.withheld.append(WithheldItem("license", lic.identifier, lic.name, *withheld))
            continue
        out.licenses.append(
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
        )
    return out
