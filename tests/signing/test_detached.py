"""Detached JSON-envelope signatures: every sub-indication and the attacks that apply."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from signing_pki import GeneratedPki, Revocation

from signing.algorithms import digest_bytes
from signing.detached import (
    SigningError,
    canonical_json,
    format_time,
    sign_detached,
    verify_detached,
)
from signing.keys import SigningKey
from signing.pki import FAMILIES, CertificateAuthority
from signing.report import Indication, SubIndication
from signing.trust import TrustStore

DATA = "证照文件 license payload".encode()


def _sign(test_pki: GeneratedPki, key: SigningKey, chain: list[bytes], **kw: object) -> bytes:
    kw.setdefault("signing_time", test_pki.now - timedelta(days=1))
    return sign_detached(DATA, key, chain, **kw)  # type: ignore[arg-type]


def _verify(test_pki: GeneratedPki, envelope: bytes, trust=None, data: bytes = DATA):
    return verify_detached(data, envelope, trust or test_pki.trust, now=test_pki.now)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_passes_with_full_report(test_pki: GeneratedPki, family: str) -> None:
    key, chain = test_pki.signer(family)
    report = _verify(test_pki, _sign(test_pki, key, chain))
    assert report.indication is Indication.PASSED, report.to_dict()
    assert report.subindication is None and report.passed
    assert report.algorithm == key.algorithm
    assert report.signing_time == test_pki.now.replace(microsecond=0) - timedelta(days=1)
    assert "Document Signing" in (report.signer or "")
    names = [c.name for c in report.checks]
    assert "signature_value" in names and "data_digest" in names and "chain_building" in names
    assert sum(n.startswith("revocation") for n in names) == 2  # issuing and intermediate
    assert all(c.passed for c in report.checks)
    doc = report.to_dict()
    json.dumps(doc)
    assert doc["indication"] == "PASSED" and doc["format"] == "detached"


@pytest.mark.parametrize("family", FAMILIES)
def test_content_altered_is_hash_failure(test_pki: GeneratedPki, family: str) -> None:
    key, chain = test_pki.signer(family)
    env = _sign(test_pki, key, chain)
    report = _verify(test_pki, env, data=DATA.replace("证照".encode(), "证明".encode()))
    assert (report.indication, report.subindication) == (
        Indication.FAILED,
        SubIndication.HASH_FAILURE,
    )
    assert _verify(test_pki, env, data=DATA + b"\n").subindication is SubIndication.HASH_FAILURE


def _edit(envelope: bytes, edit) -> bytes:
    doc = json.loads(envelope)
    edit(doc)
    return json.dumps(doc).encode()


def test_signature_value_altered_is_sig_crypto_failure(test_pki: GeneratedPki) -> None:
    key, chain = test_pki.signer("rsa")
    env = _sign(test_pki, key, chain)

    def flip(doc: dict) -> None:
        sig = bytearray(base64.b64decode(doc["signature"]))
        sig[10] ^= 1
        doc["signature"] = base64.b64encode(bytes(sig)).decode()

    report = _verify(test_pki, _edit(env, flip))
    assert (report.indication, report.subindication) == (
        Indication.FAILED,
        SubIndication.SIG_CRYPTO_FAILURE,
    )


def test_signing_time_comes_from_signed_attributes(test_pki: GeneratedPki) -> None:
    """Moving the signing time (to escape an expiry or a revocation) breaks the signature."""
    key, chain = test_pki.signer("ecdsa")
    env = _sign(test_pki, key, chain)

    def backdate(doc: dict) -> None:
        doc["signed_attributes"]["signing_time"] = "2026-01-01T00:00:00Z"

    assert _verify(test_pki, _edit(env, backdate)).subindication is (
        SubIndication.SIG_CRYPTO_FAILURE
    )


def test_digest_swapped_with_data_is_sig_crypto_failure(test_pki: GeneratedPki) -> None:
    """An attacker who recomputes the digest for new content cannot re-sign it."""
    key, chain = test_pki.signer("ed25519")
    env = _sign(test_pki, key, chain)
    other = b"forged content"

    def swap(doc: dict) -> None:
        import hashlib

        doc["signed_attributes"]["digest"] = base64.b64encode(
            hashlib.sha256(other).digest()
        ).decode()
        doc["signed_attributes"]["size"] = len(other)

    report = _verify(test_pki, _edit(env, swap), data=other)
    assert report.subindication is SubIndication.SIG_CRYPTO_FAILURE


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"not json",
        b"[]",
        b'{"version": 1}',
        b'{"version":1,"version":1,"signed_attributes":{},"certificates":[],"signature":""}',
        b"\xff\xfe",
        b"[" * 100_000,
    ],
)
def test_unparseable_envelope_is_format_failure(test_pki: GeneratedPki, garbage: bytes) -> None:
    report = _verify(test_pki, garbage)
    assert (report.indication, report.subindication) == (
        Indication.FAILED,
        SubIndication.FORMAT_FAILURE,
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["signed_attributes"].update(algorithm="rsa-md2"),
        lambda d: d["signed_attributes"].update(size=True),
        lambda d: d["signed_attributes"].update(signing_time="2026-02-30T00:00:00Z"),
        lambda d: d["signed_attributes"].update(signing_time="2026-01-01 00:00:00"),
        lambda d: d["signed_attributes"].update(extra="unsigned?"),
        lambda d: d.update(certificates=[]),
        lambda d: d.update(certificates=["%%%"]),
        lambda d: d.update(version=2),
        lambda d: d.update(comment="x"),
    ],
)
def test_malformed_fields_are_format_failure(test_pki: GeneratedPki, edit) -> None:
    key, chain = test_pki.signer("ecdsa")
    report = _verify(test_pki, _edit(_sign(test_pki, key, chain), edit))
    assert report.subindication is SubIndication.FORMAT_FAILURE


def test_signer_certificate_substitution_is_refused(test_pki: GeneratedPki) -> None:
    """Another certificate for the same key must not take the signer's place."""
    key, chain = test_pki.signer("ecdsa")
    env = _sign(test_pki, key, chain)
    other = test_pki.hierarchies["ecdsa"].intermediate.issue(
        "Impostor",
        key=key.private_key,
        not_before=test_pki.now - timedelta(days=10),
        not_after=test_pki.now + timedelta(days=10),
    )

    def swap(doc: dict) -> None:
        doc["certificates"][0] = base64.b64encode(other.der).decode()

    assert _verify(test_pki, _edit(env, swap)).subindication is SubIndication.FORMAT_FAILURE


def test_untrusted_root_is_never_passed(test_pki: GeneratedPki) -> None:
    h = test_pki.untrusted
    report = _verify(test_pki, _sign(test_pki, h.issuing.signing_key, h.chain))
    assert (report.indication, report.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )


def test_untrusted_root_carried_in_the_envelope_is_not_trusted(test_pki: GeneratedPki) -> None:
    h = test_pki.untrusted
    chain = [*h.chain, h.root.der]
    report = _verify(test_pki, _sign(test_pki, h.issuing.signing_key, chain))
    assert report.subindication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_forged_certificate_with_trusted_issuer_name_is_refused(test_pki: GeneratedPki) -> None:
    """Same issuer DN and key identifier as the real intermediate, signed by another key."""
    h, rogue = test_pki.hierarchies["ecdsa"], test_pki.untrusted
    fake_ca = type(rogue.intermediate)(
        h.intermediate.cert, rogue.intermediate.key, rogue.intermediate.algorithm
    )
    leaf = fake_ca.issue(
        "Forged signer",
        not_before=test_pki.now - timedelta(days=1),
        not_after=test_pki.now + timedelta(days=30),
    )
    report = _verify(test_pki, _sign(test_pki, leaf.signing_key, [leaf.der, h.intermediate.der]))
    assert report.subindication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert "does not verify" in report.checks[-1].detail


@pytest.mark.parametrize("family", ["ecdsa", "sm2"])
def test_expired_at_signing_time(test_pki: GeneratedPki, family: str) -> None:
    key, chain, _ = test_pki.issue(
        family,
        not_before=test_pki.now - timedelta(days=60),
        not_after=test_pki.now - timedelta(days=30),
    )
    report = _verify(test_pki, _sign(test_pki, key, chain))
    assert (report.indication, report.subindication) == (Indication.FAILED, SubIndication.EXPIRED)


@pytest.mark.parametrize("family", ["rsa", "ed25519"])
def test_not_yet_valid_at_signing_time(test_pki: GeneratedPki, family: str) -> None:
    key, chain, _ = test_pki.issue(
        family,
        not_before=test_pki.now + timedelta(days=1),
        not_after=test_pki.now + timedelta(days=30),
    )
    report = _verify(test_pki, _sign(test_pki, key, chain))
    assert (report.indication, report.subindication) == (
        Indication.FAILED,
        SubIndication.NOT_YET_VALID,
    )


def test_expired_now_but_valid_when_signed_passes(test_pki: GeneratedPki) -> None:
    key, chain, _ = test_pki.issue(
        not_before=test_pki.now - timedelta(days=60),
        not_after=test_pki.now - timedelta(days=10),
    )
    env = _sign(test_pki, key, chain, signing_time=test_pki.now - timedelta(days=20))
    assert _verify(test_pki, env).passed


def test_expired_now_and_crl_may_have_dropped_it(test_pki: GeneratedPki, tmp_path: Path) -> None:
    """A CRL issued after expiry without ExpiredCertsOnCRL cannot vouch for the certificate."""
    key, chain, _ = test_pki.issue(
        not_before=test_pki.now - timedelta(days=60),
        not_after=test_pki.now - timedelta(days=10),
    )
    env = _sign(test_pki, key, chain, signing_time=test_pki.now - timedelta(days=20))
    trust = test_pki.write_trust(tmp_path, expired_certs_on_crl=False)
    report = _verify(test_pki, env, trust)
    assert (report.indication, report.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE,
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_revoked_before_signing(test_pki: GeneratedPki, family: str, tmp_path: Path) -> None:
    key, chain, leaf = test_pki.issue(family)
    trust = test_pki.write_trust(
        tmp_path,
        revocations=[
            Revocation(
                family, leaf.cert, test_pki.now - timedelta(days=5), x509.ReasonFlags.key_compromise
            )
        ],
    )
    report = _verify(test_pki, _sign(test_pki, key, chain), trust)
    assert (report.indication, report.subindication) == (Indication.FAILED, SubIndication.REVOKED)
    # the same signature against the unrevoked trust directory passes
    assert _verify(test_pki, _sign(test_pki, key, chain)).passed


def test_revoked_for_key_compromise_after_signing_is_indeterminate(
    test_pki: GeneratedPki, tmp_path: Path
) -> None:
    key, chain, leaf = test_pki.issue()
    when = test_pki.now - timedelta(hours=2)
    trust = test_pki.write_trust(
        tmp_path,
        revocations=[Revocation("ecdsa", leaf.cert, when, x509.ReasonFlags.key_compromise)],
    )
    report = _verify(test_pki, _sign(test_pki, key, chain), trust)
    assert (report.indication, report.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.REVOKED_NO_POE,
    )


def test_superseded_after_signing_still_passes(test_pki: GeneratedPki, tmp_path: Path) -> None:
    key, chain, leaf = test_pki.issue()
    trust = test_pki.write_trust(
        tmp_path,
        revocations=[
            Revocation(
                "ecdsa", leaf.cert, test_pki.now - timedelta(hours=2), x509.ReasonFlags.superseded
            )
        ],
    )
    assert _verify(test_pki, _sign(test_pki, key, chain), trust).passed


def test_revoked_intermediate_fails_every_signature_below_it(
    test_pki: GeneratedPki, tmp_path: Path
) -> None:
    h = test_pki.hierarchies["rsa"]
    trust = test_pki.write_trust(
        tmp_path,
        revocations=[Revocation("rsa", h.intermediate.cert, test_pki.now - timedelta(days=3))],
    )
    report = _verify(test_pki, _sign(test_pki, h.issuing.signing_key, h.chain), trust)
    assert report.subindication is SubIndication.REVOKED


def test_stale_crl_is_try_later(test_pki: GeneratedPki, tmp_path: Path) -> None:
    trust = test_pki.write_trust(
        tmp_path,
        crl_this_update=test_pki.now - timedelta(days=10),
        crl_next_update=test_pki.now - timedelta(days=3),
    )
    key, chain = test_pki.signer("ecdsa")
    report = _verify(test_pki, _sign(test_pki, key, chain), trust)
    assert (report.indication, report.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.TRY_LATER,
    )
    assert any("stale" in c.detail for c in report.checks)


def test_revocation_on_a_stale_crl_still_counts(test_pki: GeneratedPki, tmp_path: Path) -> None:
    key, chain, leaf = test_pki.issue("sm2")
    trust = test_pki.write_trust(
        tmp_path,
        crl_this_update=test_pki.now - timedelta(days=10),
        crl_next_update=test_pki.now - timedelta(days=3),
        revocations=[Revocation("sm2", leaf.cert, test_pki.now - timedelta(days=20))],
    )
    assert _verify(test_pki, _sign(test_pki, key, chain), trust).subindication is (
        SubIndication.REVOKED
    )


def test_missing_crl_is_try_later(test_pki: GeneratedPki, tmp_path: Path) -> None:
    trust = test_pki.write_trust(tmp_path, omit_crls_of=("ed25519",))
    key, chain = test_pki.signer("ed25519")
    report = _verify(test_pki, _sign(test_pki, key, chain), trust)
    assert report.subindication is SubIndication.TRY_LATER
    assert any(c.passed is None and "no usable CRL" in c.detail for c in report.checks)


def test_crl_signed_by_another_key_is_not_used(test_pki: GeneratedPki, tmp_path: Path) -> None:
    """A forged CRL (right issuer name, wrong key) must not clear anything."""
    trust = test_pki.write_trust(tmp_path, omit_crls_of=("ecdsa",))
    h, rogue = test_pki.hierarchies["ecdsa"], test_pki.untrusted
    fake = type(rogue.intermediate)(
        h.intermediate.cert, rogue.intermediate.key, rogue.intermediate.algorithm
    )
    crl = fake.crl(this_update=test_pki.now, next_update=test_pki.now + timedelta(days=7))
    (tmp_path / "crls" / "forged.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    trust = TrustStore.load(tmp_path)
    key, chain = test_pki.signer("ecdsa")
    report = _verify(test_pki, _sign(test_pki, key, chain), trust)
    assert report.subindication is SubIndication.TRY_LATER
    assert any("does not verify" in c.detail for c in report.checks)


def test_sha1_signature_is_crypto_constraints_failure(test_pki: GeneratedPki) -> None:
    key, chain = test_pki.signer("rsa")
    weak = SigningKey.from_private_key(key.private_key, "rsa-pkcs1v15-sha1")
    with pytest.raises(SigningError):
        _sign(test_pki, weak, chain)
    report = _verify(test_pki, _sign(test_pki, weak, chain, allow_weak=True))
    assert (report.indication, report.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
    )
    assert any("SHA1" in c.detail for c in report.checks if c.passed is False)


@pytest.mark.parametrize("family", ["rsa", "ecdsa"])
def test_sha1_signed_certificate_is_crypto_constraints_failure(
    test_pki: GeneratedPki, family: str
) -> None:
    algorithm = "rsa-pkcs1v15-sha1" if family == "rsa" else "ecdsa-sha1"
    key, chain, leaf = test_pki.issue(family, signature_algorithm=algorithm)
    assert leaf.cert.signature_hash_algorithm.name == "sha1"  # type: ignore[union-attr]
    report = _verify(test_pki, _sign(test_pki, key, chain))
    assert report.subindication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE


def test_rsa_1024_signer_is_crypto_constraints_failure(test_pki: GeneratedPki) -> None:
    key, chain, _ = test_pki.issue("rsa", key_kind="rsa1024")
    with pytest.raises(SigningError):
        _sign(test_pki, key, chain)
    report = _verify(test_pki, _sign(test_pki, key, chain, allow_weak=True))
    assert report.subindication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE
    assert any("RSA-1024" in c.detail for c in report.checks)


def test_rsa_pss_signer_passes(test_pki: GeneratedPki) -> None:
    key, chain, _ = test_pki.issue("rsa", signer_algorithm="rsa-pss-sha256")
    assert _verify(test_pki, _sign(test_pki, key, chain)).passed


def test_signer_without_document_key_usage(test_pki: GeneratedPki) -> None:
    usage = x509.KeyUsage(False, False, True, False, False, False, False, False, False)
    key, chain, _ = test_pki.issue("ecdsa", key_usage=usage)
    report = _verify(test_pki, _sign(test_pki, key, chain))
    assert (report.indication, report.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    )


def test_tls_server_certificate_cannot_sign_documents(test_pki: GeneratedPki) -> None:
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key, chain, _ = test_pki.issue("rsa", extended_key_usage=[ExtendedKeyUsageOID.SERVER_AUTH])
    report = _verify(test_pki, _sign(test_pki, key, chain))
    assert report.subindication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert any("extendedKeyUsage" in c.detail for c in report.checks)


def test_end_entity_cannot_act_as_ca(test_pki: GeneratedPki) -> None:
    h = test_pki.hierarchies["ecdsa"]
    key, _chain, _ = test_pki.issue("ecdsa", issuer=h.issuing)
    chain = [_chain[0], h.issuing.der, h.intermediate.der]
    report = _verify(test_pki, _sign(test_pki, key, chain))
    assert report.subindication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert any("not a CA" in c.detail for c in report.checks)


def test_path_length_constraint(test_pki: GeneratedPki) -> None:
    """The intermediate has pathLen 0: a sub-CA below it may not issue signers."""
    h = test_pki.hierarchies["ed25519"]
    sub = h.intermediate.issue(
        "Sub CA",
        not_before=test_pki.now - timedelta(days=30),
        not_after=test_pki.now + timedelta(days=365),
        ca=True,
    )
    key, chain, _ = test_pki.issue("ed25519", issuer=sub)
    report = _verify(test_pki, _sign(test_pki, key, chain))
    assert report.subindication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    assert any("pathLenConstraint" in c.detail for c in report.checks)


def test_signing_time_in_the_future(test_pki: GeneratedPki) -> None:
    key, chain = test_pki.signer("ecdsa")
    env = _sign(test_pki, key, chain, signing_time=test_pki.now + timedelta(days=2))
    report = _verify(test_pki, env)
    assert (report.indication, report.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
    )


def test_authority_specific_anchor(test_pki: GeneratedPki, tmp_path: Path) -> None:
    trust = test_pki.write_trust(tmp_path, families=("ecdsa",), authority="11440300MB2C12345X")
    key, chain = test_pki.signer("ecdsa")
    env = _sign(test_pki, key, chain)
    signer = chain[0]
    at = test_pki.now - timedelta(days=1)
    good = trust.validate(
        signer, chain[1:], at=at, authority="11440300MB2C12345X", now=test_pki.now
    )
    assert good.ok and good.anchor_authority == "11440300MB2C12345X"
    other = trust.validate(
        signer, chain[1:], at=at, authority="11440100MB2C99999Y", now=test_pki.now
    )
    assert other.subindication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert _verify(test_pki, env, trust).passed  # no authority named: any anchor


def test_refuses_chain_whose_first_certificate_is_not_the_key(test_pki: GeneratedPki) -> None:
    key, _ = test_pki.signer("ecdsa")
    _, other_chain = test_pki.signer("rsa")
    with pytest.raises(SigningError):
        sign_detached(DATA, key, other_chain)


def test_canonical_json_is_stable() -> None:
    assert canonical_json({"b": 1, "a": "证"}) == '{"a":"证","b":1}'.encode()


def test_inner_and_outer_signature_algorithms_must_agree(test_pki: GeneratedPki) -> None:
    """RFC 5280 §4.1.1.2: a certificate whose TBS names another algorithm is refused."""
    from signing.der import (
        algorithm_identifier,
        assemble_certificate,
        replace_tbs_signature_algorithm,
    )

    h = test_pki.hierarchies["rsa"]
    key, _chain, leaf = test_pki.issue("rsa")
    tbs = replace_tbs_signature_algorithm(
        leaf.cert.tbs_certificate_bytes,
        algorithm_identifier("1.2.840.113549.1.1.5", null_params=True),  # sha1WithRSA inside
    )
    outer = algorithm_identifier("1.2.840.113549.1.1.11", null_params=True)  # sha256 outside
    forged = assemble_certificate(tbs, outer, h.intermediate.signing_key.sign(tbs))
    report = _verify(test_pki, _sign(test_pki, key, [forged, h.intermediate.der]))
    assert report.subindication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_non_canonical_base64_is_format_failure(test_pki: GeneratedPki) -> None:
    """Padding bits give a second spelling of the same signature; an envelope has one form."""
    key, chain = test_pki.signer("ed25519")  # 64-byte signatures: always "==" padding
    env = _sign(test_pki, key, chain)
    doc = json.loads(env)
    sig = doc["signature"]
    stripped = sig.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(stripped[-1])
    doc["signature"] = stripped[:-1] + alphabet[last ^ 1] + sig[len(stripped) :]
    assert base64.b64decode(doc["signature"]) == base64.b64decode(sig)
    report = _verify(test_pki, json.dumps(doc).encode())
    assert report.subindication is SubIndication.FORMAT_FAILURE


def test_authority_named_only_its_own_and_general_anchors_count(
    test_pki: GeneratedPki, tmp_path: Path
) -> None:
    """An anchor scoped to one authority never vouches for a signature another authority's
    document carries (the SM2 license bug: the licence pipeline passed no authority)."""
    trust = test_pki.write_trust(tmp_path, families=("sm2",), authority="11440300MB2C12345X")
    key, chain = test_pki.signer("sm2")
    env = _sign(test_pki, key, chain)
    own = verify_detached(DATA, env, trust, now=test_pki.now, authority="11440300MB2C12345X")
    assert own.passed
    other = verify_detached(DATA, env, trust, now=test_pki.now, authority="11440100MB2C99999Y")
    assert (other.indication, other.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )
    general_only = verify_detached(DATA, env, trust, now=test_pki.now, authority="*")
    assert general_only.subindication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    # general anchors vouch for every authority
    assert verify_detached(DATA, env, test_pki.trust, now=test_pki.now, authority="X").passed


def _crl_of(
    ca: CertificateAuthority,
    number: int,
    revoked: list[tuple[int, datetime, x509.ReasonFlags | None]],
    this_update: datetime,
) -> x509.CertificateRevocationList:
    copy = dataclasses.replace(ca, revoked=revoked, crl_number=number - 1)
    return copy.crl(this_update=this_update, next_update=this_update + timedelta(days=7))


def test_a_hold_released_by_the_newest_crl_no_longer_blocks(
    test_pki: GeneratedPki, tmp_path: Path
) -> None:
    """certificateHold is reversible: only the issuer's newest CRL may hold a certificate.

    An older CRL left in crls/ that still lists the hold must not make every signature
    TRY_LATER once the newest CRL has dropped the entry; a permanent revocation on an
    older CRL still counts, and a hold on the newest one still holds.
    """
    key, chain, leaf = test_pki.issue("ecdsa")
    ca = test_pki.hierarchies["ecdsa"].intermediate
    now, serial = test_pki.now, leaf.cert.serial_number
    hold = (serial, now - timedelta(days=20), x509.ReasonFlags.certificate_hold)
    held = _crl_of(ca, 101, [hold], now - timedelta(days=10))
    released = _crl_of(ca, 102, [], now - timedelta(hours=1))
    env = _sign(test_pki, key, chain)

    def verdict(*crls: x509.CertificateRevocationList):
        directory = tmp_path / f"trust-{len(list(tmp_path.iterdir()))}"
        test_pki.write_trust(directory, families=["ecdsa"], omit_crls_of=["ecdsa"])
        for n, crl in enumerate(crls):
            (directory / "crls" / f"int-{n}.pem").write_bytes(
                crl.public_bytes(serialization.Encoding.PEM)
            )
        report = _verify(test_pki, env, TrustStore.load(directory))
        return report.indication, report.subindication

    assert verdict(held, released) == (Indication.PASSED, None)
    assert verdict(held) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    # held again on the newest CRL: still on hold, whatever older CRLs say
    held_again = _crl_of(ca, 103, [hold], now - timedelta(minutes=30))
    assert verdict(held, released, held_again) == (
        Indication.INDETERMINATE,
        SubIndication.TRY_LATER,
    )
    # same thisUpdate: the higher cRLNumber is the newer CRL
    same_time = now - timedelta(minutes=20)
    tie_held, tie_released = _crl_of(ca, 104, [hold], same_time), _crl_of(ca, 105, [], same_time)
    assert verdict(tie_held, tie_released) == (Indication.PASSED, None)
    assert verdict(tie_released, tie_held) == (Indication.PASSED, None)
    # a permanent revocation on an older CRL stays final even if a newer CRL omits it
    revoked = _crl_of(
        ca,
        106,
        [(serial, now - timedelta(days=5), x509.ReasonFlags.key_compromise)],
        now - timedelta(days=4),
    )
    assert verdict(revoked, released) == (Indication.FAILED, SubIndication.REVOKED)


def test_a_hold_on_the_newest_crl_does_not_undo_an_older_revocation(
    test_pki: GeneratedPki, tmp_path: Path
) -> None:
    """Revocation is final: the CRLs were read newest first and the first listing won, so
    a hold on the newest CRL turned an older keyCompromise revocation before the signing
    time into TRY_LATER (and one after it, which is REVOKED_NO_POE, as well). A hold only
    matters when no CRL lists a revocation that decides more."""
    key, chain, leaf = test_pki.issue("ecdsa")
    ca = test_pki.hierarchies["ecdsa"].intermediate
    now, serial = test_pki.now, leaf.cert.serial_number  # signed now - 1 day
    env = _sign(test_pki, key, chain)
    hold = (serial, now - timedelta(days=5), x509.ReasonFlags.certificate_hold)
    held_newest = _crl_of(ca, 302, [hold], now - timedelta(hours=1))

    def verdict(revoked_at: datetime, reason: x509.ReasonFlags):
        older = _crl_of(ca, 301, [(serial, revoked_at, reason)], now - timedelta(hours=2))
        directory = tmp_path / f"trust-{len(list(tmp_path.iterdir()))}"
        test_pki.write_trust(directory, families=["ecdsa"], omit_crls_of=["ecdsa"])
        for n, crl in enumerate((older, held_newest)):
            (directory / "crls" / f"int-{n}.pem").write_bytes(
                crl.public_bytes(serialization.Encoding.PEM)
            )
        report = _verify(test_pki, env, TrustStore.load(directory))
        return report.indication, report.subindication

    before, after = now - timedelta(days=5), now - timedelta(hours=12)
    assert verdict(before, x509.ReasonFlags.key_compromise) == (
        Indication.FAILED,
        SubIndication.REVOKED,
    )
    assert verdict(before, x509.ReasonFlags.superseded) == (
        Indication.FAILED,
        SubIndication.REVOKED,
    )
    assert verdict(after, x509.ReasonFlags.key_compromise) == (
        Indication.INDETERMINATE,
        SubIndication.REVOKED_NO_POE,
    )
    # revoked after signing for a reason that leaves the signature good: the hold decides
    assert verdict(after, x509.ReasonFlags.superseded) == (
        Indication.INDETERMINATE,
        SubIndication.TRY_LATER,
    )


@pytest.mark.parametrize(
    ("family", "digest"),
    [
        ("ecdsa", "sm3"),
        ("ecdsa", "sha512"),
        ("rsa", "sha384"),
        ("sm2", "sha256"),
        ("ed25519", "sha512"),
    ],
)
def test_digest_algorithm_not_following_the_signature_is_format_failure(
    test_pki: GeneratedPki, family: str, digest: str
) -> None:
    """A correctly signed envelope whose content digest is not the signature's own hash
    (ecdsa-sha256 over an SM3 digest) verified PASSED: the format allows one pairing."""
    key, chain = test_pki.signer(family)
    attrs = {
        "version": 1,
        "algorithm": key.algorithm,
        "digest_algorithm": digest,
        "digest": base64.b64encode(digest_bytes(digest, DATA)).decode(),
        "size": len(DATA),
        "signing_time": format_time(test_pki.now - timedelta(days=1)),
        "signer_certificate_sha256": hashlib.sha256(chain[0]).hexdigest(),
    }
    envelope = {
        "version": 1,
        "signed_attributes": attrs,
        "certificates": [base64.b64encode(c).decode() for c in chain],
        "signature": base64.b64encode(key.sign(canonical_json(attrs))).decode(),
    }
    report = _verify(test_pki, json.dumps(envelope).encode())
    assert (report.indication, report.subindication) == (
        Indication.FAILED,
        SubIndication.FORMAT_FAILURE,
    )
    detail = report.checks[0].detail
    assert repr(digest) in detail and repr(key.algorithm) in detail
