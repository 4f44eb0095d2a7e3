"""A license's signed file and detached signature, kept in the blob store when it is loaded.

Delivery folders are temporary; verification runs later (a new case, a CRL change), so
the bytes that were delivered are copied into the content-addressed blob store
(:func:`tongyuan.libraries.materials.store_blob`) in the load's transaction and the row
points at them (``licenses.file_sha256``, ``licenses.signature_sha256``).

A named file that is missing is not a reason to refuse the catalogue record: the record
is stored without it (or keeps the file an earlier delivery carried) and verification
reports SIGNED_DATA_NOT_FOUND when there is none. A name that leaves
the delivery folder is refused (the record is quarantined like a hostile material path).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from standards.records import License
from standards.validation.material_files import safe_relative_path
from tongyuan.config import Settings
from tongyuan.libraries.base import utcnow
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.libraries.materials import BlobRow, store_blob

# A signed license is a few KB; anything near this is not a license document.
MAX_LICENSE_FILE_BYTES = 4 * 1024 * 1024
LICENSE_MEDIA_TYPE = "application/xml"
SIGNATURE_MEDIA_TYPE = "application/json"


class UnsafeLicensePath(ValueError):
    """A license record names a file outside its delivery folder."""


@dataclass(frozen=True, slots=True)
class LicenseFiles:
    """Blob digests of a license's files (None: not named, or not delivered)."""

    file_sha256: str | None
    signature_sha256: str | None


def _store(
    settings: Settings, session: Session, base_dir: Path, name: str | None, media_type: str
) -> str | None:
    if not name:
        return None
    path = safe_relative_path(base_dir, name)
    if path is None:
        raise UnsafeLicensePath(f"license file {name!r} is not inside the delivery")
    if not path.is_file():
        return None
    sha256, size = store_blob(settings, path, max_bytes=MAX_LICENSE_FILE_BYTES)
    if session.get(BlobRow, sha256) is None:
        session.add(BlobRow(sha256=sha256, size=size, media_type=media_type, created_at=utcnow()))
        session.flush()
    return sha256


def store_license_files(
    settings: Settings, session: Session, record: License, base_dir: Path | None
) -> LicenseFiles:
    """Copy the record's ``file`` and ``signature_ref`` (relative to ``base_dir``) into blobs.

    Raises UnsafeLicensePath for a name outside ``base_dir``. Without a ``base_dir`` (a
    pull that delivers no files) nothing is stored.
    """
    if base_dir is None:
        return LicenseFiles(None, None)
    return LicenseFiles(
        _store(settings, session, base_dir, record.file, LICENSE_MEDIA_TYPE),
        _store(settings, session, base_dir, record.signature_ref, SIGNATURE_MEDIA_TYPE),
    )


def attach_license_files(
    session: Session, record: License, files: LicenseFiles, batch_id: str
) -> bool:
    """Point the stored license at its blobs; True when that changed the row.

    New bytes under the same catalogue record (a re-signed license) invalidate the last
    verification, exactly as a changed record does in ``write_license``. A file the
    record still names but this delivery did not carry (a pull without files, a catalogue
    re-sent alone) keeps the blob stored earlier; a file the record no longer names is
    dropped.
    """
    row = session.get(LicenseRow, record.identifier)
    if row is None:
        raise ValueError(f"license {record.identifier} is not in the library")
    file_sha256 = files.file_sha256 or (row.file_sha256 if record.file else None)
    signature_sha256 = files.signature_sha256 or (
        row.signature_sha256 if record.signature_ref else None
    )
    if (row.file_sha256, row.signature_sha256) == (file_sha256, signature_sha256):
        return False
    row.file_sha256 = file_sha256
    row.signature_sha256 = signature_sha256
    row.verified_at = None
    row.indication = None
    row.subindication = None
    row.batch_id = batch_id
    session.flush()
    return True
