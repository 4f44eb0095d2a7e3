"""The SM2 recommended curve and the encodings every SM2 implementation must agree on.

Kept apart from the C backend so that the pure-Python fallback, the C backend and the
certificate code share one definition of: the curve (GB/T 32918.5 / GM/T 0003.5), the
signer's Z value and message digest e (GB/T 32918.2 §5.5 and §6.1 A1–A2), the DER
signature ``SEQUENCE {r, s}`` (GM/T 0009) and the SubjectPublicKeyInfo with
id-ecPublicKey + curve OID 1.2.156.10197.1.301 (GM/T 0015).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from signing.sm3 import sm3

DEFAULT_UID = b"1234567812345678"

# GB/T 32918.5-2017 recommended 256-bit prime-field curve.
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_SM2_CURVE = "1.2.156.10197.1.301"
OID_SM2_WITH_SM3 = "1.2.156.10197.1.501"

# SEQUENCE { SEQUENCE { id-ecPublicKey, sm2p256v1 }, BIT STRING (0 unused bits) 04 || X || Y }
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
_MAX_UID_BYTES = 8191  # ENTL is a 16-bit count of bits


class SM2KeyError(ValueError):
    """Public key bytes that are not an SM2 point in the expected encoding."""


def is_on_curve(x: int, y: int) -> bool:
    """Whether (x, y) is a finite point of the SM2 curve (coordinates in range)."""
    if not (0 <= x < P and 0 <= y < P):
        return False
    return (y * y - (x * x * x + A * x + B)) % P == 0


def encode_sm2_spki(x: int, y: int) -> bytes:
    """SubjectPublicKeyInfo DER for the point (x, y), uncompressed as GM/T 0015 uses it."""
    if not is_on_curve(x, y):
        raise SM2KeyError("point is not on the SM2 curve")
    return _SPKI_PREFIX + b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def decode_sm2_spki(spki_der: bytes) -> tuple[int, int]:
    """(x, y) of an SM2 SubjectPublicKeyInfo; anything else raises ``SM2KeyError``.

    Accepts exactly the encoding GM/T 0015 prescribes (named curve, uncompressed point),
    so that two different byte strings never name the same trusted key.
    """
    if len(spki_der) != len(_SPKI_PREFIX) + 65 or not spki_der.startswith(_SPKI_PREFIX):
        raise SM2KeyError(
            "not an SM2 SubjectPublicKeyInfo (id-ecPublicKey, curve 1.2.156.10197.1.301, "
            "uncompressed point)"
        )
    point = spki_der[len(_SPKI_PREFIX) :]
    if point[0] != 0x04:
        raise SM2KeyError("SM2 public key point is not in uncompressed form")
    x = int.from_bytes(point[1:33], "big")
    y = int.from_bytes(point[33:65], "big")
    if not is_on_curve(x, y):
        raise SM2KeyError("SM2 public key point is not on the curve")
    return x, y


def z_value(x: int, y: int, uid: bytes = DEFAULT_UID) -> bytes:
    """Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA), binding signer ID and key."""
    if len(uid) > _MAX_UID_BYTES:
        raise ValueError(f"SM2 signer ID of {len(uid)} bytes exceeds {_MAX_UID_BYTES}")
    entl = (len(uid) * 8).to_bytes(2, "big")
    fields = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY, x, y))
    return sm3(entl + uid + fields)


def message_digest(x: int, y: int, data: bytes, uid: bytes = DEFAULT_UID) -> bytes:
    """e = SM3(Z || M): the value the SM2 signature equation actually signs."""
    return sm3(z_value(x, y, uid) + data)


def decode_signature(sig_der: bytes) -> tuple[int, int]:
    """(r, s) from a DER signature; non-canonical DER or out-of-range values raise.

    Re-encoding and comparing rejects BER variants, so one signature has one encoding
    (no malleable copies that hash differently in an envelope or a ledger).
    """
    try:
        r, s = decode_dss_signature(sig_der)
    except ValueError as exc:
        raise ValueError(f"SM2 signature is not DER SEQUENCE {{r, s}}: {exc}") from exc
    if encode_dss_signature(r, s) != sig_der:
        raise ValueError("SM2 signature is not in canonical DER")
    if not (1 <= r < N and 1 <= s < N):
        raise ValueError("SM2 signature r or s is outside [1, n-1]")
    return r, s


def encode_signature(r: int, s: int) -> bytes:
    """DER ``SEQUENCE {r, s}``."""
    return encode_dss_signature(r, s)
