"""Signature algorithms by name, and the policy on which of them are still acceptable.

Names are ours and stable (they appear in envelopes and reports):
``rsa-pkcs1v15-<hash>``, ``rsa-pss-<hash>``, ``ecdsa-<hash>``, ``ed25519``, ``sm2-sm3``,
with <hash> one of sha256, sha384, sha512 — or sha1, which is recognised only so that it
can be refused with CRYPTO_CONSTRAINTS_FAILURE. ECDSA and SM2 signatures are DER encoded
(``SEQUENCE {r, s}``), as in X.509 and CMS. SM2 always uses SM3 and the signer ID
``1234567812345678`` (GB/T 35276), through ``signing.sm2``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from signing.der import DerError, spki_algorithm, spki_of_certificate
from signing.report import Check

OID_RSA = "1.2.840.113549.1.1.1"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_ED25519 = "1.3.101.112"
OID_SM2_CURVE = "1.2.156.10197.1.301"
OID_SM2_SM3 = "1.2.156.10197.1.501"

MIN_RSA_BITS = 2048
ALLOWED_EC_CURVES = ("secp256r1", "secp384r1", "secp521r1")

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
WEAK_HASHES = frozenset({"sha1", "md5"})

# X.509/CRL signatureAlgorithm OIDs -> our names.
_SIGNATURE_OIDS = {
    "1.2.840.113549.1.1.4": "rsa-pkcs1v15-md5",
    "1.2.840.113549.1.1.5": "rsa-pkcs1v15-sha1",
    "1.2.840.113549.1.1.11": "rsa-pkcs1v15-sha256",
    "1.2.840.113549.1.1.12": "rsa-pkcs1v15-sha384",
    "1.2.840.113549.1.1.13": "rsa-pkcs1v15-sha512",
    "1.2.840.10045.4.1": "ecdsa-sha1",
    "1.2.840.10045.4.3.2": "ecdsa-sha256",
    "1.2.840.10045.4.3.3": "ecdsa-sha384",
    "1.2.840.10045.4.3.4": "ecdsa-sha512",
    OID_ED25519: "ed25519",
    OID_SM2_SM3: "sm2-sm3",
}
_OID_RSA_PSS = "1.2.840.113549.1.1.10"


class UnsupportedAlgorithmError(ValueError):
    """An algorithm name this module does not implement."""


@dataclass(frozen=True)
class AlgorithmSpec:
    """A parsed algorithm name."""

    name: str
    family: str  # "rsa-pkcs1v15" | "rsa-pss" | "ecdsa" | "ed25519" | "sm2"
    digest: str  # "sha256" … , "sm3", or "none" for Ed25519 (pure EdDSA)


def parse_algorithm(name: str) -> AlgorithmSpec:
    """The family and digest of an algorithm name; unknown names raise."""
    if name == "ed25519":
        return AlgorithmSpec(name, "ed25519", "none")
    if name == "sm2-sm3":
        return AlgorithmSpec(name, "sm2", "sm3")
    for family in ("rsa-pkcs1v15", "rsa-pss", "ecdsa"):
        prefix = family + "-"
        if name.startswith(prefix) and name[len(prefix) :] in (*_HASHES, "md5"):
            return AlgorithmSpec(name, family, name[len(prefix) :])
    raise UnsupportedAlgorithmError(f"unknown signature algorithm {name!r}")


def hash_algorithm(digest: str) -> hashes.HashAlgorithm:
    """A cryptography hash object for one of our digest names (sm3 included)."""
    if digest == "sm3":
        return hashes.SM3()
    if digest not in _HASHES:
        raise UnsupportedAlgorithmError(f"unknown digest algorithm {digest!r}")
    return _HASHES[digest]()


def digest_bytes(digest: str, data: bytes) -> bytes:
    """Hash ``data`` with one of our digest names."""
    h = hashes.Hash(hash_algorithm(digest))
    h.update(data)
    return h.finalize()


def key_kind(public_key_spki_der: bytes) -> str:
    """ "rsa", "ec:<curve>", "ed25519", "sm2" or "unknown:<oid>" for a public key."""
    oid, param = spki_algorithm(public_key_spki_der)
    if oid == OID_RSA:
        return "rsa"
    if oid == OID_ED25519:
        return "ed25519"
    if oid == OID_SM2_CURVE or (oid == OID_EC_PUBLIC_KEY and param == OID_SM2_CURVE):
        return "sm2"
    if oid == OID_EC_PUBLIC_KEY:
        try:
            key = serialization.load_der_public_key(public_key_spki_der)
        except (ValueError, UnsupportedAlgorithm):
            return f"unknown:{oid}:{param}"
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return f"unknown:{oid}:{param}"
        return f"ec:{key.curve.name}"
    return f"unknown:{oid}"


def verify_signature(
    public_key_spki_der: bytes, signature: bytes, data: bytes, algorithm: str
) -> bool:
    """True when ``signature`` over ``data`` verifies with the key under ``algorithm``.

    A malformed key or a key of another type than the algorithm needs is a failed
    verification, not an exception: both mean the signature does not hold. Unknown
    algorithm names raise ``UnsupportedAlgorithmError`` so they cannot pass silently.
    """
    spec = parse_algorithm(algorithm)
    if spec.family == "sm2":
        from signing import sm2  # deferred: the SM2 backend loads a C library

        try:
            if key_kind(public_key_spki_der) != "sm2":
                return False
        except (DerError, ValueError, UnsupportedAlgorithm):
            return False
        return bool(sm2.sm2_verify(public_key_spki_der, data, signature))
    if spec.digest == "md5":
        raise UnsupportedAlgorithmError("MD5 signatures are not verified at all")
    try:
        key = serialization.load_der_public_key(public_key_spki_der)
    except (ValueError, UnsupportedAlgorithm):
        return False
    try:
        if spec.family == "ed25519":
            if not isinstance(key, ed25519.Ed25519PublicKey):
                return False
            key.verify(signature, data)
        elif spec.family == "ecdsa":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return False
            key.verify(signature, data, ec.ECDSA(hash_algorithm(spec.digest)))
        else:
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            h = hash_algorithm(spec.digest)
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if spec.family == "rsa-pkcs1v15"
                else padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.AUTO)
            )
            key.verify(signature, data, pad, h)
    except (InvalidSignature, ValueError):
        return False
    return True


def check_crypto_constraints(algorithm: str, public_key_spki_der: bytes) -> Check:
    """Whether the algorithm and key size are still acceptable for new validations.

    Refused: unknown algorithms, SHA-1 and MD5, RSA under 2048 bits, EC curves other
    than P-256/P-384/P-521, and a key whose type does not fit the algorithm.
    """
    name = "crypto_constraints"
    try:
        spec = parse_algorithm(algorithm)
    except UnsupportedAlgorithmError as exc:
        return Check(name, False, str(exc))
    if spec.digest in WEAK_HASHES:
        return Check(name, False, f"{algorithm}: {spec.digest.upper()} is no longer accepted")
    try:
        kind = key_kind(public_key_spki_der)
    except (DerError, ValueError, UnsupportedAlgorithm) as exc:
        return Check(name, False, f"unreadable public key: {exc}")
    expected = {"rsa-pkcs1v15": "rsa", "rsa-pss": "rsa", "ed25519": "ed25519", "sm2": "sm2"}
    if spec.family == "ecdsa":
        curve = kind.partition(":")[2]
        if not kind.startswith("ec:"):
            return Check(name, False, f"{algorithm} needs an EC key, got {kind}")
        if curve not in ALLOWED_EC_CURVES:
            return Check(name, False, f"EC curve {curve} is not accepted")
        return Check(name, True, f"{algorithm} with {curve}")
    if kind != expected[spec.family]:
        return Check(name, False, f"{algorithm} needs a {expected[spec.family]} key, got {kind}")
    if kind == "rsa":
        key = serialization.load_der_public_key(public_key_spki_der)
        assert isinstance(key, rsa.RSAPublicKey)
        if key.key_size < MIN_RSA_BITS:
            return Check(
                name, False, f"RSA-{key.key_size} is below the minimum of {MIN_RSA_BITS} bits"
            )
        return Check(name, True, f"{algorithm} with RSA-{key.key_size}")
    return Check(name, True, algorithm)


def certificate_signature_algorithm(cert: x509.Certificate | x509.CertificateRevocationList) -> str:
    """Our name for the algorithm a certificate or CRL was signed with.

    Unknown OIDs come back as ``unknown:<oid>`` so that the constraints check refuses them.
    """
    oid = cert.signature_algorithm_oid.dotted_string
    if oid == _OID_RSA_PSS:
        params = cert.signature_algorithm_parameters
        h = cert.signature_hash_algorithm
        if not isinstance(params, padding.PSS) or h is None or h.name not in _HASHES:
            return f"unknown:{oid}"
        return f"rsa-pss-{h.name}"
    return _SIGNATURE_OIDS.get(oid, f"unknown:{oid}")


def certificate_spki(cert: x509.Certificate) -> bytes:
    """The certificate's public key as SubjectPublicKeyInfo DER (works for SM2 too)."""
    return spki_of_certificate(cert.public_bytes(serialization.Encoding.DER))
