"""Signing keys: a private key together with the one algorithm it signs with.

Binding the algorithm to the key (rather than choosing it per call) keeps one key from
being used under two schemes, and lets the envelope and the report name it exactly.
SM2 keys are tongsuopy objects (pyca/cryptography cannot load the SM2 curve); signing
with them goes through ``signing.sm2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from signing.algorithms import (
    ALLOWED_EC_CURVES,
    WEAK_HASHES,
    hash_algorithm,
    parse_algorithm,
)

MAX_KEY_FILE_BYTES = 64 * 1024


class KeyFileError(ValueError):
    """A key file that cannot be used for signing (unreadable, wrong type, weak)."""


def default_algorithm(private_key: Any) -> str:
    """The algorithm a key signs with unless told otherwise."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "rsa-pkcs1v15-sha256"
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return {"secp384r1": "ecdsa-sha384", "secp521r1": "ecdsa-sha512"}.get(
            private_key.curve.name, "ecdsa-sha256"
        )
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if _is_sm2_key(private_key):
        return "sm2-sm3"
    raise KeyFileError(f"unsupported private key type {type(private_key).__name__}")


def _is_sm2_key(private_key: Any) -> bool:
    curve = getattr(private_key, "curve", None)
    return type(private_key).__module__.startswith("tongsuopy") and (
        getattr(curve, "name", "").upper() == "SM2"
    )


@dataclass(frozen=True)
class SigningKey:
    """A private key and the algorithm it signs with."""

    private_key: Any
    algorithm: str

    @classmethod
    def from_private_key(cls, private_key: Any, algorithm: str | None = None) -> SigningKey:
        """Wrap a key, checking that the algorithm fits the key type."""
        algorithm = algorithm or default_algorithm(private_key)
        spec = parse_algorithm(algorithm)
        fits = {
            "rsa-pkcs1v15": isinstance(private_key, rsa.RSAPrivateKey),
            "rsa-pss": isinstance(private_key, rsa.RSAPrivateKey),
            "ecdsa": isinstance(private_key, ec.EllipticCurvePrivateKey),
            "ed25519": isinstance(private_key, ed25519.Ed25519PrivateKey),
            "sm2": _is_sm2_key(private_key),
        }[spec.family]
        if not fits:
            raise KeyFileError(f"{type(private_key).__name__} cannot sign with {algorithm}")
        return cls(private_key, algorithm)

    @property
    def is_weak(self) -> bool:
        """True when verifiers will refuse this key's signatures (SHA-1, RSA < 2048…)."""
        spec = parse_algorithm(self.algorithm)
        if spec.digest in WEAK_HASHES:
            return True
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return self.private_key.key_size < 2048
        if isinstance(self.private_key, ec.EllipticCurvePrivateKey):
            return self.private_key.curve.name not in ALLOWED_EC_CURVES
        return False

    def public_key_spki(self) -> bytes:
        """The public half as SubjectPublicKeyInfo DER."""
        if _is_sm2_key(self.private_key):
            from tongsuopy.crypto import serialization as ts

            return bytes(
                self.private_key.public_key().public_bytes(
                    ts.Encoding.DER, ts.PublicFormat.SubjectPublicKeyInfo
                )
            )
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` (ECDSA and SM2 signatures DER encoded)."""
        spec = parse_algorithm(self.algorithm)
        key = self.private_key
        if spec.family == "sm2":
            from signing import sm2

            return bytes(sm2.sm2_sign(key, data))
        if spec.family == "ed25519":
            return key.sign(data)
        h = hash_algorithm(spec.digest)
        if spec.family == "ecdsa":
            return key.sign(data, ec.ECDSA(h))
        if spec.family == "rsa-pss":
            return key.sign(
                data, padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.DIGEST_LENGTH), h
            )
        return key.sign(data, padding.PKCS1v15(), h)


def load_private_key_pem(pem: bytes, password: bytes | None = None) -> Any:
    """A PEM private key: cryptography first, tongsuopy for SM2 keys."""
    try:
        return serialization.load_pem_private_key(pem, password)
    except UnsupportedAlgorithm:
        from tongsuopy.crypto import serialization as ts

        return ts.load_pem_private_key(pem, password)


def load_signing_key(
    path: Path, *, algorithm: str | None = None, password: bytes | None = None
) -> SigningKey:
    """A signing key from a PEM file (PKCS#8 or traditional); the algorithm defaults by type."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_KEY_FILE_BYTES:
            raise KeyFileError(f"{path}: {size} bytes is too large for a key file")
        pem = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key file: {exc.strerror}") from exc
    try:
        key = load_private_key_pem(pem, password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{path}: not a usable PEM private key ({exc})") from exc
    return SigningKey.from_private_key(key, algorithm)


def private_key_pem(private_key: Any) -> bytes:
    """Unencrypted PKCS#8 PEM (the development PKI writes these with mode 0600)."""
    if _is_sm2_key(private_key):
        from tongsuopy.crypto import serialization as ts

        return bytes(
            private_key.private_bytes(ts.Encoding.PEM, ts.PrivateFormat.PKCS8, ts.NoEncryption())
        )
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
