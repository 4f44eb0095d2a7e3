"""SM2 signatures with SM3 (GB/T 32918.2, GM/T 0009) and SM2 certificates and CRLs.

Signing and key generation use tongsuopy (Tongsuo in C, nonces from its CSPRNG).
Verification uses tongsuopy when it imports and otherwise gmssl (pure Python, see
``signing.sm2_fallback``); gmssl never signs here, its nonce comes from ``random``.

Keys travel as DER SubjectPublicKeyInfo (id-ecPublicKey + curve 1.2.156.10197.1.301),
signatures as DER ``SEQUENCE {r, s}``, and the signer ID defaults to
``1234567812345678`` as GM/T 0009 prescribes when the parties agreed on none. With the
default ID Tongsuo hashes Z itself (EVP_DigestSign); with any other ID the binding
exposes no way to pass it, so Z and e = SM3(Z || M) are computed here
(``signing.sm2_curve``) and Tongsuo signs or verifies e (EVP_PKEY_sign / _verify).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from signing import sm2_fallback
from signing.sm2_curve import (
    DEFAULT_UID,
    OID_SM2_CURVE,
    OID_SM2_WITH_SM3,
    SM2KeyError,
    decode_signature,
    decode_sm2_spki,
    message_digest,
)
from signing.sm2_x509 import (
    SM2_SM3_ALGORITHM,
    CertificateBuildError,
    SignedParts,
    Signer,
    algorithm_identifier,
    build_certificate,
    build_crl,
    certificate_signed_parts,
    crl_signed_parts,
    key_identifier,
)
from signing.sm3 import sm3

try:
    from tongsuopy.backends.tongsuo.backend import backend as _ts_backend
    from tongsuopy.crypto import hashes as _ts_hashes
    from tongsuopy.crypto import serialization as _ts_serialization
    from tongsuopy.crypto.asymciphers import ec as _ts_ec
    from tongsuopy.crypto.exceptions import InternalError as _TsInternalError
    from tongsuopy.crypto.exceptions import InvalidSignature as _TsInvalidSignature
    from tongsuopy.crypto.exceptions import UnsupportedAlgorithm as _TsUnsupported
except ImportError:  # pragma: no cover - exercised by loading this module with it blocked
    _ts_backend = None

if TYPE_CHECKING:
    from tongsuopy.crypto.asymciphers.ec import (
        EllipticCurvePrivateKey as SM2PrivateKey,
    )
    from tongsuopy.crypto.asymciphers.ec import (
        EllipticCurvePublicKey as SM2PublicKey,
    )

__all__ = [
    "DEFAULT_UID",
    "OID_SM2_CURVE",
    "OID_SM2_WITH_SM3",
    "CertificateBuildError",
    "SM2KeyError",
    "SM2Unavailable",
    "SignedParts",
    "build_sm2_certificate",
    "build_sm2_crl",
    "certificate_signed_parts",
    "crl_signed_parts",
    "generate_sm2_key",
    "is_sm2_key",
    "key_identifier",
    "load_sm2_private_key",
    "load_sm2_private_key_pem",
    "save_sm2_private_key",
    "sm2_backend",
    "sm2_private_key_from_scalar",
    "sm2_private_key_pem",
    "sm2_public_key_spki",
    "sm2_sign",
    "sm2_verify",
    "sm3",
    "verify_sm2_certificate",
    "verify_sm2_crl",
    "verify_sm2_signed_parts",
]


class SM2Unavailable(RuntimeError):
    """SM2 signing or key handling was asked for on a host without tongsuopy."""


def sm2_backend() -> str:
    """ "tongsuopy" or "gmssl": which implementation ``sm2_verify`` uses in this process."""
    return "tongsuopy" if _ts_backend is not None else "gmssl"


def _require_tongsuopy(what: str) -> None:
    if _ts_backend is None:
        raise SM2Unavailable(
            f"{what} needs tongsuopy (Tongsuo); the gmssl fallback only verifies signatures"
        )


# --- keys -------------------------------------------------------------------------------


def is_sm2_key(key: Any) -> bool:
    """Whether ``key`` is a tongsuopy private or public key on the SM2 curve."""
    curve = getattr(key, "curve", None)
    return type(key).__module__.startswith("tongsuopy") and (
        getattr(curve, "name", "").upper() == "SM2"
    )


def _check_private(key: Any) -> None:
    _require_tongsuopy("SM2 signing")
    if not is_sm2_key(key) or not hasattr(key, "private_numbers"):
        raise SM2KeyError(f"expected a tongsuopy SM2 private key, got {type(key).__name__}")


def generate_sm2_key() -> SM2PrivateKey:
    """A new SM2 private key from Tongsuo's CSPRNG."""
    _require_tongsuopy("SM2 key generation")
    return _ts_ec.generate_private_key(_ts_ec.SM2())


def sm2_private_key_from_scalar(d: int) -> SM2PrivateKey:
    """The SM2 private key with scalar ``d`` (for published test keys and key import)."""
    _require_tongsuopy("SM2 key import")
    return _ts_ec.derive_private_key(d, _ts_ec.SM2())


def sm2_public_key_spki(key: SM2PrivateKey | SM2PublicKey) -> bytes:
    """DER SubjectPublicKeyInfo of an SM2 key (private or public half)."""
    _require_tongsuopy("SM2 key encoding")
    if not is_sm2_key(key):
        raise SM2KeyError(f"expected a tongsuopy SM2 key, got {type(key).__name__}")
    public = key.public_key() if hasattr(key, "private_numbers") else key
    spki = bytes(
        public.public_bytes(
            _ts_serialization.Encoding.DER, _ts_serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    decode_sm2_spki(spki)  # the encoding every verifier here expects
    return spki


def sm2_private_key_pem(key: SM2PrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with the best available scheme when ``password`` is given."""
    _check_private(key)
    encryption = (
        _ts_serialization.BestAvailableEncryption(password)
        if password
        else _ts_serialization.NoEncryption()
    )
    return bytes(
        key.private_bytes(
            _ts_serialization.Encoding.PEM, _ts_serialization.PrivateFormat.PKCS8, encryption
        )
    )


def load_sm2_private_key_pem(pem: bytes, password: bytes | None = None) -> SM2PrivateKey:
    """An SM2 private key from PEM; a key on another curve is refused, not converted."""
    _require_tongsuopy("SM2 key loading")
    try:
        key = _ts_serialization.load_pem_private_key(pem, password)
    except _TsUnsupported as exc:
        raise SM2KeyError(f"PEM private key is not on the SM2 curve ({exc})") from exc
    except (ValueError, TypeError) as exc:
        raise SM2KeyError(f"not a readable PEM private key: {exc}") from exc
    if not is_sm2_key(key):
        raise SM2KeyError("PEM private key is not on the SM2 curve")
    return key


def save_sm2_private_key(key: SM2PrivateKey, path: Path, password: bytes | None = None) -> None:
    """Write the key as PKCS#8 PEM, readable by the owner only (created 0600, no race)."""
    pem = sm2_private_key_pem(key, password)
    fd = os.open(Path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def load_sm2_private_key(path: Path, password: bytes | None = None) -> SM2PrivateKey:
    """Read a key written by ``save_sm2_private_key`` (or any PKCS#8/SEC1 SM2 PEM)."""
    path = Path(path)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise SM2KeyError(f"{path}: cannot read key file: {exc.strerror}") from exc
    try:
        return load_sm2_private_key_pem(pem, password)
    except SM2KeyError as exc:
        raise SM2KeyError(f"{path}: {exc}") from exc


# --- sign / verify ----------------------------------------------------------------------


def _evp_pkey_sign_digest(key: Any, e: bytes) -> bytes:
    lib, ffi = _ts_backend._lib, _ts_backend._ffi
    ctx = ffi.gc(lib.EVP_PKEY_CTX_new(key._evp_pkey, ffi.NULL), lib.EVP_PKEY_CTX_free)
    _ts_backend.openssl_assert(ctx != ffi.NULL)
    _ts_backend.openssl_assert(lib.EVP_PKEY_sign_init(ctx) == 1)
    size = ffi.new("size_t *")
    _ts_backend.openssl_assert(lib.EVP_PKEY_sign(ctx, ffi.NULL, size, e, len(e)) == 1)
    buf = ffi.new("unsigned char[]", size[0])
    _ts_backend.openssl_assert(lib.EVP_PKEY_sign(ctx, buf, size, e, len(e)) == 1)
    return bytes(ffi.buffer(buf)[: size[0]])


def _evp_pkey_verify_digest(public: Any, sig: bytes, e: bytes) -> bool:
    lib, ffi = _ts_backend._lib, _ts_backend._ffi
    ctx = ffi.gc(lib.EVP_PKEY_CTX_new(public._evp_pkey, ffi.NULL), lib.EVP_PKEY_CTX_free)
    _ts_backend.openssl_assert(ctx != ffi.NULL)
    _ts_backend.openssl_assert(lib.EVP_PKEY_verify_init(ctx) == 1)
    ok = lib.EVP_PKEY_verify(ctx, sig, len(sig), e, len(e)) == 1
    if not ok:
        _ts_backend._consume_errors()
    return ok


def sm2_sign(private_key: SM2PrivateKey, data: bytes, uid: bytes = DEFAULT_UID) -> bytes:
    """SM2 signature (DER) of ``data`` under signer ID ``uid``; nonce from Tongsuo."""
    _check_private(private_key)
    if uid == DEFAULT_UID:
        return bytes(private_key.sign(data, _ts_ec.ECDSA(_ts_hashes.SM3())))
    numbers = private_key.public_key().public_numbers()
    return _evp_pkey_sign_digest(private_key, message_digest(numbers.x, numbers.y, data, uid))


@functools.lru_cache(maxsize=512)
def _tongsuo_public_key(spki: bytes) -> Any:
    # Verifying many licenses means few keys: parse each SPKI into Tongsuo once.
    return _ts_serialization.load_der_public_key(spki)


# Certificates and CRLs are verified again for every license they vouch for; their
# to-be-signed parts are small, so outcomes for small inputs are remembered. The outcome
# is a pure function of the exact bytes, so a cached answer is the answer.
_CACHE_MAX_DATA = 4096
_CACHE_ENTRIES = 2048


def sm2_verify(
    public_key_spki_der: bytes, data: bytes, sig_der: bytes, uid: bytes = DEFAULT_UID
) -> bool:
    """True when ``sig_der`` is a valid SM2 signature of ``data`` by the key and ``uid``.

    Any malformed input (not an SM2 key, key off the curve, BER or out-of-range r/s) is
    False, never an exception: each means the signature does not hold.
    """
    args = (bytes(public_key_spki_der), bytes(data), bytes(sig_der), bytes(uid))
    if len(args[1]) <= _CACHE_MAX_DATA:
        return _verify_cached(*args)
    return _verify(*args)


def _verify(spki: bytes, data: bytes, sig: bytes, uid: bytes) -> bool:
    try:
        x, y = decode_sm2_spki(spki)
        r, s = decode_signature(sig)
    except ValueError:
        return False
    if _ts_backend is None:
        return sm2_fallback.verify_point(x, y, data, r, s, uid)
    public = _tongsuo_public_key(spki)
    try:
        if uid == DEFAULT_UID:
            public.verify(sig, data, _ts_ec.ECDSA(_ts_hashes.SM3()))
            return True
        return _evp_pkey_verify_digest(public, sig, message_digest(x, y, data, uid))
    except _TsInvalidSignature:
        return False
    except _TsInternalError:
        _ts_backend._consume_errors()
        return False


_verify_cached = functools.lru_cache(maxsize=_CACHE_ENTRIES)(_verify)


# --- certificates and CRLs --------------------------------------------------------------

CryptographyPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _issuer(issuer_key: Any) -> tuple[bytes, Signer, bytes]:
    """(AlgorithmIdentifier DER, signer, issuer SPKI) for an SM2 or cryptography key."""
    if is_sm2_key(issuer_key):
        _check_private(issuer_key)
        return (
            SM2_SM3_ALGORITHM,
            lambda tbs: sm2_sign(issuer_key, tbs),
            sm2_public_key_spki(issuer_key),
        )
    from cryptography.hazmat.primitives import serialization

    if isinstance(issuer_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        if isinstance(issuer_key, rsa.RSAPrivateKey):
            h: hashes.HashAlgorithm = hashes.SHA256()
            alg = algorithm_identifier("1.2.840.113549.1.1.11", null_params=True)

            def signer(tbs: bytes) -> bytes:
                return issuer_key.sign(tbs, padding.PKCS1v15(), h)
        else:
            h, oid = {
                "secp384r1": (hashes.SHA384(), "1.2.840.10045.4.3.3"),
                "secp521r1": (hashes.SHA512(), "1.2.840.10045.4.3.4"),
            }.get(issuer_key.curve.name, (hashes.SHA256(), "1.2.840.10045.4.3.2"))
            alg = algorithm_identifier(oid)

            def signer(tbs: bytes) -> bytes:
                return issuer_key.sign(tbs, ec.ECDSA(h))
    elif isinstance(issuer_key, ed25519.Ed25519PrivateKey):
        alg = algorithm_identifier("1.3.101.112")
        signer = issuer_key.sign
    else:
        raise CertificateBuildError(f"cannot issue with a {type(issuer_key).__name__}")
    spki = issuer_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return alg, signer, spki


def build_sm2_certificate(
    *,
    subject: x509.Name | str,
    issuer_name: x509.Name | str,
    subject_public_key_spki: bytes,
    issuer_key: SM2PrivateKey | CryptographyPrivateKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    path_len: int | None = None,
    key_usage: x509.KeyUsage | None = None,
    extended_key_usage: x509.ExtendedKeyUsage | None = None,
    subject_key_identifier: bytes | None = None,
    authority_key_identifier: bytes | None = None,
) -> bytes:
    """A v3 certificate (DER) for any subject key, signed by an SM2 or cryptography key.

    Made for SM2 subjects, which cryptography cannot build; an SM2 issuer signs with
    SM2-with-SM3 under the default signer ID (GM/T 0015). Defaults: keyUsage
    keyCertSign + cRLSign for a CA, digitalSignature + nonRepudiation otherwise (both
    critical); identifiers by RFC 5280 method 1, the AKI from the issuer key, so a chain
    built here links by key identifier without the caller passing any.
    """
    alg, signer, issuer_spki = _issuer(issuer_key)
    if key_usage is None:
        key_usage = x509.KeyUsage(
            digital_signature=not ca,
            content_commitment=not ca,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )
    return build_certificate(
        subject=subject,
        issuer_name=issuer_name,
        subject_public_key_spki=subject_public_key_spki,
        signature_algorithm=alg,
        signer=signer,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        ca=ca,
        path_len=path_len,
        key_usage=key_usage,
        subject_key_identifier=subject_key_identifier or key_identifier(subject_public_key_spki),
        authority_key_identifier=authority_key_identifier or key_identifier(issuer_spki),
        extended_key_usage=extended_key_usage,
    )


def build_sm2_crl(
    *,
    issuer_name: x509.Name | str,
    issuer_key: SM2PrivateKey | CryptographyPrivateKey,
    this_update: datetime,
    next_update: datetime,
    revoked: Sequence[tuple[int, datetime]] = (),
    crl_number: int = 1,
    authority_key_identifier: bytes | None = None,
) -> bytes:
    """A v2 CRL (DER) signed by the issuing CA's key, SM2 or not.

    ``revoked`` holds (certificate serial, revocation date); the CRL carries CRLNumber
    and an AKI taken from the issuer key unless one is given.
    """
    alg, signer, issuer_spki = _issuer(issuer_key)
    return build_crl(
        issuer_name=issuer_name,
        signature_algorithm=alg,
        signer=signer,
        this_update=this_update,
        next_update=next_update,
        revoked=revoked,
        crl_number=crl_number,
        authority_key_identifier=authority_key_identifier or key_identifier(issuer_spki),
    )


def verify_sm2_signed_parts(parts: SignedParts, issuer_spki: bytes) -> bool:
    """True when an SM2-with-SM3 certificate/CRL signature verifies with the issuer key."""
    if parts.algorithm_oid != OID_SM2_WITH_SM3:
        return False
    return sm2_verify(issuer_spki, parts.tbs, parts.signature)


def verify_sm2_certificate(cert_der: bytes, issuer_spki: bytes) -> bool:
    """Whether an SM2-signed certificate's signature verifies with ``issuer_spki``.

    Only the signature: validity, names and constraints are the chain validator's job.
    Unparseable certificates are False.
    """
    try:
        parts = certificate_signed_parts(cert_der)
    except ValueError:
        return False
    return verify_sm2_signed_parts(parts, issuer_spki)


def verify_sm2_crl(crl_der: bytes, issuer_spki: bytes) -> bool:
    """Whether an SM2-signed CRL's signature verifies with ``issuer_spki``."""
    try:
        parts = crl_signed_parts(crl_der)
    except ValueError:
        return False
    return verify_sm2_signed_parts(parts, issuer_spki)
