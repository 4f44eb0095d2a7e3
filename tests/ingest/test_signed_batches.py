"""Signed deliveries: verified whole before anything is read, rejected whole on failure."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from ingest_world import DEPT, World, make_world
from sqlalchemy import select
from std_factories import make_case

from signing.detached import sign_detached
from signing.pki import Pki, init_pki
from tongyuan.ingest import ingest_department
from tongyuan.ingest.signed import SIGNATURE_NAME, build_manifest
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.quarantine import QuarantineEntry

MANIFEST = "MANIFEST.json"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return init_pki(tmp_path_factory.mktemp("pki") / "hub", algorithms=("ecdsa",))


@pytest.fixture
def signed(hub, tmp_path, pki) -> World:  # type: ignore[no-untyped-def]
    return make_world(hub, tmp_path, signing=True, trust_dir=pki.trust_dir)


def _sign(world: World, pki: Pki, names: list[str]) -> None:
    manifest = build_manifest(world.drop, names)
    (world.drop / MANIFEST).write_bytes(manifest)
    envelope = sign_detached(manifest, pki.signing_key("ecdsa"), pki.chain("ecdsa"))
    (world.drop / SIGNATURE_NAME).write_bytes(envelope)


def _cases() -> list:
    return [make_case(serial=None, dept_case_no=f"SG-{i}") for i in range(3)]


def _batch(world: World, batch_id: str) -> Batch:
    (row,) = world.query(select(Batch).where(Batch.id == batch_id))
    return row[0]


def _nothing_written(world: World, name: str) -> None:
    assert world.count(CaseRow) == 0 and world.count(QuarantineEntry) == 0
    assert (world.drop / name).exists()  # not acknowledged: still in the drop
    assert not (world.drop / "done").exists()


def test_a_signed_delivery_is_ingested_with_its_signer(signed: World, pki: Pki) -> None:
    signed.deliver("cases_001.xml", _cases())
    _sign(signed, pki, ["cases_001.xml"])
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "committed", result.error
    assert result.added == 3
    cert = x509.load_pem_x509_certificate(pki.cert_path("ecdsa").read_bytes())
    from cryptography.hazmat.primitives.serialization import Encoding

    fingerprint = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    assert result.signer_fingerprint == fingerprint
    for batch_id in result.batch_ids:
        batch = _batch(signed, batch_id)
        assert batch.status == "committed"
        assert batch.meta["signer_fingerprint"] == fingerprint
        assert batch.meta["indication"] == "PASSED"
    assert (signed.drop / "done" / "cases_001.xml").exists()


def test_a_tampered_manifest_rejects_the_whole_delivery(signed: World, pki: Pki) -> None:
    signed.deliver("cases_001.xml", _cases())
    _sign(signed, pki, ["cases_001.xml"])
    doc = json.loads((signed.drop / MANIFEST).read_text(encoding="utf-8"))
    doc["files"]["cases_001.xml"]["size"] += 1
    (signed.drop / MANIFEST).write_text(json.dumps(doc), encoding="utf-8")
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "rejected"
    assert "HASH_FAILURE" in (result.error or "")
    (batch_id,) = result.batch_ids
    batch = _batch(signed, batch_id)
    assert (batch.status, batch.kind) == ("failed", "ingest.rejected")
    assert batch.meta["subindication"] == "HASH_FAILURE" and batch.meta["indication"] == "FAILED"
    _nothing_written(signed, "cases_001.xml")


def test_a_file_changed_after_signing_rejects_the_whole_delivery(signed: World, pki: Pki) -> None:
    signed.deliver("cases_001.xml", _cases())
    signed.deliver("cases_002.xml", [make_case(serial=None, dept_case_no="SG-9")])
    _sign(signed, pki, ["cases_001.xml", "cases_002.xml"])
    signed.deliver("cases_002.xml", [make_case(serial=None, dept_case_no="SG-X")])
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "rejected" and "cases_002.xml" in (result.error or "")
    assert _batch(signed, result.batch_ids[0]).meta["subindication"] == "HASH_FAILURE"
    _nothing_written(signed, "cases_001.xml")  # the good file is not half-ingested either


def test_an_unlisted_file_rejects_the_delivery(signed: World, pki: Pki) -> None:
    signed.deliver("cases_001.xml", _cases())
    _sign(signed, pki, ["cases_001.xml"])
    signed.deliver("cases_002.xml", [make_case(serial=None, dept_case_no="SG-9")])
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "rejected" and "not listed" in (result.error or "")
    _nothing_written(signed, "cases_002.xml")


def test_an_unsigned_delivery_from_a_signing_department_is_rejected(
    signed: World, pki: Pki
) -> None:
    signed.deliver("cases_001.xml", _cases())
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "rejected" and "unsigned delivery" in (result.error or "")
    assert _batch(signed, result.batch_ids[0]).meta["subindication"] == "FORMAT_FAILURE"
    _nothing_written(signed, "cases_001.xml")

    # Signed afterwards, the same delivery goes in exactly once.
    _sign(signed, pki, ["cases_001.xml"])
    ok = ingest_department(signed.settings, signed.topology, DEPT)
    assert ok.status == "committed" and ok.added == 3
    assert ingest_department(signed.settings, signed.topology, DEPT).read == 0
    assert signed.count(CaseRow) == 3


def test_a_signer_outside_the_trust_directory_is_rejected(signed: World, tmp_path: Path) -> None:
    stranger = init_pki(tmp_path / "stranger", algorithms=("ecdsa",))
    signed.deliver("cases_001.xml", _cases())
    _sign(signed, stranger, ["cases_001.xml"])
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "rejected"
    batch = _batch(signed, result.batch_ids[0])
    assert batch.meta["indication"] in ("FAILED", "INDETERMINATE")
    assert batch.meta["subindication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    _nothing_written(signed, "cases_001.xml")


def test_an_empty_drop_is_an_empty_delivery(signed: World) -> None:
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "committed" and result.read == 0


def test_a_signed_file_left_out_rejects_the_whole_delivery(signed: World, pki: Pki) -> None:
    signed.deliver("cases_001.xml", _cases())
    signed.deliver("cases_002.xml", [make_case(serial=None, dept_case_no="SG-9")])
    _sign(signed, pki, ["cases_001.xml", "cases_002.xml"])
    (signed.drop / "cases_002.xml").unlink()  # dropped on the way
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "rejected"
    assert "cases_002.xml is listed in the signed manifest but was not delivered" in (
        result.error or ""
    )
    assert _batch(signed, result.batch_ids[0]).meta["subindication"] == "SIGNED_DATA_NOT_FOUND"
    _nothing_written(signed, "cases_001.xml")


def test_anchors_scoped_to_another_authority_do_not_vouch_for_the_department(
    hub, tmp_path: Path, pki: Pki
) -> None:
    """The delivery's signer must chain to the department's own anchors or general ones."""
    import shutil

    trust = tmp_path / "trust"
    shutil.copytree(pki.trust_dir, trust, ignore=shutil.ignore_patterns("private"))
    other = trust / "anchors" / "91440300MA5FXXXX0Y"
    other.mkdir()
    for anchor in (trust / "anchors").glob("*.pem"):
        anchor.rename(other / anchor.name)
    world = make_world(hub, tmp_path, signing=True, trust_dir=trust)
    world.deliver("cases_001.xml", _cases())
    _sign(world, pki, ["cases_001.xml"])
    result = ingest_department(world.settings, world.topology, DEPT)
    assert result.status == "rejected"
    assert _batch(world, result.batch_ids[0]).meta["subindication"] == (
        "NO_CERTIFICATE_CHAIN_FOUND"
    )
    _nothing_written(world, "cases_001.xml")
    other.rename(trust / "anchors" / DEPT)  # the department's own anchors: accepted
    ok = ingest_department(world.settings, world.topology, DEPT)
    assert ok.status == "committed" and ok.added == 3


def _sign_at(world: World, pki: Pki, names: list[str], minutes_ago: int) -> None:
    """Sign with a chosen signing time (whole seconds: two signatures in one second tie)."""
    from datetime import UTC, datetime, timedelta

    manifest = build_manifest(world.drop, names)
    (world.drop / MANIFEST).write_bytes(manifest)
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    envelope = sign_detached(
        manifest, pki.signing_key("ecdsa"), pki.chain("ecdsa"), signing_time=when
    )
    (world.drop / SIGNATURE_NAME).write_bytes(envelope)


def _after_verification(monkeypatch: pytest.MonkeyPatch, change) -> None:  # type: ignore[no-untyped-def]
    import tongyuan.ingest.engine as engine

    real = engine.verify_delivery

    def verify_then_change(*args, **kwargs):  # type: ignore[no-untyped-def]
        verdict = real(*args, **kwargs)
        change()
        return verdict

    monkeypatch.setattr(engine, "verify_delivery", verify_then_change)


def test_a_file_arriving_after_verification_rejects_the_delivery(
    signed: World, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Time of check, time of use: the read must not list the live folder again."""
    signed.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="OK-1")])
    _sign(signed, pki, ["cases_001.xml"])
    late = [make_case(serial=None, dept_case_no="LATE-EVIL")]
    _after_verification(monkeypatch, lambda: signed.deliver("cases_002.xml", late))
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "rejected"
    assert "cases_002.xml appeared after the signed manifest was verified" in (result.error or "")
    _nothing_written(signed, "cases_001.xml")


def test_a_file_and_manifest_swapped_after_verification_reject_the_delivery(
    signed: World, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="OK-1")])
    _sign(signed, pki, ["cases_001.xml"])

    def swap() -> None:
        signed.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="SWAP-EVIL")])
        (signed.drop / MANIFEST).write_bytes(build_manifest(signed.drop, ["cases_001.xml"]))

    _after_verification(monkeypatch, swap)
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "rejected" and "after the signed manifest was verified" in (
        result.error or ""
    )
    _nothing_written(signed, "cases_001.xml")


def test_the_read_ingests_the_verified_copies_not_the_live_files(
    signed: World, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a change the re-check cannot see (same size and mtime) never reaches the library."""
    import os

    signed.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="OK-1")])
    _sign(signed, pki, ["cases_001.xml"])
    path = signed.drop / "cases_001.xml"
    good = path.read_bytes()
    stat = path.stat()

    def rewrite_in_place() -> None:
        path.write_bytes(good.replace(b"OK-1", b"EV-1"))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    import tongyuan.ingest.engine as engine

    real = engine._pull_streams

    def rewrite_then_pull(*args, **kwargs):  # type: ignore[no-untyped-def]
        rewrite_in_place()
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_pull_streams", rewrite_then_pull)
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "committed", result.error
    assert [r[0] for r in signed.query(select(CaseRow.dept_case_no))] == ["OK-1"]


def _clear_drop(world: World) -> None:
    for path in world.drop.iterdir():
        if path.is_file():
            path.unlink()


def test_a_replayed_signed_delivery_is_refused(signed: World, pki: Pki) -> None:
    signed.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="R-1")])
    _sign_at(signed, pki, ["cases_001.xml"], minutes_ago=10)
    names = ("cases_001.xml", MANIFEST, SIGNATURE_NAME)
    saved = {n: (signed.drop / n).read_bytes() for n in names}
    first = ingest_department(signed.settings, signed.topology, DEPT)
    assert first.status == "committed", first.error
    _clear_drop(signed)

    signed.deliver("cases_002.xml", [make_case(serial=None, dept_case_no="R-2")])
    _sign_at(signed, pki, ["cases_002.xml"], minutes_ago=5)
    newer = ingest_department(signed.settings, signed.topology, DEPT)
    assert newer.status == "committed" and newer.added == 1, newer.error
    _clear_drop(signed)

    for name, data in saved.items():  # the first delivery, byte for byte
        (signed.drop / name).write_bytes(data)
    replay = ingest_department(signed.settings, signed.topology, DEPT)
    assert replay.status == "rejected"
    assert f"replay of the delivery accepted in batch {first.batch_id}" in (replay.error or "")
    assert signed.count(CaseRow) == 2
    assert (signed.drop / "cases_001.xml").exists()  # not acknowledged

    _clear_drop(signed)  # an older delivery never accepted: signed before the last one
    signed.deliver("cases_003.xml", [make_case(serial=None, dept_case_no="R-3")])
    _sign_at(signed, pki, ["cases_003.xml"], minutes_ago=7)
    older = ingest_department(signed.settings, signed.topology, DEPT)
    assert older.status == "rejected"
    assert "not later than the last accepted signed delivery" in (older.error or "")
    assert newer.batch_id in (older.error or "")
    assert signed.count(CaseRow) == 2
