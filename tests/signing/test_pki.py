"""The development PKI: layout, idempotence, and what it issues."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from signing.detached import sign_detached, verify_detached
from signing.pki import PkiExistsError, init_pki, open_pki
from signing.trust import TrustStore


def test_init_creates_verifiable_pki_and_refuses_overwrite(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    pki = init_pki(directory, algorithms=("rsa", "ed25519"))
    trust = TrustStore.load(pki.trust_dir)
    for family in ("rsa", "ed25519"):
        env = sign_detached(b"batch", pki.signing_key(family), pki.chain(family))
        assert verify_detached(b"batch", env, trust).passed
    issuing = x509.load_pem_x509_certificate(pki.cert_path("rsa").read_bytes())
    assert issuing.public_key().key_size == 2048  # type: ignore[union-attr]
    root = x509.load_pem_x509_certificate((directory / "anchors" / "root-rsa.pem").read_bytes())
    assert root.public_key().key_size == 3072  # type: ignore[union-attr]
    eku = issuing.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36") in eku

    anchor = (directory / "anchors" / "root-rsa.pem").read_bytes()
    with pytest.raises(PkiExistsError):
        init_pki(directory, algorithms=("rsa",))
    assert (directory / "anchors" / "root-rsa.pem").read_bytes() == anchor
    assert open_pki(directory).families == ("rsa", "ed25519")

    replaced = init_pki(directory, algorithms=("ecdsa",), force=True)
    assert replaced.families == ("ecdsa",)
    assert not (directory / "anchors" / "root-rsa.pem").exists()
    assert not (directory / "private" / "issuing-rsa.key.pem").exists()


def test_refuses_a_non_empty_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(PkiExistsError, match="not empty"):
        init_pki(tmp_path, algorithms=("ecdsa",))


def test_rejects_unknown_family(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dsa"):
        init_pki(tmp_path / "p", algorithms=("dsa",))


def test_crls_are_fresh_for_crl_days(tmp_path: Path) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    pki = init_pki(tmp_path / "p", algorithms=("ecdsa",), crl_days=3, now=now)
    crl = x509.load_pem_x509_crl((pki.trust_dir / "crls" / "intermediate-ecdsa.pem").read_bytes())
    assert crl.last_update_utc == now
    assert (crl.next_update_utc - now).days == 3  # type: ignore[operator]


def test_revoke_and_refresh_keep_crls_current(tmp_path: Path) -> None:
    from datetime import timedelta

    from signing.pki import refresh_crls, revoke_certificate
    from signing.report import SubIndication

    start = datetime(2026, 3, 1, tzinfo=UTC)
    directory = tmp_path / "p"
    pki = init_pki(
        directory,
        algorithms=("ecdsa", "sm2"),
        crl_days=2,
        now=start,
        valid_from=start - timedelta(days=1),
    )
    signed_at = start + timedelta(hours=1)
    envs = {
        f: sign_detached(b"x", pki.signing_key(f), pki.chain(f), signing_time=signed_at)
        for f in pki.families
    }
    later = start + timedelta(days=5)  # CRLs (2 days) are stale by now
    stale = TrustStore.load(directory)
    assert verify_detached(b"x", envs["ecdsa"], stale, now=later).subindication is (
        SubIndication.TRY_LATER
    )
    old_crl = x509.load_pem_x509_crl((directory / "crls" / "intermediate-ecdsa.pem").read_bytes())
    refresh_crls(directory, now=later)
    new_crl = x509.load_pem_x509_crl((directory / "crls" / "intermediate-ecdsa.pem").read_bytes())
    number = x509.CRLNumber
    assert (
        new_crl.extensions.get_extension_for_class(number).value.crl_number
        > old_crl.extensions.get_extension_for_class(number).value.crl_number
    )
    for family in pki.families:
        report = verify_detached(b"x", envs[family], TrustStore.load(directory), now=later)
        assert report.passed, report.to_dict()

    for family in pki.families:
        cert = x509.load_pem_x509_certificate(pki.cert_path(family).read_bytes())
        revoke_certificate(directory, cert, when=start, now=later)
        with pytest.raises(ValueError, match="already revoked"):
            revoke_certificate(directory, cert, now=later)
        report = verify_detached(b"x", envs[family], TrustStore.load(directory), now=later)
        assert report.subindication is SubIndication.REVOKED, family
    refresh_crls(directory, now=later + timedelta(days=1))  # revocations survive a refresh
    report = verify_detached(
        b"x", envs["sm2"], TrustStore.load(directory), now=later + timedelta(days=1)
    )
    assert report.subindication is SubIndication.REVOKED
