"""Just enough DER reading to get at fields cryptography will not hand out for SM2.

pyca/cryptography parses certificates with SM2 keys but refuses ``public_key()`` on them,
so the SubjectPublicKeyInfo and its algorithm identifiers are read here from the DER.
Strict: definite lengths only, bounds checked, anything else raises ``DerError``.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENCE = 0x30
OID = 0x06
NULL = 0x05


class DerError(ValueError):
    """Malformed or unexpected DER."""


@dataclass(frozen=True)
class Tlv:
    """One DER element: tag, the element's whole encoding and where its value lies."""

    tag: int
    start: int
    value_start: int
    end: int

    def encoded(self, data: bytes) -> bytes:
        """The full TLV encoding."""
        return data[self.start : self.end]

    def value(self, data: bytes) -> bytes:
        """The value octets."""
        return data[self.value_start : self.end]


def read_tlv(data: bytes, pos: int = 0, limit: int | None = None) -> Tlv:
    """The element starting at ``pos``; it must end before ``limit``."""
    limit = len(data) if limit is None else limit
    if pos + 2 > limit:
        raise DerError(f"truncated element at offset {pos}")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError(f"multi-byte tag at offset {pos} not supported")
    first = data[pos + 1]
    cursor = pos + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise DerError(f"indefinite or oversized length at offset {pos}")
        if cursor + count > limit:
            raise DerError(f"truncated length at offset {pos}")
        length = int.from_bytes(data[cursor : cursor + count], "big")
        if length < 0x80 or data[cursor] == 0:
            raise DerError(f"non-minimal length at offset {pos}")
        cursor += count
    end = cursor + length
    if end > limit:
        raise DerError(f"element at offset {pos} runs past its container")
    return Tlv(tag, pos, cursor, end)


def children(data: bytes, parent: Tlv) -> list[Tlv]:
    """The elements inside a constructed element."""
    out: list[Tlv] = []
    pos = parent.value_start
    while pos < parent.end:
        child = read_tlv(data, pos, parent.end)
        out.append(child)
        pos = child.end
    return out


def decode_oid(value: bytes) -> str:
    """Dotted form of an OBJECT IDENTIFIER's value octets."""
    if not value or value[-1] & 0x80:
        raise DerError("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    acc = 0
    for byte in value:
        acc = (acc << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(acc)
            acc = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def _single(data: bytes) -> Tlv:
    top = read_tlv(data)
    if top.tag != SEQUENCE or top.end != len(data):
        raise DerError("expected exactly one SEQUENCE")
    return top


def spki_of_certificate(cert_der: bytes) -> bytes:
    """The certificate's SubjectPublicKeyInfo, exactly as encoded."""
    top = _single(cert_der)
    parts = children(cert_der, top)
    if not parts or parts[0].tag != SEQUENCE:
        raise DerError("certificate without tbsCertificate")
    tbs = children(cert_der, parts[0])
    index = 1 if tbs and tbs[0].tag == 0xA0 else 0  # optional [0] version
    # serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(tbs) < index + 6:
        raise DerError("tbsCertificate too short")
    spki = tbs[index + 5]
    if spki.tag != SEQUENCE:
        raise DerError("subjectPublicKeyInfo is not a SEQUENCE")
    return spki.encoded(cert_der)


def spki_algorithm(spki_der: bytes) -> tuple[str, str | None]:
    """(algorithm OID, parameter OID or None) of a SubjectPublicKeyInfo."""
    top = _single(spki_der)
    parts = children(spki_der, top)
    if len(parts) != 2 or parts[0].tag != SEQUENCE or parts[1].tag != 0x03:
        raise DerError("malformed SubjectPublicKeyInfo")
    alg = children(spki_der, parts[0])
    if not alg or alg[0].tag != OID:
        raise DerError("malformed AlgorithmIdentifier")
    oid = decode_oid(alg[0].value(spki_der))
    param = None
    if len(alg) > 1 and alg[1].tag == OID:
        param = decode_oid(alg[1].value(spki_der))
    return oid, param


def encode_length(length: int) -> bytes:
    """DER length octets."""
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def encode_tlv(tag: int, value: bytes) -> bytes:
    """One DER element."""
    return bytes([tag]) + encode_length(len(value)) + value


def encode_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER element from its dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2:
        raise DerError(f"OID {dotted!r} needs at least two arcs")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return encode_tlv(OID, bytes(out))


def algorithm_identifier(oid: str, *, null_params: bool) -> bytes:
    """AlgorithmIdentifier SEQUENCE (RSA PKCS#1 v1.5 carries NULL parameters, ECDSA none)."""
    return encode_tlv(SEQUENCE, encode_oid(oid) + (b"\x05\x00" if null_params else b""))


def assemble_certificate(tbs: bytes, signature_algorithm: bytes, signature: bytes) -> bytes:
    """Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }."""
    return encode_tlv(SEQUENCE, tbs + signature_algorithm + encode_tlv(0x03, b"\x00" + signature))


def replace_tbs_signature_algorithm(tbs: bytes, signature_algorithm: bytes) -> bytes:
    """The tbsCertificate with its inner signature AlgorithmIdentifier replaced."""
    top = _single(tbs)
    parts = children(tbs, top)
    index = 2 if parts and parts[0].tag == 0xA0 else 1
    if len(parts) <= index or parts[index].tag != SEQUENCE:
        raise DerError("tbsCertificate without a signature AlgorithmIdentifier")
    body = b"".join(
        signature_algorithm if i == index else p.encoded(tbs) for i, p in enumerate(parts)
    )
    return encode_tlv(SEQUENCE, body)


def signature_algorithms_agree(cert_der: bytes) -> bool:
    """RFC 5280 §4.1.1.2: the signature algorithm inside the TBS equals the outer one.

    A mismatch means someone edited one of them — an algorithm substitution attempt.
    """
    top = _single(cert_der)
    parts = children(cert_der, top)
    if len(parts) != 3:
        return False
    tbs = children(cert_der, parts[0])
    index = 2 if tbs and tbs[0].tag == 0xA0 else 1
    return len(tbs) > index and tbs[index].encoded(cert_der) == parts[1].encoded(cert_der)


def signature_value_is_octets(signed_der: bytes) -> bool:
    """The outer signatureValue BIT STRING of a certificate or CRL has no unused bits.

    cryptography hands out the signature bytes whatever the unused-bits octet says, so
    without this check that octet could be changed without breaking the signature.
    """
    try:
        parts = children(signed_der, _single(signed_der))
    except DerError:
        return False
    return (
        len(parts) == 3
        and parts[2].tag == 0x03
        and parts[2].end > parts[2].value_start
        and signed_der[parts[2].value_start] == 0
    )
