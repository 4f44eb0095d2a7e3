"""Mutated envelopes and certificates: never an exception, never a false PASSED."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signing_pki import GeneratedPki

from signing.der import DerError, spki_of_certificate
from signing.detached import sign_detached, verify_detached

DATA = "材料清单".encode()


@pytest.fixture(scope="module")
def envelope(test_pki: GeneratedPki) -> bytes:
    key, chain = test_pki.signer("ecdsa")
    return sign_detached(DATA, key, chain, signing_time=test_pki.now - timedelta(hours=1))


def _bound_parts(raw: bytes) -> tuple | None:
    """What the signature binds: signed attributes, signer certificate, signature value."""
    try:
        doc = json.loads(raw)
        return (
            json.dumps(doc["signed_attributes"], sort_keys=True),
            doc["certificates"][0],
            doc["signature"],
        )
    except (ValueError, KeyError, TypeError, IndexError):
        return None


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_mutated_envelope_never_raises_or_falsely_passes(
    test_pki: GeneratedPki, envelope: bytes, data: st.DataObject
) -> None:
    raw = bytearray(envelope)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    report = verify_detached(DATA, bytes(raw), test_pki.trust, now=test_pki.now)
    if report.passed:
        assert _bound_parts(bytes(raw)) == _bound_parts(envelope)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_der_reader_only_raises_der_errors(blob: bytes) -> None:
    with contextlib.suppress(DerError):
        spki_of_certificate(blob)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_mutated_signer_certificate_never_validates(
    test_pki: GeneratedPki, data: st.DataObject
) -> None:
    family = data.draw(st.sampled_from(["ecdsa", "sm2", "ed25519"]))
    _key, chain = test_pki.signer(family)
    cert = bytearray(chain[0])
    pos = data.draw(st.integers(0, len(cert) - 1))
    cert[pos] ^= data.draw(st.integers(1, 255))
    result = test_pki.trust.validate(
        bytes(cert), chain[1:], at=test_pki.now - timedelta(hours=1), now=test_pki.now
    )
    assert not result.ok


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_mutated_crl_never_clears_a_certificate(
    test_pki: GeneratedPki, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """A CRL altered anywhere is refused at load or unusable (TRY_LATER), never trusted."""
    import shutil

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from signing.trust import TrustStore, TrustStoreError

    family = data.draw(st.sampled_from(["ecdsa", "sm2"]))
    directory = tmp_path_factory.mktemp("crlfuzz")
    shutil.copytree(test_pki.trust_dir, directory, dirs_exist_ok=True)
    path = directory / "crls" / f"intermediate-{family}.pem"
    der = bytearray(
        x509.load_pem_x509_crl(path.read_bytes()).public_bytes(serialization.Encoding.DER)
    )
    pos = data.draw(st.integers(0, len(der) - 1))
    der[pos] ^= data.draw(st.integers(1, 255))
    path.unlink()
    (directory / "crls" / f"intermediate-{family}.crl").write_bytes(bytes(der))
    try:
        trust = TrustStore.load(directory)
    except TrustStoreError:
        return
    _key, chain = test_pki.signer(family)
    result = trust.validate(
        chain[0], chain[1:], at=test_pki.now - timedelta(hours=1), now=test_pki.now
    )
    assert not result.ok


def test_signature_bit_string_with_unused_bits_is_refused(test_pki: GeneratedPki) -> None:
    """Changing the unused-bits octet leaves the signature bytes intact; refuse it anyway."""
    from signing.der import children, read_tlv

    _key, chain = test_pki.signer("ecdsa")
    cert = bytearray(chain[0])
    bit_string = children(chain[0], read_tlv(chain[0]))[2]
    cert[bit_string.value_start] = 1
    result = test_pki.trust.validate(
        bytes(cert), chain[1:], at=test_pki.now - timedelta(hours=1), now=test_pki.now
    )
    assert not result.ok
