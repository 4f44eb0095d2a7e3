"""Admitting a material's file into the blob store: limits, content type, archive safety.

The file is copied into the content-addressed store first (hash-verified against the
manifest), and it is the stored copy that is inspected: the bytes judged are exactly the
bytes kept, whatever happens to the delivery folder meanwhile. A rejected file that no
library row refers to is removed from the store again, and the findings travel back to
:class:`tongyuan.storing.RecordStore`, which quarantines the material with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from standards.records import Material
from standards.validation.findings import Finding
from tongyuan.config import Settings
from tongyuan.libraries.materials import BlobRow, blob_path, store_blob
from tongyuan.materials.archive import hides_zip, inspect_zip
from tongyuan.materials.limits import MaterialLimits
from tongyuan.materials.pending_blobs import note_new_blob
from tongyuan.materials.sniff import ZIP, agrees, sniff_file


class MaterialRejected(ValueError):
    """A material file broke material rules; ``findings`` say which (with rule ids)."""

    def __init__(self, material_id: str, findings: list[Finding]) -> None:
        self.findings = findings
        rules = ", ".join(f.rule for f in findings)
        super().__init__(f"material {material_id} rejected: {rules}")


@dataclass(frozen=True, slots=True)
class AdmittedFile:
    sha256: str
    size: int
    sniffed_media_type: str | None


def check_stored_content(
    path: Path, material: Material, limits: MaterialLimits
) -> tuple[str | None, list[Finding]]:
    """The sniffed media type and the findings about content already in the store."""
    sniffed = sniff_file(path)
    findings: list[Finding] = []
    if not agrees(material.media_type, sniffed):
        findings.append(
            Finding(
                "material.media_type.mismatch",
                f"file {material.file}: declared {material.media_type}, the content is {sniffed}",
                "media_type",
            )
        )
    findings.extend(unsafe_content(path, sniffed, limits, material.file))
    return sniffed, findings


def unsafe_content(
    path: Path, sniffed: str | None, limits: MaterialLimits, label: str
) -> list[Finding]:
    """Findings about content no fix of a record or mapping makes fit: a hostile archive
    (:func:`inspect_zip`) or a zip hidden behind another header (a polyglot).

    Unlike a declared media type the content disagrees with, these are refused whatever
    the record says, so a quarantined material's file failing them is not kept for its
    replay either (:mod:`tongyuan.materials.kept`).
    """
    if sniffed == ZIP:
        return list(inspect_zip(path, limits, label=label).findings)
    if hides_zip(path):
        return [
            Finding(
                "material.media_type.mismatch",
                f"file {label}: the content ends with a zip archive behind a "
                f"{sniffed or 'non-zip'} header (a polyglot file, opened as an archive by "
                "unzip tools): refused",
                "media_type",
            )
        ]
    return []


def admit_material_file(
    settings: Settings,
    session: Session,
    path: Path,
    material: Material,
    limits: MaterialLimits | None = None,
) -> AdmittedFile:
    """Store and inspect the file of ``material``; MaterialRejected with findings if unfit."""
    limits = limits or MaterialLimits.from_environ()
    declared = max(material.size, path.stat().st_size)
    if declared > limits.max_file_bytes:
        raise MaterialRejected(
            material.material_id,
            [
                Finding(
                    "material.size.limit",
                    f"file {material.file} has {declared} bytes, more than the "
                    f"{limits.max_file_bytes} allowed (TONGYUAN_MATERIAL_MAX_BYTES)",
                    "size",
                )
            ],
        )
    existed = _stored(settings, material.sha256)
    sha256, size = store_blob(
        settings, path, expected_sha256=material.sha256, max_bytes=limits.max_file_bytes
    )
    stored = blob_path(settings, sha256)
    if not existed:
        note_new_blob(session, stored, sha256)
    sniffed, findings = check_stored_content(stored, material, limits)
    if findings:
        if session.get(BlobRow, sha256) is None:
            stored.unlink(missing_ok=True)
        raise MaterialRejected(material.material_id, findings)
    return AdmittedFile(sha256, size, sniffed)


def _stored(settings: Settings, sha256: str) -> bool:
    try:
        return blob_path(settings, sha256.strip().lower()).exists()
    except ValueError:
        return False  # not a digest: store_blob refuses it
