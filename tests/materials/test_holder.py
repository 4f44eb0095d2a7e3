"""`tongyuan materials for`: only reusable evidence is offered, nothing personal in clear.

A license whose signature check failed, or a material whose stored file is gone, used to
be offered to a service window as if the applicant need not bring it again; material
numbers built from the holder's ID were printed in clear; and "today" was the machine's
day, not Beijing's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select
from std_factories import PERSON, make_license, make_material
from typer.testing import CliRunner

from standards.identifiers import build_license_identifier
from standards.privacy import mask_id
from tongyuan.cli import app
from tongyuan.config import ENV_DATABASE_URL, ENV_HOME, ENV_PII_KEY, Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.batches import close_batch, open_batch
from tongyuan.libraries.licenses import LicenseRow, write_license
from tongyuan.libraries.materials import BlobRow, blob_path, store_blob, write_material
from tongyuan.privacy import PiiProtector

runner = CliRunner()
DAY = "2026-06-01"
AUTHORITY = "1144030500706344CE"
GLUED = f"CL{PERSON}01"  # a department's material number built from the holder's ID

# (serial, indication, subindication, file kept): the licenses the holder has, all valid.
LICENSES = {
    "PASSED0001": ("PASSED", None, True),
    "FAILED0002": ("FAILED", "HASH_FAILURE", True),
    "INDET00003": ("INDETERMINATE", "REVOKED_NO_POE", True),
    "NEVER00004": (None, None, True),
    "NOFILE0005": ("PASSED", None, False),
}


@pytest.fixture
def hub(settings: Settings, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    hub = dataclasses.replace(settings, database_url=db_url)
    monkeypatch.setenv(ENV_HOME, str(hub.home))
    monkeypatch.setenv(ENV_DATABASE_URL, db_url)
    monkeypatch.setenv(ENV_PII_KEY, hub.pii_key_b64)
    return hub


def _stored(hub: Settings, folder: Path, name: str, content: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    sha256, _ = store_blob(hub, folder / name)
    return sha256


def holdings(hub: Settings, tmp_path: Path) -> None:
    """PERSON holds two materials (one file deleted afterwards), one with the ID glued in,
    one expiring the day before; and the licenses of LICENSES."""
    protector = PiiProtector(hub.pii_key())
    engine = make_engine(hub.database_url)
    gone: list[Path] = []
    try:
        with make_session_factory(engine).begin() as session:
            batch = open_batch(session, "load.material", "test")
            for n, (material_id, valid_to, keep) in enumerate(
                [(GLUED, None, True), ("M-GONE", None, False), ("M-OLD", date(2030, 1, 1), True)]
            ):
                folder = tmp_path / f"m{n}"
                folder.mkdir()
                material = make_material(
                    folder, content=f"材料{n}".encode(), material_id=material_id,
                    valid_to=valid_to,
                )  # fmt: skip
                sha256, _ = store_blob(hub, folder / material.file)
                write_material(session, batch.id, material, protector=protector, sha256=sha256)
                if not keep:
                    gone.append(blob_path(hub, sha256))
            for serial, (indication, sub, keep) in LICENSES.items():
                content = f"license {serial}".encode()
                sha256 = _stored(hub, tmp_path / "lic", f"{serial}.xml", content)
                session.add(BlobRow(sha256=sha256, size=len(content), media_type="text/xml"))
                identifier = build_license_identifier(AUTHORITY + "001", AUTHORITY, serial, "001")
                lic = make_license(identifier=identifier, number=f"JY{serial}")
                write_license(session, batch.id, lic, protector=protector)
                session.flush()
                row = session.get(LicenseRow, identifier)
                assert row is not None
                row.file_sha256 = sha256
                row.indication, row.subindication = indication, sub
                row.verified_at = datetime(2026, 5, 1, tzinfo=UTC) if indication else None
                if not keep:
                    gone.append(blob_path(hub, sha256))
            close_batch(session, batch, read=8, accepted=8, quarantined=0, unchanged=0,
                        status="committed", settings=hub)  # fmt: skip
    finally:
        engine.dispose()
    for path in gone:
        path.unlink()


def cli(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, ["materials", "for", *args], input=stdin, terminal_width=250)


def test_only_reusable_evidence_is_offered_the_rest_is_withheld_with_the_reason(
    hub: Settings, tmp_path: Path
) -> None:
    holdings(hub, tmp_path)
    out = cli("-", "--at", DAY, "--json", stdin=PERSON + "\n")
    assert out.exit_code == 0, out.output
    held = json.loads(out.output)
    assert [m["material_id"] for m in held["materials"]] == [f"CL{mask_id(PERSON)}01", "M-OLD"]
    assert [lic["number"] for lic in held["licenses"]] == ["JYPASSED0001"]
    withheld = {w["key"].split(".")[-3] if w["kind"] == "license" else w["key"]: w
                for w in held["withheld"]}  # fmt: skip
    assert {k: w["reason"] for k, w in withheld.items()} == {
        "M-GONE": "file_missing",
        "FAILED0002": "signature_failed",
        "INDET00003": "signature_indeterminate",
        "NEVER00004": "signature_not_verified",
        "NOFILE0005": "file_missing",
    }
    assert "FAILED (HASH_FAILURE)" in withheld["FAILED0002"]["detail"]
    assert "missing from the blob store" in withheld["M-GONE"]["detail"]
    table = cli(PERSON, "--at", DAY)
    assert table.exit_code == 0, table.output
    said = " ".join(table.output.split())
    assert "2 materials, 1 licenses reusable, 5 withheld" in said
    assert "HASH_FAILURE" in table.output and "M-GONE" in table.output


def test_ids_glued_into_numbers_are_masked_in_the_table_and_the_json(
    hub: Settings, tmp_path: Path
) -> None:
    holdings(hub, tmp_path)
    outputs = [
        cli("-", "--at", DAY, "--json", stdin=PERSON + "\n").output,
        cli("-", "--at", DAY, stdin=PERSON + "\n").output,
    ]
    for output in outputs:
        assert PERSON not in output and PERSON[6:14] not in output, output
        assert not re.search(r"\d{17}[\dXx]", output)
    assert f"CL{mask_id(PERSON)}01" in outputs[0]
    assert "CL" + mask_id(PERSON)[:4] in outputs[1]  # the table column may cut it short


def test_today_is_the_hubs_day_in_beijing(
    hub: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20:00 UTC on 1 January 2030 is already 2 January in Beijing: M-OLD has lapsed."""
    holdings(hub, tmp_path)
    evening: Callable[[], datetime] = lambda: datetime(2030, 1, 1, 20, 0, tzinfo=UTC)  # noqa: E731
    monkeypatch.setattr("tongyuan.ingest.timeliness.utcnow", evening)
    held = json.loads(cli("-", "--json", stdin=PERSON + "\n").output)
    assert held["at"] == "2030-01-02"
    assert [m["material_id"] for m in held["materials"]] == [f"CL{mask_id(PERSON)}01"]


def _blob_of(hub: Settings, content: bytes) -> Path:
    return blob_path(hub, hashlib.sha256(content).hexdigest())


def test_a_stored_file_altered_or_replaced_by_a_link_is_withheld_not_offered(
    hub: Settings, tmp_path: Path
) -> None:
    """Present is not enough: the file must still be the content recorded (and, for a
    license, verified). Bytes appended, a link to the same bytes outside the store, and a
    rewritten PASSED license file were all offered before."""
    holdings(hub, tmp_path)
    with _blob_of(hub, "材料0".encode()).open("ab") as handle:  # GLUED: bytes changed
        handle.write(b"TAMPERED")
    old = _blob_of(hub, "材料2".encode())  # M-OLD: a link to the same bytes outside
    outside = tmp_path / "outside.bin"
    outside.write_bytes(old.read_bytes())
    old.unlink()
    old.symlink_to(outside)
    _blob_of(hub, b"license PASSED0001").write_bytes(b"license PASSED0001 (edited)")
    out = cli("-", "--at", DAY, "--json", stdin=PERSON + "\n")
    assert out.exit_code == 0, out.output
    held = json.loads(out.output)
    assert held["materials"] == [] and held["licenses"] == []
    withheld = {w["key"].split(".")[-3] if w["kind"] == "license" else w["key"]: w
                for w in held["withheld"]}  # fmt: skip
    glued = f"CL{mask_id(PERSON)}01"
    assert {k: withheld[k]["reason"] for k in (glued, "M-OLD", "PASSED0001", "M-GONE")} == {
        glued: "file_altered",
        "M-OLD": "file_altered",
        "PASSED0001": "file_altered",
        "M-GONE": "file_missing",
    }
    assert "was altered" in withheld[glued]["detail"]
    assert "is a symbolic link" in withheld["M-OLD"]["detail"]
    assert "was altered" in withheld["PASSED0001"]["detail"]


def test_a_link_to_another_blob_and_an_altered_detached_signature_are_withheld(
    hub: Settings, tmp_path: Path
) -> None:
    holdings(hub, tmp_path)
    glued = _blob_of(hub, "材料0".encode())
    glued.unlink()
    glued.symlink_to(_blob_of(hub, "材料2".encode()))  # a real blob, but not this one
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            row = session.scalars(
                select(LicenseRow).where(LicenseRow.number == "JYPASSED0001")
            ).one()
            sha256 = _stored(hub, tmp_path / "sig", "PASSED0001.p7s", b"signature")
            session.add(BlobRow(sha256=sha256, size=9, media_type="application/pkcs7-signature"))
            session.flush()
            row.signature_sha256 = sha256
    finally:
        engine.dispose()
    _blob_of(hub, b"signature").write_bytes(b"another signature")
    held = json.loads(cli("-", "--at", DAY, "--json", stdin=PERSON + "\n").output)
    assert [m["material_id"] for m in held["materials"]] == ["M-OLD"]
    assert held["licenses"] == []
    withheld = {w["key"].split(".")[-3] if w["kind"] == "license" else w["key"]: w
                for w in held["withheld"]}  # fmt: skip
    link = withheld[f"CL{mask_id(PERSON)}01"]
    assert link["reason"] == "file_altered" and "is a symbolic link" in link["detail"]
    signature = withheld["PASSED0001"]
    assert signature["reason"] == "file_altered"
    assert signature["detail"].startswith("its detached signature: ")
