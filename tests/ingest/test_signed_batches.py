"""Signed deliveries: verified whole before anything is read, rejected whole on failure."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from ingest_world import DEPT, World, make_world
from sqlalchemy import select
from std_factories import make_case

from signing.detached import sign_detached
from signing.keys import SigningKey
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


DEPT_NAME = "深圳市南山区市场监督管理局"
OTHER_DEPT = "11440304MB2C92920A"  # 深圳市福田区卫生健康局: same provincial CA, another department
_SIGNERS: dict[tuple[Path, str], tuple[SigningKey, list[bytes]]] = {}


def _signer(pki: Pki, code: str = DEPT) -> tuple[SigningKey, list[bytes]]:
    """A department's signing key and chain from ``pki``'s intermediate, one per PKI and code."""
    key = (pki.directory, code)
    if key not in _SIGNERS:
        _SIGNERS[key] = pki.department_signer("ecdsa", name=DEPT_NAME, code=code)
    return _SIGNERS[key]


def _sign(
    world: World, pki: Pki, names: list[str], signer: tuple[SigningKey, list[bytes]] | None = None
) -> None:
    manifest = build_manifest(world.drop, names)
    (world.drop / MANIFEST).write_bytes(manifest)
    key, chain = signer or _signer(pki)
    (world.drop / SIGNATURE_NAME).write_bytes(sign_detached(manifest, key, chain))


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
    fingerprint = hashlib.sha256(_signer(pki)[1][0]).hexdigest()
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
    key, chain = _signer(pki)
    envelope = sign_detached(manifest, key, chain, signing_time=when)
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
    """Even a change the re-check cannot see (same size and mtime) never reaches the library,
    and the swapped file is not acknowledged as if its bytes had been read."""
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
    assert b"EV-1" in path.read_bytes()  # left in the folder, not moved to done/


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


# --- the signer is the delivering department ----------------------------------------------


def _issue(pki: Pki, subject: x509.Name, alt: x509.GeneralName | None = None):  # type: ignore[no-untyped-def]
    """(key, chain) of a document-signing certificate from ``pki``'s intermediate — the
    one CA that certifies every department — with a chosen subject and subjectAltName."""
    from datetime import UTC, datetime, timedelta

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from signing.pki import DOCUMENT_SIGNING_EKU, load_authority

    inter = load_authority(pki.trust_dir, "intermediate-ecdsa")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(inter.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING_EKU]), critical=False)
    )
    if alt is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([alt]), critical=False)
    cert = builder.sign(inter.key, hashes.SHA256())
    der = cert.public_bytes(Encoding.DER)
    return SigningKey.from_private_key(key), [der, inter.der]


def _shared_issuing(pki: Pki) -> tuple[SigningKey, list[bytes]]:
    """The dev PKI's issuing certificate: certified by the shared CA, naming no USCC."""
    return pki.signing_key("ecdsa"), pki.chain("ecdsa")


def _deliver_signed_by(world: World, pki: Pki, signer: tuple[SigningKey, list[bytes]]):  # type: ignore[no-untyped-def]
    """Deliver three cases signed by ``signer`` and ingest them."""
    world.deliver("cases_001.xml", _cases())
    _sign(world, pki, ["cases_001.xml"], signer)
    return ingest_department(world.settings, world.topology, DEPT)


def _subject(cn: str, *extra: x509.NameAttribute) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), *extra])


def test_another_departments_certificate_from_the_same_ca_is_refused(
    signed: World, pki: Pki
) -> None:
    """QA: the provincial CA certifies every department; its chain alone proves nothing."""
    other = _issue(pki, _subject(f"深圳市福田区卫生健康局 USCC {OTHER_DEPT}"))
    result = _deliver_signed_by(signed, pki, other)
    assert result.status == "rejected"
    assert f"names {OTHER_DEPT}, not the delivering department {DEPT}" in (result.error or "")
    meta = _batch(signed, result.batch_ids[0]).meta
    assert (meta["indication"], meta["subindication"]) == (
        "INDETERMINATE",
        "SIG_CONSTRAINTS_FAILURE",
    )
    assert meta["signer_fingerprint"]  # who signed is kept with the refusal
    _nothing_written(signed, "cases_001.xml")


@pytest.mark.parametrize(
    "subject, alt",
    [
        (_subject(f"{DEPT_NAME} USCC {DEPT}"), None),
        (_subject(DEPT_NAME, x509.NameAttribute(NameOID.SERIAL_NUMBER, DEPT.lower())), None),
        (_subject(DEPT_NAME, x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEPT)), None),
        (_subject(DEPT_NAME, x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, DEPT)), None),
        (
            _subject(
                f"{DEPT_NAME} {DEPT}",
                x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{DEPT}"),
            ),
            None,
        ),
        (
            _subject(DEPT_NAME),
            x509.DirectoryName(
                x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{DEPT}")])
            ),
        ),
        (
            _subject(DEPT_NAME),
            x509.OtherName(
                x509.ObjectIdentifier("1.2.156.10260.4.1.4"), b"\x0c\x12" + DEPT.encode()
            ),
        ),
    ],
    ids=[
        "cn",
        "serialNumber",
        "o",
        "organizationIdentifier-bare",
        "same-code-twice",
        "san-directory-name",
        "san-other-name",
    ],
)
def test_a_certificate_naming_the_department_as_its_organisation_signs_for_it(
    signed: World, pki: Pki, subject: x509.Name, alt: x509.GeneralName | None
) -> None:
    result = _deliver_signed_by(signed, pki, _issue(pki, subject, alt))
    assert result.status == "committed" and result.added == 3, result.error


def _other_departments(*extra: x509.NameAttribute) -> x509.Name:
    """Department B's subject as its CA issued it: organizationIdentifier NTRCN-<B>."""
    org = x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{OTHER_DEPT}")
    return _subject("深圳市福田区卫生健康局", org, *extra)


@pytest.mark.parametrize(
    "subject, alt",
    [
        (_other_departments(), x509.RFC822Name(f"{DEPT.lower()}@mail.example.cn")),
        (_other_departments(), x509.DNSName(f"{DEPT.lower()}.example.cn")),
        (_other_departments(), x509.UniformResourceIdentifier(f"https://b.example/{DEPT}")),
        (_other_departments(x509.NameAttribute(NameOID.EMAIL_ADDRESS, f"{DEPT}@qq.com")), None),
        (
            _other_departments(
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"统一社会信用代码{DEPT}")
            ),
            None,
        ),
        (
            _other_departments(),
            x509.DirectoryName(
                x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEPT)])
            ),
        ),
        (  # a Windows UPN: a mailbox-like name, not a GM/T 0015 organisation identifier
            _other_departments(),
            x509.OtherName(
                x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"),
                b"\x0c\x22" + f"{DEPT}@corp.example.cn".encode(),
            ),
        ),
    ],
    ids=["san-email", "san-dns", "san-uri", "emailAddress", "ou", "san-directory-ou", "san-upn"],
)
def test_a_code_outside_the_organisation_attributes_does_not_sign_for_the_department(
    signed: World, pki: Pki, subject: x509.Name, alt: x509.GeneralName | None
) -> None:
    """Review r4: department B's certificate with A's code in an email address, a domain
    name, a URI or an OU — the CA checked control of those, not the organisation —
    is B's certificate: refused, the reason naming B's code only."""
    result = _deliver_signed_by(signed, pki, _issue(pki, subject, alt))
    assert result.status == "rejected"
    assert f"names {OTHER_DEPT}, not the delivering department {DEPT}" in (result.error or "")
    assert _batch(signed, result.batch_ids[0]).meta["subindication"] == "SIG_CONSTRAINTS_FAILURE"
    _nothing_written(signed, "cases_001.xml")


def test_a_code_only_in_an_email_address_is_no_uscc(signed: World, pki: Pki) -> None:
    """Without any organisation code, a code in the email address does not make one."""
    alt = x509.RFC822Name(f"{DEPT.lower()}@mail.example.cn")
    result = _deliver_signed_by(signed, pki, _issue(pki, _subject(DEPT_NAME), alt))
    assert result.status == "rejected"
    assert "the signer certificate names no USCC" in (result.error or "")
    _nothing_written(signed, "cases_001.xml")


@pytest.mark.parametrize(
    "subject",
    [
        _subject(
            f"{DEPT_NAME} USCC {DEPT}",
            x509.NameAttribute(NameOID.SERIAL_NUMBER, OTHER_DEPT),
        ),
        _subject(  # own among others: the department's organizationIdentifier, B's code in CN
            f"{DEPT_NAME} 代 {OTHER_DEPT}",
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{DEPT}"),
        ),
        _subject(  # organizationIdentifier B, the department's code in CN
            f"{DEPT_NAME} {DEPT}",
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{OTHER_DEPT}"),
        ),
    ],
    ids=["two-codes", "own-among-others", "organizationIdentifier-vs-cn"],
)
def test_a_certificate_naming_two_organisations_is_refused(
    signed: World, pki: Pki, subject: x509.Name
) -> None:
    result = _deliver_signed_by(signed, pki, _issue(pki, subject))
    assert result.status == "rejected"
    error = result.error or ""
    assert "names more than one USCC" in error
    assert DEPT in error and OTHER_DEPT in error
    assert _batch(signed, result.batch_ids[0]).meta["subindication"] == "SIG_CONSTRAINTS_FAILURE"
    _nothing_written(signed, "cases_001.xml")


def test_a_staff_certificate_carrying_the_holders_id_signs_for_its_department(
    signed: World, pki: Pki
) -> None:
    """Review r5: a staff certificate holds the person's 公民身份号码 in serialNumber, and
    this one also passes the USCC check (about one ID in 31 does): it is a person, not a
    second organisation."""
    staff_id = "360426199506176379"  # valid as a citizen ID and as a USCC
    subject = _subject(
        f"{DEPT_NAME} 张伟",
        x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{DEPT}"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, staff_id),
    )
    result = _deliver_signed_by(signed, pki, _issue(pki, subject))
    assert result.status == "committed", result.error


def test_the_organization_identifier_code_is_named_first() -> None:
    """When organizationIdentifier names a code, the refusal leads with it."""
    from datetime import UTC, datetime, timedelta

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from tongyuan.ingest.signer_identity import signer_usccs

    key = ec.generate_private_key(ec.SECP256R1())
    subject = _subject(
        f"{DEPT_NAME} {DEPT}",
        x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{OTHER_DEPT}"),
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    assert signer_usccs(cert) == [OTHER_DEPT, DEPT]


def test_a_certificate_naming_no_uscc_is_refused_by_default(signed: World, pki: Pki) -> None:
    """The dev PKI's shared issuing certificate names no organisation: it may be anyone's."""
    result = _deliver_signed_by(signed, pki, _shared_issuing(pki))
    assert result.status == "rejected"
    assert "the signer certificate names no USCC" in (result.error or "")
    assert "signing_ca: dedicated" in (result.error or "")
    assert _batch(signed, result.batch_ids[0]).meta["subindication"] == "SIG_CONSTRAINTS_FAILURE"
    _nothing_written(signed, "cases_001.xml")


def _dedicated_world(hub, tmp_path: Path, pki: Pki, scope: str | None) -> World:  # type: ignore[no-untyped-def]
    """A department declaring ``signing_ca: dedicated``; the PKI's root moved under
    ``anchors/<scope>/`` (None: left a general anchor)."""
    import shutil

    trust = tmp_path / "trust"
    shutil.copytree(pki.trust_dir, trust, ignore=shutil.ignore_patterns("private"))
    if scope is not None:
        (trust / "anchors" / scope).mkdir()
        for anchor in (trust / "anchors").glob("*.pem"):
            anchor.rename(trust / "anchors" / scope / anchor.name)
    return make_world(hub, tmp_path, signing=True, trust_dir=trust, signing_ca="dedicated")


def test_a_dedicated_ca_under_the_departments_own_anchors_signs_without_a_uscc(
    hub, tmp_path: Path, pki: Pki
) -> None:
    world = _dedicated_world(hub, tmp_path, pki, DEPT)
    result = _deliver_signed_by(world, pki, _shared_issuing(pki))
    assert result.status == "committed" and result.added == 3, result.error


def test_a_dedicated_ca_still_refuses_another_departments_certificate(
    hub, tmp_path: Path, pki: Pki
) -> None:
    world = _dedicated_world(hub, tmp_path, pki, DEPT)
    result = _deliver_signed_by(world, pki, _signer(pki, OTHER_DEPT))
    assert result.status == "rejected" and OTHER_DEPT in (result.error or "")
    _nothing_written(world, "cases_001.xml")


def test_a_dedicated_ca_needs_the_chain_under_the_departments_own_anchors(
    hub, tmp_path: Path, pki: Pki
) -> None:
    """Declared dedicated, but the signer chains to a general anchor (the shared CA): refused."""
    world = _dedicated_world(hub, tmp_path, pki, None)
    result = _deliver_signed_by(world, pki, _shared_issuing(pki))
    assert result.status == "rejected"
    assert "names no USCC and the department's dedicated CA has no anchors" in (result.error or "")
    assert f"anchors/{DEPT}/" in (result.error or "")
    assert _batch(world, result.batch_ids[0]).meta["subindication"] == "SIG_CONSTRAINTS_FAILURE"
    _nothing_written(world, "cases_001.xml")


def test_a_dedicated_ca_refuses_a_chain_to_a_general_anchor_beside_its_own(
    hub, tmp_path: Path, pki: Pki
) -> None:
    """The department's own anchors exist but are another CA's; the signer chains to the
    general (shared) anchor only: the general anchor does not stand in for them."""
    world = _dedicated_world(hub, tmp_path, pki, None)
    own = init_pki(tmp_path / "own", algorithms=("ecdsa",))
    (world.topology.trust_dir / "anchors" / DEPT).mkdir()
    for anchor in (own.trust_dir / "anchors").glob("*.pem"):
        (world.topology.trust_dir / "anchors" / DEPT / anchor.name).write_bytes(anchor.read_bytes())
    result = _deliver_signed_by(world, pki, _shared_issuing(pki))
    assert result.status == "rejected"
    assert f"its chain does not end under anchors/{DEPT}/" in (result.error or "")
    _nothing_written(world, "cases_001.xml")


def test_only_codes_passing_the_uscc_check_count(tmp_path: Path) -> None:
    """A wrong check character (the QA certificate's 11440304MB2C92920X) or a longer run is
    no USCC; a lower-case code is one."""
    from signing.trust import parse_certificate
    from tongyuan.ingest.signer_identity import signer_usccs

    pki = init_pki(tmp_path / "p", algorithms=("ecdsa",))
    subject = _subject(
        f"x 11440304MB2C92920X {DEPT}9",  # wrong check character; a run of 19
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"A{OTHER_DEPT}"),  # a run of 19
        x509.NameAttribute(NameOID.SERIAL_NUMBER, OTHER_DEPT.lower()),
    )
    _key, chain = _issue(pki, subject)
    assert signer_usccs(parse_certificate(chain[0])) == [OTHER_DEPT]


# --- accepted deliveries still in the folder, re-sends, verified copies (review r2) -------


def _configured(hub, tmp_path: Path, pki: Pki, line: str) -> World:  # type: ignore[no-untyped-def]
    """A signed world whose drop folder's configuration has ``line`` added."""
    from ingest_world import topology_yaml

    from tongyuan.topology import load_topology

    text = topology_yaml(signing=True, trust_dir=pki.trust_dir).replace(
        "        settle_seconds: 0\n    signing",
        f"        settle_seconds: 0\n        {line}\n    signing",
    )
    assert line in text
    (tmp_path / "configured.yaml").write_text(text, encoding="utf-8")
    world = make_world(hub, tmp_path, signing=True, trust_dir=pki.trust_dir)
    return World(world.settings, load_topology(tmp_path / "configured.yaml", home=hub.home),
                 world.drop, world.tmp)  # fmt: skip


def _rejections(world: World) -> int:
    return world.count(Batch, Batch.kind == "ingest.rejected")


def _marker_delivery_ingested(hub, tmp_path: Path, pki: Pki, minutes_ago: int):  # type: ignore[no-untyped-def]
    """A world acknowledging with markers, one case signed ``minutes_ago`` and ingested."""
    world = _configured(hub, tmp_path, pki, "acknowledge: marker")
    world.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="M-1")])
    _sign_at(world, pki, ["cases_001.xml"], minutes_ago=minutes_ago)
    first = ingest_department(world.settings, world.topology, DEPT)
    assert first.status == "committed" and first.added == 1, first.error
    return world, first


def test_a_delivery_acknowledged_by_markers_is_nothing_new_on_the_next_run(
    hub, tmp_path: Path, pki: Pki
) -> None:
    """Files, manifest and signature stay beside their .done markers: not a replay."""
    world, _ = _marker_delivery_ingested(hub, tmp_path, pki, minutes_ago=1)
    assert (world.drop / "cases_001.xml.done").exists()
    for _ in range(2):
        again = ingest_department(world.settings, world.topology, DEPT)
        assert again.status == "committed", again.error
        assert (again.read, again.added) == (0, 0)
    assert _rejections(world) == 0
    assert world.count(CaseRow) == 1


def test_a_failed_acknowledgement_is_retried_and_a_put_back_delivery_refused(
    signed: World, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.builtin.files import LocalFolder

    signed.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="A-1")])
    _sign_at(signed, pki, ["cases_001.xml"], minutes_ago=1)
    saved = (signed.drop / "cases_001.xml").read_bytes()
    real = LocalFolder.move_to_done

    def disk_full(self, name: str, done: str) -> str:  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(LocalFolder, "move_to_done", disk_full)
    first = ingest_department(signed.settings, signed.topology, DEPT)
    assert first.status == "committed" and first.added == 1, first.error
    assert (signed.drop / "cases_001.xml").exists()
    monkeypatch.setattr(LocalFolder, "move_to_done", real)
    retry = ingest_department(signed.settings, signed.topology, DEPT)
    assert retry.status == "committed" and (retry.read, retry.added) == (0, 0), retry.error
    assert not (signed.drop / "cases_001.xml").exists()  # acknowledged now
    assert _batch(signed, retry.batch_id or "").meta["accepted_in"] == first.batch_id
    assert _rejections(signed) == 0

    (signed.drop / "cases_001.xml").write_bytes(saved)  # put back after its acknowledgement
    replay = ingest_department(signed.settings, signed.topology, DEPT)
    assert replay.status == "rejected"
    assert f"replay of the delivery accepted in batch {first.batch_id}" in (replay.error or "")
    assert signed.count(CaseRow) == 1


def test_a_sidecar_listed_in_the_manifest_is_read_from_its_verified_copy(
    signed: World, pki: Pki
) -> None:
    path = signed.deliver("cases_001.xml", _cases())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (signed.drop / "cases_001.xml.sha256").write_text(f"{digest}  cases_001.xml\n")
    _sign(signed, pki, ["cases_001.xml", "cases_001.xml.sha256"])
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "committed" and result.added == 3, result.error


def test_the_same_files_signed_again_later_are_a_new_delivery(signed: World, pki: Pki) -> None:
    """The documented re-send: build_manifest gives the same bytes, the envelope differs."""
    signed.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="S-1")])
    data = (signed.drop / "cases_001.xml").read_bytes()
    _sign_at(signed, pki, ["cases_001.xml"], minutes_ago=10)
    manifest = (signed.drop / MANIFEST).read_bytes()
    first = ingest_department(signed.settings, signed.topology, DEPT)
    assert first.status == "committed", first.error
    (signed.drop / "cases_001.xml").write_bytes(data)
    _sign_at(signed, pki, ["cases_001.xml"], minutes_ago=0)
    assert (signed.drop / MANIFEST).read_bytes() == manifest
    again = ingest_department(signed.settings, signed.topology, DEPT)
    assert again.status == "committed" and again.unchanged == 1, again.error


def _kill_at_last_after_commit(calls: list[str]):  # type: ignore[no-untyped-def]
    """A checkpoint killing the run after the case stream's commit (the second stream)."""

    def checkpoint(point: str) -> None:
        calls.append(point)
        if calls.count("after_commit") == 2:
            raise SystemExit("killed")

    return checkpoint


def test_the_accepted_delivery_commits_with_its_cases(signed: World, pki: Pki) -> None:
    """Killed after the commit, before the acknowledgement: a put-back copy is a replay."""
    signed.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="C-1")])
    _sign_at(signed, pki, ["cases_001.xml"], minutes_ago=1)
    names = ("cases_001.xml", MANIFEST, SIGNATURE_NAME)
    saved = {n: (signed.drop / n).read_bytes() for n in names}
    with pytest.raises(SystemExit):
        ingest_department(
            signed.settings, signed.topology, DEPT, checkpoint=_kill_at_last_after_commit([])
        )
    assert signed.count(CaseRow) == 1
    for name, data in saved.items():  # put back byte for byte (new mtime)
        (signed.drop / name).write_bytes(data)
    replay = ingest_department(signed.settings, signed.topology, DEPT)
    assert replay.status == "rejected" and "replay of the delivery" in (replay.error or "")


def test_a_failure_remembering_the_delivery_fails_the_case_batch(
    signed: World, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tongyuan.ingest.engine as engine

    signed.deliver("cases_001.xml", _cases())
    _sign(signed, pki, ["cases_001.xml"])

    def broken(*args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("database went away")

    monkeypatch.setattr(engine, "remember_delivery", broken)
    result = ingest_department(signed.settings, signed.topology, DEPT)  # does not raise
    assert result.status == "failed" and "database went away" in (result.error or "")
    _nothing_written(signed, "cases_001.xml")
    monkeypatch.undo()
    again = ingest_department(signed.settings, signed.topology, DEPT)
    assert again.status == "committed" and again.added == 3, again.error


def _verified_dir(world: World) -> Path:
    source = world.topology.case_department(DEPT).cases.open()  # type: ignore[union-attr]
    return source.verified_path(DEPT)  # type: ignore[attr-defined]


def test_verified_copies_stay_in_the_staging_area_and_never_outlive_the_run(
    signed: World, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import time

    import tongyuan.ingest.engine as engine

    stale = _verified_dir(signed) / "tongyuan-verified-killed"
    stale.mkdir()
    (stale / "0.copy").write_text("left by a killed run")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))  # a young copy may be another hub's
    signed.deliver("cases_001.xml", _cases())
    _sign(signed, pki, ["cases_001.xml"])

    def broken(*args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("database went away")

    monkeypatch.setattr(engine, "accepted_delivery", broken)
    with pytest.raises(RuntimeError):
        ingest_department(signed.settings, signed.topology, DEPT)
    assert list(_verified_dir(signed).iterdir()) == []  # swept, and the refusal's copies gone


def test_verified_copies_are_made_under_the_staging_area(
    signed: World, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tongyuan.ingest.engine as engine

    signed.deliver("cases_001.xml", _cases())
    _sign(signed, pki, ["cases_001.xml"])
    seen: list[list[str]] = []
    real = engine._pull_streams

    def look_then_pull(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append([p.name for p in _verified_dir(signed).iterdir()])
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_pull_streams", look_then_pull)
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "committed", result.error
    assert len(seen[0]) == 1 and seen[0][0].startswith("tongyuan-verified-")
    assert list(_verified_dir(signed).iterdir()) == []


def test_a_file_over_max_file_bytes_refuses_the_delivery_before_its_download(
    hub, tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.builtin.files import LocalFolder

    world = _configured(hub, tmp_path, pki, "max_file_bytes: 100")
    world.deliver("cases_001.xml", _cases())
    _sign(world, pki, ["cases_001.xml"])
    fetched: list[str] = []
    real = LocalFolder.fetch
    monkeypatch.setattr(
        LocalFolder, "fetch", lambda self, name, *a: (fetched.append(name), real(self, name, *a))
    )
    result = ingest_department(world.settings, world.topology, DEPT)
    assert result.status == "rejected"
    assert "cases_001.xml" in (result.error or "") and "over max_file_bytes (100)" in (
        result.error or ""
    )
    assert fetched == []
    _nothing_written(world, "cases_001.xml")


# --- acknowledge-only runs never ingest (review r4) ------------------------------------------


def _put_back(world: World, saved: dict[str, tuple[bytes, int]]) -> None:
    """Put files back byte for byte with their modification times (a careful replay)."""
    import os

    for name, (data, mtime_ns) in saved.items():
        (world.drop / name).write_bytes(data)
        os.utime(world.drop / name, ns=(mtime_ns, mtime_ns))


def _saved(world: World, names: tuple[str, ...]) -> dict[str, tuple[bytes, int]]:
    return {n: ((world.drop / n).read_bytes(), (world.drop / n).stat().st_mtime_ns) for n in names}


def _applicants(world: World) -> list[str]:
    return [row[0] for row in world.query(select(CaseRow.applicant_name))]


def test_markers_removed_after_the_replay_check_do_not_let_an_old_delivery_in(
    hub, tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The markers that made the run acknowledge-only are the ones its reads see."""
    from std_factories import PERSON

    import tongyuan.ingest.engine as engine
    from standards.codes import IdType
    from standards.records import Applicant

    world, first = _marker_delivery_ingested(hub, tmp_path, pki, minutes_ago=10)
    old = _saved(world, ("cases_001.xml", MANIFEST, SIGNATURE_NAME, "cases_001.xml.done"))
    newer = Applicant(name="李四", id_type=IdType.CITIZEN_ID, id_number=PERSON)
    world.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="M-1", applicant=newer)])
    _sign_at(world, pki, ["cases_001.xml"], minutes_ago=5)
    second = ingest_department(world.settings, world.topology, DEPT)
    assert second.status == "committed" and second.changed == 1, second.error

    _put_back(world, old)  # the old delivery, markers included
    real = engine._refusal

    def refusal_then_drop_the_marker(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)
        (world.drop / "cases_001.xml.done").unlink()
        return out

    monkeypatch.setattr(engine, "_refusal", refusal_then_drop_the_marker)
    third = ingest_department(world.settings, world.topology, DEPT)
    assert third.status == "committed" and (third.read, third.changed) == (0, 0), third.error
    assert _batch(world, third.batch_id or "").meta["accepted_in"] == first.batch_id
    assert _applicants(world) == ["李四"]


def test_an_acknowledge_only_run_that_reads_a_record_fails(
    hub, tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: whatever makes a read of an accepted delivery find a file again,
    an acknowledge-only run stores nothing of it."""
    from adapters.builtin.drop_read import DropRead

    world, first = _marker_delivery_ingested(hub, tmp_path, pki, minutes_ago=1)
    monkeypatch.setattr(DropRead, "_acknowledged_by_marker", lambda self, entries, entry: False)
    again = ingest_department(world.settings, world.topology, DEPT)
    assert again.status == "failed"
    assert f"accepted in batch {first.batch_id}" in (again.error or "")
    assert world.count(CaseRow) == 1
    assert world.count(Batch, Batch.status == "committed", Batch.kind == "ingest.case") == 1


def test_a_delivery_put_back_right_after_its_acknowledgement_is_a_replay(
    signed: World, pki: Pki
) -> None:
    """The state no longer names acknowledged files as pending: no acknowledge-only pass."""
    signed.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="A-1")])
    _sign_at(signed, pki, ["cases_001.xml"], minutes_ago=1)
    old = _saved(signed, ("cases_001.xml", MANIFEST, SIGNATURE_NAME))
    first = ingest_department(signed.settings, signed.topology, DEPT)
    assert first.status == "committed" and first.added == 1, first.error
    assert not (signed.drop / "cases_001.xml").exists()
    _put_back(signed, old)
    again = ingest_department(signed.settings, signed.topology, DEPT)
    assert again.status == "rejected"
    assert f"replay of the delivery accepted in batch {first.batch_id}" in (again.error or "")
    assert _rejections(signed) == 1


def test_verified_copies_are_per_department_and_only_old_ones_are_swept(
    signed: World, pki: Pki
) -> None:
    """Two departments sharing a drop folder (or two hubs a staging area) never sweep each
    other's copies: the path names the department, and a copy is swept only once stale."""
    import os
    import time

    from tongyuan.ingest.signed import sweep_verified

    source = signed.topology.case_department(DEPT).cases.open()  # type: ignore[union-attr]
    ours, theirs = source.verified_path(DEPT), source.verified_path(OTHER_DEPT)  # type: ignore[attr-defined]
    assert ours != theirs
    fresh, stale, other = (
        ours / "tongyuan-verified-a",
        ours / "tongyuan-verified-b",
        theirs / "tongyuan-verified-c",
    )
    for path in (fresh, stale, other):
        path.mkdir()
    hours_ago = time.time() - 7200
    os.utime(stale, (hours_ago, hours_ago))
    os.utime(other, (hours_ago, hours_ago))
    sweep_verified(source, DEPT)  # type: ignore[arg-type]
    assert fresh.exists() and not stale.exists() and other.exists()
