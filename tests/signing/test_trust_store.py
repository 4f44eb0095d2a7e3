"""Trust directory loading and the algorithm layer."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from signing_pki import GeneratedPki, pem

from signing.algorithms import (
    UnsupportedAlgorithmError,
    certificate_signature_algorithm,
    check_crypto_constraints,
    verify_signature,
)
from signing.keys import KeyFileError, SigningKey, load_signing_key, private_key_pem
from signing.trust import ANY_AUTHORITY, TrustStore, TrustStoreError


def _spki(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_missing_directory_and_no_anchors(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError, match="not found"):
        TrustStore.load(tmp_path / "absent")
    (tmp_path / "anchors").mkdir()
    with pytest.raises(TrustStoreError, match="no trust anchors"):
        TrustStore.load(tmp_path)


def test_broken_files_are_named(test_pki: GeneratedPki, tmp_path: Path) -> None:
    (tmp_path / "anchors").mkdir()
    (tmp_path / "anchors" / "bad.pem").write_text("-----BEGIN CERTIFICATE-----\nxx\n")
    with pytest.raises(TrustStoreError, match=r"bad\.pem"):
        TrustStore.load(tmp_path)
    (tmp_path / "anchors" / "bad.pem").write_bytes(pem(test_pki.hierarchies["rsa"].root.cert))
    (tmp_path / "crls").mkdir()
    (tmp_path / "crls" / "x.crl").write_bytes(b"\x30\x03\x02\x01\x00")
    with pytest.raises(TrustStoreError, match=r"x\.crl"):
        TrustStore.load(tmp_path)


def test_bundles_der_and_authorities(test_pki: GeneratedPki, tmp_path: Path) -> None:
    h = test_pki.hierarchies
    (tmp_path / "anchors" / "11440300MB2C12345X").mkdir(parents=True)
    (tmp_path / "anchors" / "bundle.pem").write_bytes(
        pem(h["rsa"].root.cert) + pem(h["sm2"].root.cert)
    )
    (tmp_path / "anchors" / "11440300MB2C12345X" / "root.der").write_bytes(h["ecdsa"].root.der)
    store = TrustStore.load(tmp_path)
    assert len(store.anchors[ANY_AUTHORITY]) == 2
    assert [a for a, _ in store.anchors_for("11440300MB2C12345X")].count("11440300MB2C12345X") == 1
    assert len(store.anchors_for("other")) == 2
    assert len(store.anchors_for(None)) == 3


def test_naive_times_are_refused(test_pki: GeneratedPki) -> None:
    _key, chain = test_pki.signer("ecdsa")
    with pytest.raises(ValueError, match="timezone"):
        test_pki.trust.validate(chain[0], chain[1:], at=test_pki.now.replace(tzinfo=None))


def test_verify_signature_each_family() -> None:
    data = "数据".encode()
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    e = ec.generate_private_key(ec.SECP256R1())
    d = ed25519.Ed25519PrivateKey.generate()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    cases = [
        (r, r.sign(data, padding.PKCS1v15(), hashes.SHA256()), "rsa-pkcs1v15-sha256"),
        (r, r.sign(data, pss, hashes.SHA256()), "rsa-pss-sha256"),
        (e, e.sign(data, ec.ECDSA(hashes.SHA256())), "ecdsa-sha256"),
        (d, d.sign(data), "ed25519"),
    ]
    for key, sig, alg in cases:
        assert verify_signature(_spki(key), sig, data, alg), alg
        assert not verify_signature(_spki(key), sig, data + b"x", alg), alg
    # a key of the wrong type is a failed verification, not an exception
    assert not verify_signature(_spki(e), cases[0][1], data, "rsa-pkcs1v15-sha256")
    assert not verify_signature(b"garbage", cases[0][1], data, "rsa-pkcs1v15-sha256")
    with pytest.raises(UnsupportedAlgorithmError):
        verify_signature(_spki(r), cases[0][1], data, "rsa-sha3")


def test_crypto_constraints() -> None:
    r1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    r2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    k1 = ec.generate_private_key(ec.SECP256K1())
    assert check_crypto_constraints("rsa-pkcs1v15-sha256", _spki(r2048)).passed
    assert not check_crypto_constraints("rsa-pkcs1v15-sha256", _spki(r1024)).passed
    assert not check_crypto_constraints("rsa-pkcs1v15-sha1", _spki(r2048)).passed
    assert not check_crypto_constraints("ecdsa-sha1", _spki(k1)).passed
    assert not check_crypto_constraints("ecdsa-sha256", _spki(k1)).passed  # secp256k1
    assert not check_crypto_constraints("ed25519", _spki(r2048)).passed
    assert not check_crypto_constraints("dsa-sha256", _spki(r2048)).passed


def test_sm2_certificates_are_named(test_pki: GeneratedPki) -> None:
    assert certificate_signature_algorithm(test_pki.hierarchies["sm2"].issuing.cert) == "sm2-sm3"
    key, _ = test_pki.signer("sm2")
    assert check_crypto_constraints("sm2-sm3", key.public_key_spki()).passed


@pytest.mark.parametrize("family", ["rsa", "ecdsa", "ed25519", "sm2"])
def test_key_files_round_trip(test_pki: GeneratedPki, tmp_path: Path, family: str) -> None:
    key, _ = test_pki.signer(family)
    path = tmp_path / "k.pem"
    path.write_bytes(private_key_pem(key.private_key))
    loaded = load_signing_key(path)
    assert loaded.algorithm == key.algorithm
    assert loaded.public_key_spki() == key.public_key_spki()


def test_key_file_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        load_signing_key(tmp_path / "none.pem")
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(KeyFileError, match=r"bad\.pem"):
        load_signing_key(tmp_path / "bad.pem")
    e = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyFileError):
        SigningKey.from_private_key(e, "ed25519")
