"""SM2 certificates and CRLs: a root → intermediate → issuing chain, each link verified."""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing import sm2
from signing.sm2_curve import OID_SM2_WITH_SM3

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ROOT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "同源 测试 CA"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Tongyuan SM2 Root"),
    ]
)
INTER_NAME = "CN=Tongyuan SM2 Intermediate,O=同源 测试 CA,C=CN"
LEAF_NAME = "CN=深圳市市场监督管理局 证照签章,O=深圳市市场监督管理局,C=CN"


@pytest.fixture(scope="module")
def chain():
    root_key, inter_key, leaf_key = (sm2.generate_sm2_key() for _ in range(3))
    root = sm2.build_sm2_certificate(
        subject=ROOT_NAME,
        issuer_name=ROOT_NAME,
        subject_public_key_spki=sm2.sm2_public_key_spki(root_key),
        issuer_key=root_key,
        serial=1,
        not_before=NOW,
        not_after=NOW + timedelta(days=3650),
        ca=True,
        path_len=1,
    )
    inter = sm2.build_sm2_certificate(
        subject=INTER_NAME,
        issuer_name=ROOT_NAME,
        subject_public_key_spki=sm2.sm2_public_key_spki(inter_key),
        issuer_key=root_key,
        serial=2,
        not_before=NOW,
        not_after=NOW + timedelta(days=1825),
        ca=True,
        path_len=0,
    )
    leaf = sm2.build_sm2_certificate(
        subject=LEAF_NAME,
        issuer_name=x509.load_der_x509_certificate(inter).subject,
        subject_public_key_spki=sm2.sm2_public_key_spki(leaf_key),
        issuer_key=inter_key,
        serial=0x1D2C3B4A59687766,
        not_before=NOW,
        not_after=NOW + timedelta(days=365),
        ca=False,
        extended_key_usage=x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
    )
    return {
        "keys": (root_key, inter_key, leaf_key),
        "certs": (root, inter, leaf),
    }


def _spki(key) -> bytes:
    return sm2.sm2_public_key_spki(key)


def test_each_certificate_verifies_with_its_issuers_key(chain):
    root_key, inter_key, _leaf_key = chain["keys"]
    root, inter, leaf = chain["certs"]
    assert sm2.verify_sm2_certificate(root, _spki(root_key))
    assert sm2.verify_sm2_certificate(inter, _spki(root_key))
    assert sm2.verify_sm2_certificate(leaf, _spki(inter_key))
    # and only with it
    assert not sm2.verify_sm2_certificate(leaf, _spki(root_key))
    assert not sm2.verify_sm2_certificate(inter, _spki(inter_key))


def test_signed_parts_come_from_the_certificate(chain):
    _root_key, _, leaf_key = chain["keys"]
    _, _, leaf = chain["certs"]
    parsed = x509.load_der_x509_certificate(leaf)
    parts = sm2.certificate_signed_parts(leaf)
    assert parts.algorithm_oid == OID_SM2_WITH_SM3
    assert parts.tbs == parsed.tbs_certificate_bytes
    assert parts.signature == parsed.signature
    assert parts.spki == _spki(leaf_key)


def test_certificate_fields_parse_with_cryptography(chain):
    _root_key, inter_key, _ = chain["keys"]
    root, inter, leaf = chain["certs"]
    r, i, lf = (x509.load_der_x509_certificate(c) for c in (root, inter, leaf))
    assert r.subject == r.issuer == ROOT_NAME
    assert i.issuer == r.subject and lf.issuer == i.subject
    assert lf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value.startswith("深圳市")
    assert lf.serial_number == 0x1D2C3B4A59687766
    assert lf.not_valid_before_utc == NOW
    assert lf.not_valid_after_utc == NOW + timedelta(days=365)

    def ext(cert, cls):
        return cert.extensions.get_extension_for_class(cls)

    assert ext(r, x509.BasicConstraints).value.path_length == 1
    assert ext(i, x509.BasicConstraints).value.path_length == 0
    assert ext(i, x509.BasicConstraints).critical
    assert not ext(lf, x509.BasicConstraints).value.ca
    assert ext(i, x509.KeyUsage).value.key_cert_sign and ext(i, x509.KeyUsage).value.crl_sign
    leaf_ku = ext(lf, x509.KeyUsage)
    assert leaf_ku.critical and leaf_ku.value.digital_signature
    assert leaf_ku.value.content_commitment and not leaf_ku.value.key_cert_sign
    assert list(ext(lf, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CODE_SIGNING]
    # key identifiers link each certificate to its issuer
    assert ext(r, x509.AuthorityKeyIdentifier).value.key_identifier == (
        ext(r, x509.SubjectKeyIdentifier).value.digest
    )
    assert ext(i, x509.AuthorityKeyIdentifier).value.key_identifier == (
        ext(r, x509.SubjectKeyIdentifier).value.digest
    )
    assert ext(lf, x509.AuthorityKeyIdentifier).value.key_identifier == (
        ext(i, x509.SubjectKeyIdentifier).value.digest
    )
    assert ext(i, x509.SubjectKeyIdentifier).value.digest == sm2.key_identifier(_spki(inter_key))


def test_tampered_certificate_fails(chain):
    root_key, _, _ = chain["keys"]
    _, inter, _ = chain["certs"]
    name = b"Tongyuan SM2 Intermediate"
    forged = inter.replace(name, b"Tongyuan SM2 Intermediatf")
    assert forged != inter
    assert not sm2.verify_sm2_certificate(forged, _spki(root_key))
    assert not sm2.verify_sm2_certificate(b"\x30\x03\x02\x01\x01", _spki(root_key))


def test_inner_and_outer_algorithm_must_match(chain):
    root_key, _, _ = chain["keys"]
    _, inter, _ = chain["certs"]
    sm2_alg = bytes.fromhex("300a06082a811ccf55018375")  # SEQUENCE { OID 1.2.156.10197.1.501 }
    ecdsa_alg = bytes.fromhex("300a06082a8648ce3d040302")  # ecdsa-with-SHA256, same length
    assert inter.count(sm2_alg) == 2
    last = inter.rindex(sm2_alg)
    swapped = inter[:last] + ecdsa_alg + inter[last + len(sm2_alg) :]
    with pytest.raises(ValueError, match="inside and outside"):
        sm2.certificate_signed_parts(swapped)
    assert not sm2.verify_sm2_certificate(swapped, _spki(root_key))


def test_sm2_crl_signed_by_the_issuing_ca(chain):
    _, inter_key, _ = chain["keys"]
    _, inter, leaf = chain["certs"]
    issuer = x509.load_der_x509_certificate(inter).subject
    revoked_serial = x509.load_der_x509_certificate(leaf).serial_number
    crl_der = sm2.build_sm2_crl(
        issuer_name=issuer,
        issuer_key=inter_key,
        this_update=NOW,
        next_update=NOW + timedelta(days=7),
        revoked=[(revoked_serial, NOW + timedelta(days=1)), (77, NOW)],
        crl_number=42,
    )
    crl = x509.load_der_x509_crl(crl_der)
    assert crl.issuer == issuer
    assert crl.last_update_utc == NOW and crl.next_update_utc == NOW + timedelta(days=7)
    entry = crl.get_revoked_certificate_by_serial_number(revoked_serial)
    assert entry is not None and entry.revocation_date_utc == NOW + timedelta(days=1)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == sm2.key_identifier(_spki(inter_key))
    assert sm2.verify_sm2_crl(crl_der, _spki(inter_key))
    assert not sm2.verify_sm2_crl(crl_der, _spki(chain["keys"][0]))
    parts = sm2.crl_signed_parts(crl_der)
    assert parts.tbs == crl.tbs_certlist_bytes and parts.algorithm_oid == OID_SM2_WITH_SM3
    forged = crl_der.replace((77).to_bytes(1, "big") + b"\x17", (78).to_bytes(1, "big") + b"\x17")
    assert forged != crl_der
    assert not sm2.verify_sm2_crl(forged, _spki(inter_key))


def test_empty_crl_and_far_dates_use_generalized_time(chain):
    root_key = chain["keys"][0]
    crl_der = sm2.build_sm2_crl(
        issuer_name=ROOT_NAME,
        issuer_key=root_key,
        this_update=datetime(2049, 12, 31, tzinfo=UTC),
        next_update=datetime(2050, 1, 7, tzinfo=UTC),
    )
    crl = x509.load_der_x509_crl(crl_der)
    assert len(crl) == 0
    assert crl.next_update_utc == datetime(2050, 1, 7, tzinfo=UTC)
    assert sm2.verify_sm2_crl(crl_der, _spki(root_key))


def test_ecdsa_root_can_issue_an_sm2_certificate():
    root_key = ec.generate_private_key(ec.SECP256R1())
    sm2_key = sm2.generate_sm2_key()
    der = sm2.build_sm2_certificate(
        subject="CN=SM2 under ECDSA",
        issuer_name=ROOT_NAME,
        subject_public_key_spki=sm2.sm2_public_key_spki(sm2_key),
        issuer_key=root_key,
        serial=9,
        not_before=NOW,
        not_after=NOW + timedelta(days=30),
        ca=False,
    )
    cert = x509.load_der_x509_certificate(der)
    assert cert.signature_algorithm_oid.dotted_string == "1.2.840.10045.4.3.2"
    root_key.public_key().verify(
        cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
    )
    assert not sm2.verify_sm2_certificate(der, sm2.sm2_public_key_spki(sm2_key))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"serial": 0}, "serial"),
        ({"not_after": NOW - timedelta(days=1)}, "not_after"),
        ({"not_before": datetime(2026, 1, 1)}, "timezone"),
        ({"ca": False, "path_len": 0}, "path_len"),
        ({"subject": "not a name"}, "RFC 4514"),
    ],
)
def test_bad_certificate_arguments_say_what(kwargs, message):
    key = sm2.generate_sm2_key()
    args = {
        "subject": "CN=x",
        "issuer_name": "CN=x",
        "subject_public_key_spki": sm2.sm2_public_key_spki(key),
        "issuer_key": key,
        "serial": 5,
        "not_before": NOW,
        "not_after": NOW + timedelta(days=1),
        "ca": True,
    } | kwargs
    with pytest.raises(sm2.CertificateBuildError, match=message):
        sm2.build_sm2_certificate(**args)


def test_chain_verifies_with_the_fallback(monkeypatch, chain):
    from test_sm2 import _load_sm2_without_tongsuopy

    root_key, inter_key, _ = chain["keys"]
    spkis = [_spki(root_key), _spki(inter_key)]
    _root, inter, leaf = chain["certs"]
    fallback = _load_sm2_without_tongsuopy(monkeypatch)
    assert fallback.verify_sm2_certificate(inter, spkis[0])
    assert fallback.verify_sm2_certificate(leaf, spkis[1])
    assert not fallback.verify_sm2_certificate(leaf, spkis[0])


def _openssl_verifies(tmp_path: Path, spki: bytes, data: bytes, sig: bytes, uid: bytes) -> bool:
    (tmp_path / "pub.pem").write_text(
        "-----BEGIN PUBLIC KEY-----\n"
        + base64.encodebytes(spki).decode()
        + "-----END PUBLIC KEY-----\n"
    )
    (tmp_path / "data").write_bytes(data)
    (tmp_path / "sig").write_bytes(sig)
    result = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            str(tmp_path / "pub.pem"),
            "-rawin",
            "-digest",
            "sm3",
            "-in",
            str(tmp_path / "data"),
            "-sigfile",
            str(tmp_path / "sig"),
            "-pkeyopt",
            f"distid:{uid.decode()}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return "Signature Verified Successfully" in result.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_openssl_verifies_certificate_and_crl_signatures(tmp_path: Path, chain):
    """A third implementation (OpenSSL 3's SM2) accepts the signatures we made.

    OpenSSL 3.0 cannot verify SM2 certificates as certificates (``openssl verify`` fails
    even on its own SM2 certificates), so the signed parts are checked with pkeyutl.
    """
    root_key, inter_key, leaf_key = chain["keys"]
    root, inter, leaf = chain["certs"]
    for cert, issuer_key in ((root, root_key), (inter, root_key), (leaf, inter_key)):
        parts = sm2.certificate_signed_parts(cert)
        assert _openssl_verifies(
            tmp_path, _spki(issuer_key), parts.tbs, parts.signature, sm2.DEFAULT_UID
        )
    crl = sm2.build_sm2_crl(
        issuer_name=INTER_NAME,
        issuer_key=inter_key,
        this_update=NOW,
        next_update=NOW + timedelta(days=1),
    )
    parts = sm2.crl_signed_parts(crl)
    assert _openssl_verifies(
        tmp_path, _spki(inter_key), parts.tbs, parts.signature, sm2.DEFAULT_UID
    )
    other = sm2.sm2_sign(leaf_key, b"payload", uid=b"ALICE123@YAHOO.COM")
    assert _openssl_verifies(tmp_path, _spki(leaf_key), b"payload", other, b"ALICE123@YAHOO.COM")
    assert not _openssl_verifies(tmp_path, _spki(leaf_key), b"payload", other, sm2.DEFAULT_UID)
