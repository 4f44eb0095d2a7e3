"""License files on load: stored as blobs, re-signed files invalidate the last result, a
missing file is stored as missing, a path out of the delivery quarantines the record."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from sqlalchemy import select
from std_factories import AUTHORITY, make_license

from standards.formats import write_records
from standards.identifiers import build_license_identifier
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.libraries.materials import BlobRow, blob_path
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.loading import Loader


def _drop(root: Path, records, files: dict[str, bytes], name: str = "licenses.jsonl") -> Path:
    (root / "licenses").mkdir(parents=True)
    for rel, data in files.items():
        target = root / "licenses" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    write_records(root / "licenses" / name, records)
    return root


def test_license_files_become_blobs_and_new_bytes_clear_the_verdict(settings, db_url, tmp_path):
    loader = Loader(dataclasses.replace(settings, database_url=db_url))
    try:
        detached = make_license(file="files/a.license", signature_ref="files/a.license.sig.json")
        doc, sig = b"<signed_license/>", b'{"version": 1}'
        drop = _drop(tmp_path / "one", [detached],
                     {"files/a.license": doc, "files/a.license.sig.json": sig})  # fmt: skip
        assert loader.load([drop], relative_to=drop).totals()["license"]["added"] == 1
        with loader.sessions() as session:
            row = session.get(LicenseRow, detached.identifier)
            assert row.file_sha256 == hashlib.sha256(doc).hexdigest()
            assert row.signature_sha256 == hashlib.sha256(sig).hexdigest()
            assert blob_path(loader.settings, row.file_sha256).read_bytes() == doc
            assert session.get(BlobRow, row.signature_sha256).media_type == "application/json"
            row.indication, row.subindication = "PASSED", None
            session.commit()
        # The same record with a re-signed file (a new delivery file, as an identical one
        # is skipped by the loader): changed, and the old verdict is gone.
        files = {"files/a.license": doc + b"\n", "files/a.license.sig.json": sig}
        drop = _drop(tmp_path / "two", [detached], files, name="licenses-resigned.jsonl")
        assert loader.load([drop], relative_to=drop).totals()["license"]["changed"] == 1
        with loader.sessions() as session:
            row = session.get(LicenseRow, detached.identifier)
            assert row.file_sha256 == hashlib.sha256(doc + b"\n").hexdigest()
            assert row.indication is None and row.verified_at is None
        # The catalogue alone again (another file name, no license files): blobs kept.
        drop = _drop(tmp_path / "three", [detached], {}, name="licenses-again.jsonl")
        assert loader.load([drop], relative_to=drop).totals()["license"]["unchanged"] == 1
        with loader.sessions() as session:
            row = session.get(LicenseRow, detached.identifier)
            assert row.file_sha256 == hashlib.sha256(doc + b"\n").hexdigest()
            assert row.signature_sha256 == hashlib.sha256(sig).hexdigest()
    finally:
        loader.close()


def test_missing_file_is_stored_as_missing_and_escaping_path_is_quarantined(
    settings, db_url, tmp_path
):
    loader = Loader(dataclasses.replace(settings, database_url=db_url))
    try:
        missing = make_license(file="files/nowhere.license")
        escaping = make_license(
            identifier=build_license_identifier(AUTHORITY + "001", AUTHORITY, "A0000002", "001"),
            file="../../outside.license",
        )
        (tmp_path / "outside.license").write_bytes(b"<signed_license/>")
        drop = _drop(tmp_path / "d", [missing], {})
        loader.load([drop], relative_to=drop)
        with loader.sessions() as session:
            row = session.get(LicenseRow, missing.identifier)
            assert row is not None and row.file_sha256 is None
        drop = _drop(tmp_path / "e", [escaping], {})
        totals = loader.load([drop], relative_to=drop).totals()["license"]
        assert totals["quarantined"] == 1
        with loader.sessions() as session:
            rules = session.scalars(select(QuarantineEntry.rule)).all()
            assert "library.conflict" in rules
    finally:
        loader.close()
