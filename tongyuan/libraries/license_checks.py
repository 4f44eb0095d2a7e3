"""License verification history: every check of every license, and the pipeline's state.

``licenses.verified_at/indication/subindication`` hold the latest signature result (what
reports show); ``license_checks`` keeps every run's full outcome — signature report,
library status, holder and item checks, the signer and the CRLs it was checked against —
so an auditor can see why a license was judged as it was on a given day. Rows are only
ever added. ``license_verify_state`` holds the pipeline's watermark and CRL hashes
(see :mod:`tongyuan.licensing.run`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tongyuan.libraries.base import Base, JsonDoc, UtcDateTime, utcnow


class LicenseCheckRow(Base):
    __tablename__ = "license_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    identifier: Mapped[str] = mapped_column(ForeignKey("licenses.identifier"), index=True)
    run_id: Mapped[str] = mapped_column(String(32), index=True)
    # new_case | unverified | crl_changed | trust_changed | all
    reason: Mapped[str] = mapped_column(String(16))
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    check_date: Mapped[str] = mapped_column(String(10))  # Beijing date status was judged at
    indication: Mapped[str] = mapped_column(String(32))
    subindication: Mapped[str | None] = mapped_column(String(64))
    signer: Mapped[str | None] = mapped_column(String(500))
    signer_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    signing_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    algorithm: Mapped[str | None] = mapped_column(String(32))
    format: Mapped[str | None] = mapped_column(String(16))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    license_status: Mapped[str] = mapped_column(String(16))
    content_matches: Mapped[bool | None] = mapped_column(Boolean)
    holder_matches: Mapped[bool | None] = mapped_column(Boolean)
    item_exists: Mapped[bool | None] = mapped_column(Boolean)
    usable: Mapped[bool] = mapped_column(Boolean)
    issuers: Mapped[list[str]] = mapped_column(JsonDoc)
    crl_numbers: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)


class LicenseVerifyState(Base):
    __tablename__ = "license_verify_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
