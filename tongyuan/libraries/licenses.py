"""The license library: the GB/T 36902 catalogue entry of every e-license version.

Verification results (signature indication per ETSI EN 319 102-1 style) get their own
columns so the signing component can fill them in without touching catalogue data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from standards.codes.enums import IdType
from standards.records import License
from tongyuan.libraries.base import Base, JsonDoc, UtcDateTime, json_hash, utcnow
from tongyuan.libraries.protected import protect_id
from tongyuan.privacy import PiiProtector

WriteOutcome = Literal["added", "changed", "unchanged"]


class LicenseRow(Base):
    __tablename__ = "licenses"

    identifier: Mapped[str] = mapped_column(String(128), primary_key=True)
    type_name: Mapped[str] = mapped_column(String(200))
    type_code: Mapped[str] = mapped_column(String(32), index=True)
    number: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date)
    issuer_name: Mapped[str] = mapped_column(String(200))
    issuer_code: Mapped[str] = mapped_column(String(32), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_id_type: Mapped[str] = mapped_column(String(8))
    holder_id_enc: Mapped[str] = mapped_column(Text)
    holder_id_hash: Mapped[str] = mapped_column(String(64), index=True)
    holder_id_masked: Mapped[str] = mapped_column(String(64))
    item_name: Mapped[str | None] = mapped_column(String(200))
    item_code: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    file: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    signature_ref: Mapped[str | None] = mapped_column(String(255))
    # The detached signature file's blob (0008); an enveloped signature is inside ``file``.
    signature_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    indication: Mapped[str | None] = mapped_column(String(32))
    subindication: Mapped[str | None] = mapped_column(String(64))


def write_license(
    session: Session, batch_id: str, license: License, *, protector: PiiProtector
) -> WriteOutcome:
    """Upsert a catalogue entry by identifier.

    A changed entry clears the verification columns: a result obtained for other content
    says nothing about this one. ``file_sha256`` is left to whoever stores the file.
    """
    protected = protect_id(protector, license.holder_id, license.holder_id_type)
    data = license.model_dump(mode="json", exclude_none=True, exclude={"holder_id"})
    data["holder_id_masked"] = protected.masked
    # The holder in the hash form, not as displayed (tongyuan.libraries.protected): an
    # unchanged licence stored before the display mask changed stays unchanged and keeps
    # its signature verdict.
    hashed = {**data, "holder_id_masked": protected.hash_form, "holder_id_hash": protected.hash}
    content_hash = json_hash(hashed)
    row = session.get(LicenseRow, license.identifier)
    if row is not None and row.content_hash == content_hash:
        return "unchanged"
    outcome: WriteOutcome = "changed"
    if row is None:
        row = LicenseRow(identifier=license.identifier)
        session.add(row)
        outcome = "added"
    else:
        row.verified_at = None
        row.indication = None
        row.subindication = None
    if row.holder_id_hash != protected.hash:
        row.holder_id_enc = protected.enc
        row.holder_id_hash = protected.hash
    row.holder_id_masked = protected.masked
    row.holder_id_type = license.holder_id_type.value
    row.holder_name = license.holder_name
    row.type_name = license.type_name
    row.type_code = license.type_code
    row.number = license.number
    row.name = license.name
    row.version = license.version
    row.issue_date = license.issue_date
    row.issuer_name = license.issuer_name
    row.issuer_code = license.issuer_code
    row.valid_from = license.valid_from
    row.valid_to = license.valid_to
    row.region_code = license.region_code
    row.item_name = license.item_name
    row.item_code = license.item_code
    row.status = license.status.value
    row.file = license.file
    row.signature_ref = license.signature_ref
    row.batch_id = batch_id
    row.content_hash = content_hash
    row.data = data
    row.updated_at = utcnow()
    session.flush()
    return outcome


def license_record(row: LicenseRow, *, protector: PiiProtector) -> License:
    """The standard record with the clear holder ID (for entitled exports and verification)."""
    doc = {k: v for k, v in row.data.items() if k != "holder_id_masked"}
    return License.model_validate(
        {
            **doc,
            "holder_id_type": IdType(row.holder_id_type),
            "holder_id": protector.decrypt(row.holder_id_enc),
        }
    )
