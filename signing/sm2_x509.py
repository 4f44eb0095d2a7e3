"""X.509 certificates and CRLs for SM2 keys, encoded by hand.

pyca/cryptography's builders need a public key object it supports, and it has no SM2,
so the TBSCertificate / TBSCertList are DER-encoded here (RFC 5280 §4.1 and §5.1) and
signed through a callback. Names and extension values are still encoded by
cryptography (``Name.public_bytes`` / ``ExtensionType.public_bytes``), so only the outer
structure is ours. Reading goes the other way: cryptography parses the result (it
accepts SM2 certificates, it only refuses their ``public_key()``), and the signed parts
are taken from it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from signing.sm2_curve import OID_SM2_WITH_SM3

Signer = Callable[[bytes], bytes]

_INTEGER, _BIT_STRING, _OCTET_STRING, _OID, _SEQUENCE = 0x02, 0x03, 0x04, 0x06, 0x30
_BOOLEAN, _UTC_TIME, _GENERALIZED_TIME, _NULL = 0x01, 0x17, 0x18, 0x05


class CertificateBuildError(ValueError):
    """Arguments that cannot make a well-formed certificate or CRL."""


# --- DER encoding ----------------------------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(_SEQUENCE, b"".join(parts))


def _int(value: int) -> bytes:
    if value < 0:
        raise CertificateBuildError("negative INTEGER")
    return _tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = [40 * arcs[0] + arcs[1], *arcs[2:]]
    out = bytearray()
    for arc in body:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return _tlv(_OID, bytes(out))


def _bit_string(data: bytes) -> bytes:
    return _tlv(_BIT_STRING, b"\x00" + data)


def _aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise CertificateBuildError(
                f"certificate and CRL times must be timezone-aware, got {moment.isoformat()}"
            )


def _time(moment: datetime) -> bytes:
    """UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5)."""
    _aware(moment)
    moment = moment.astimezone(UTC)
    if 1950 <= moment.year < 2050:
        return _tlv(_UTC_TIME, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return _tlv(_GENERALIZED_TIME, moment.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def _extension(value: x509.ExtensionType, critical: bool) -> bytes:
    parts = [_oid(value.oid.dotted_string)]
    if critical:
        parts.append(_tlv(_BOOLEAN, b"\xff"))
    parts.append(_tlv(_OCTET_STRING, value.public_bytes()))
    return _seq(*parts)


def algorithm_identifier(oid: str, *, null_params: bool = False) -> bytes:
    """AlgorithmIdentifier DER; SM2-with-SM3 and ECDSA omit parameters, RSA has NULL."""
    return _seq(_oid(oid), _tlv(_NULL, b"")) if null_params else _seq(_oid(oid))


SM2_SM3_ALGORITHM = algorithm_identifier(OID_SM2_WITH_SM3)


def _signed(tbs: bytes, algorithm: bytes, signer: Signer) -> bytes:
    return _seq(tbs, algorithm, _bit_string(signer(tbs)))


def key_identifier(spki_der: bytes) -> bytes:
    """RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.

    SHA-1 here names a key, it signs nothing; cryptography uses the same method, so
    identifiers of SM2 and non-SM2 certificates in one chain match either way.
    """
    top = _read(spki_der, 0)
    algorithm = _read(spki_der, top.value_start)
    bits = _read(spki_der, algorithm.end)
    if top.tag != _SEQUENCE or bits.tag != _BIT_STRING or bits.end != top.end:
        raise CertificateBuildError("malformed SubjectPublicKeyInfo")
    return hashlib.sha1(spki_der[bits.value_start + 1 : bits.end], usedforsecurity=False).digest()


def _name(name: x509.Name | str) -> x509.Name:
    if isinstance(name, x509.Name):
        return name
    try:
        return x509.Name.from_rfc4514_string(name)
    except ValueError as exc:
        raise CertificateBuildError(f"not an RFC 4514 name: {name!r}") from exc


def _serial(serial: int) -> int:
    if serial <= 0 or serial.bit_length() > 159:
        raise CertificateBuildError(f"certificate serial {serial} must be positive, ≤ 20 octets")
    return serial


def build_certificate(
    *,
    subject: x509.Name | str,
    issuer_name: x509.Name | str,
    subject_public_key_spki: bytes,
    signature_algorithm: bytes,
    signer: Signer,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    path_len: int | None,
    key_usage: x509.KeyUsage,
    subject_key_identifier: bytes,
    authority_key_identifier: bytes | None,
    extended_key_usage: x509.ExtendedKeyUsage | None = None,
) -> bytes:
    """A v3 certificate DER signed by ``signer`` under ``signature_algorithm``."""
    _aware(not_before, not_after)
    if not_after <= not_before:
        raise CertificateBuildError("not_after must be later than not_before")
    if path_len is not None and not ca:
        raise CertificateBuildError("path_len only applies to CA certificates")
    extensions = [
        _extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True),
        _extension(key_usage, critical=True),
        _extension(x509.SubjectKeyIdentifier(subject_key_identifier), critical=False),
    ]
    if authority_key_identifier is not None:
        aki = x509.AuthorityKeyIdentifier(authority_key_identifier, None, None)
        extensions.append(_extension(aki, critical=False))
    if extended_key_usage is not None:
        extensions.append(_extension(extended_key_usage, critical=False))
    tbs = _seq(
        _tlv(0xA0, _int(2)),  # [0] EXPLICIT version v3
        _int(_serial(serial)),
        signature_algorithm,
        _name(issuer_name).public_bytes(),
        _seq(_time(not_before), _time(not_after)),
        _name(subject).public_bytes(),
        subject_public_key_spki,
        _tlv(0xA3, _seq(*extensions)),  # [3] EXPLICIT extensions
    )
    return _signed(tbs, signature_algorithm, signer)


def build_crl(
    *,
    issuer_name: x509.Name | str,
    signature_algorithm: bytes,
    signer: Signer,
    this_update: datetime,
    next_update: datetime,
    revoked: Sequence[tuple[int, datetime]],
    crl_number: int,
    authority_key_identifier: bytes | None,
) -> bytes:
    """A v2 CRL DER listing ``revoked`` (serial, revocation date) pairs."""
    _aware(this_update, next_update)
    if next_update <= this_update:
        raise CertificateBuildError("next_update must be later than this_update")
    parts = [
        _int(1),  # v2
        signature_algorithm,
        _name(issuer_name).public_bytes(),
        _time(this_update),
        _time(next_update),
    ]
    if revoked:
        entries = [_seq(_int(_serial(sn)), _time(when)) for sn, when in revoked]
        parts.append(_seq(*entries))
    extensions = [_extension(x509.CRLNumber(crl_number), critical=False)]
    if authority_key_identifier is not None:
        aki = x509.AuthorityKeyIdentifier(authority_key_identifier, None, None)
        extensions.append(_extension(aki, critical=False))
    parts.append(_tlv(0xA0, _seq(*extensions)))  # [0] EXPLICIT crlExtensions
    return _signed(_seq(*parts), signature_algorithm, signer)


# --- reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tlv:
    tag: int
    start: int
    value_start: int
    end: int


def _read(data: bytes, pos: int, limit: int | None = None) -> _Tlv:
    limit = len(data) if limit is None else limit
    if pos + 2 > limit:
        raise ValueError(f"truncated DER at offset {pos}")
    tag, first, cursor = data[pos], data[pos + 1], pos + 2
    if first & 0x80:
        count = first & 0x7F
        if not 1 <= count <= 4 or cursor + count > limit:
            raise ValueError(f"bad DER length at offset {pos}")
        length = int.from_bytes(data[cursor : cursor + count], "big")
        cursor += count
    else:
        length = first
    if cursor + length > limit:
        raise ValueError(f"DER element at offset {pos} overruns its container")
    return _Tlv(tag, pos, cursor, cursor + length)


@dataclass(frozen=True)
class SignedParts:
    """What a certificate or CRL signature covers, and the signature itself."""

    tbs: bytes
    signature: bytes
    algorithm_oid: str  # outer signatureAlgorithm, equal to the one inside the TBS
    spki: bytes | None  # the certified key (certificates only)


def _tbs_fields(tbs: bytes) -> list[_Tlv]:
    top = _read(tbs, 0)
    if top.tag != _SEQUENCE or top.end != len(tbs):
        raise ValueError("TBS is not one SEQUENCE")
    fields, pos = [], top.value_start
    while pos < top.end:
        field = _read(tbs, pos, top.end)
        fields.append(field)
        pos = field.end
    return fields


def _raw(data: bytes, tlv: _Tlv) -> bytes:
    return data[tlv.start : tlv.end]


def _outer_algorithm(der: bytes) -> bytes:
    top = _read(der, 0)
    tbs = _read(der, top.value_start, top.end)
    alg = _read(der, tbs.end, top.end)
    return _raw(der, alg)


def certificate_signed_parts(cert_der: bytes) -> SignedParts:
    """Signed bytes, signature, algorithm and SPKI of a certificate (SM2 or not).

    Raises ``ValueError`` for unparseable input or when the algorithm inside the TBS
    differs from the outer one (RFC 5280 §4.1.1.2 requires them equal; a mismatch is a
    substitution attempt).
    """
    cert = x509.load_der_x509_certificate(cert_der)
    tbs = cert.tbs_certificate_bytes
    fields = _tbs_fields(tbs)
    index = 1 if fields and fields[0].tag == 0xA0 else 0
    if len(fields) < index + 6:
        raise ValueError("tbsCertificate is too short")
    inner = _raw(tbs, fields[index + 1])
    if inner != _outer_algorithm(cert_der):
        raise ValueError("certificate signature algorithm differs inside and outside the TBS")
    spki = _raw(tbs, fields[index + 5])
    return SignedParts(tbs, cert.signature, cert.signature_algorithm_oid.dotted_string, spki)


def crl_signed_parts(crl_der: bytes) -> SignedParts:
    """Signed bytes, signature and algorithm of a CRL (SM2 or not); see above."""
    crl = x509.load_der_x509_crl(crl_der)
    tbs = crl.tbs_certlist_bytes
    fields = _tbs_fields(tbs)
    index = 1 if fields and fields[0].tag == _INTEGER else 0
    if len(fields) < index + 1:
        raise ValueError("tbsCertList is too short")
    if _raw(tbs, fields[index]) != _outer_algorithm(crl_der):
        raise ValueError("CRL signature algorithm differs inside and outside the TBS")
    return SignedParts(tbs, crl.signature, crl.signature_algorithm_oid.dotted_string, None)
