"""The signature value and reference digest of a pinned enveloped XML-DSig, on lxml alone.

This is the verifier ``signing.xmldsig`` runs by default. It does only what the pinned
profile needs, on the tree the hardened parser already built, so one license costs one
parse, two exclusive c14n passes (SignedInfo, then the root without its Signature) and
one public-key operation. signxml does the same job generically (it re-parses the
document, the Signature and the referenced element several times and re-serialises each
copy), which made it about five bare signature verifications' worth of work per license;
it stays in the code base as the reference implementation (``engine="signxml"``) that
the tests hold this module to, on valid and on tampered licenses.

Everything here assumes the caller has checked the profile (``xmldsig._check_profile``):
one ``ds:Signature`` as a direct child of the root, SignedInfo with exactly one Reference
to the root, transforms exactly enveloped-signature + exclusive c14n, exclusive c14n for
SignedInfo, accepted algorithms, strict base64 in SignatureValue and DigestValue, no
comments or processing instructions inside the Signature. Nothing outside that profile
reaches this module: the profile check refuses it with FORMAT_FAILURE (or
CRYPTO_CONSTRAINTS_FAILURE for algorithms) for both engines alike, so there is no
fallback path to keep in step.

The results follow signxml's where both apply (tests/signing/test_xmldsig_engines.py):
the signature value is checked before the digest; an ECDSA value must be exactly r||s
of the curve's size; RSA-PSS uses MGF1 with the signature's hash and a salt as long as
that hash; the enveloped-signature transform keeps the Signature's tail text; the signed
content handed back is re-parsed from the canonical bytes that were digested, so unsigned
comments never split or shorten what is read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from signing.algorithms import hash_algorithm, parse_algorithm
from signing.license_xml import safe_parser

DS = "http://www.w3.org/2000/09/xmldsig#"
_SIGNED_INFO = f"{{{DS}}}SignedInfo"
_SIGNATURE_VALUE = f"{{{DS}}}SignatureValue"
_REFERENCE = f"{{{DS}}}Reference"
_DIGEST_VALUE = f"{{{DS}}}DigestValue"

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class Failure(Enum):
    """Which step refused the signature (the report maps each to its sub-indication)."""

    FORMAT = "format"  # the signature cannot be checked as the profile describes
    SIGNATURE_VALUE = "signature_value"  # SIG_CRYPTO_FAILURE
    DIGEST = "reference_digest"  # HASH_FAILURE (the signature value held)
    CONTENT = "signed_content"  # the digested bytes are not XML


class SignatureFailure(Exception):
    """The signature does not hold; ``failure`` says at which step, ``detail`` why."""

    def __init__(self, failure: Failure, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail


@dataclass(frozen=True)
class SignedContent:
    """What the Reference covers: the element re-parsed from the canonical bytes, and them."""

    root: etree._Element
    data: bytes


def verify_enveloped(
    root: etree._Element,
    signature: etree._Element,
    *,
    public_key: PublicKey,
    algorithm: str,
    digest: str,
) -> SignedContent:
    """Check the signature value over SignedInfo, then the digest of ``root`` without it.

    ``algorithm`` is our name for the SignatureMethod (``signing.algorithms``) and
    ``digest`` the name of the DigestMethod's hash, both already accepted by the profile.
    Raises :class:`SignatureFailure`. The tree is left as it was given.
    """
    signed_info = signature.find(_SIGNED_INFO)
    reference = signed_info.find(_REFERENCE) if signed_info is not None else None
    digest_value = reference.find(_DIGEST_VALUE) if reference is not None else None
    value = signature.find(_SIGNATURE_VALUE)
    if signed_info is None or digest_value is None or value is None:
        raise SignatureFailure(Failure.FORMAT, "SignedInfo, Reference or SignatureValue missing")
    signed_info_c14n = _exc_c14n(signed_info)
    _check_signature_value(public_key, algorithm, _b64(value), signed_info_c14n)

    payload = _c14n_without(root, signature)
    expected = _b64(digest_value)
    actual = _digest(digest, payload)
    if not hmac.compare_digest(expected, actual):
        raise SignatureFailure(
            Failure.DIGEST, f"digest mismatch for the Reference to #{root.get('Id')}"
        )
    try:
        signed_root = etree.fromstring(payload, parser=safe_parser())
    except etree.XMLSyntaxError as exc:  # c14n of an element is XML; kept for safety
        raise SignatureFailure(Failure.CONTENT, f"the signed bytes are not XML: {exc}") from None
    return SignedContent(signed_root, payload)


def signer_public_key(cert_der: bytes) -> PublicKey:
    """The certificate's public key, for the RSA and EC keys XML licenses are signed with.

    Raises ``SignatureFailure(FORMAT)`` for any other key (SM2 and Ed25519 sign with the
    detached envelope) or one that cryptography cannot load. Cached: the same few issuing
    certificates sign every license, and loading an EC key validates its point.
    """
    key = _cached_public_key(cert_der)
    if isinstance(key, str):
        raise SignatureFailure(Failure.FORMAT, key)
    return key


@lru_cache(maxsize=512)
def _cached_public_key(cert_der: bytes) -> PublicKey | str:
    try:
        key = x509.load_der_x509_certificate(cert_der).public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"the signing certificate's public key cannot be used: {exc}"
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return f"the signing certificate holds a {type(key).__name__}, not an RSA or EC key"
    return key


def _check_signature_value(
    key: PublicKey, algorithm: str, raw: bytes, signed_info_c14n: bytes
) -> None:
    spec = parse_algorithm(algorithm)
    digest = hash_algorithm(spec.digest)
    try:
        if spec.family == "ecdsa":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise SignatureFailure(Failure.FORMAT, f"{algorithm} needs an EC signing key")
            size = (key.key_size + 7) // 8
            if len(raw) != 2 * size:
                raise SignatureFailure(
                    Failure.SIGNATURE_VALUE,
                    f"expected a {2 * size} byte SignatureValue (r||s), got {len(raw)}",
                )
            der = encode_dss_signature(
                int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
            )
            key.verify(der, signed_info_c14n, ec.ECDSA(digest))
        elif spec.family in ("rsa-pkcs1v15", "rsa-pss"):
            if not isinstance(key, rsa.RSAPublicKey):
                raise SignatureFailure(Failure.FORMAT, f"{algorithm} needs an RSA signing key")
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if spec.family == "rsa-pkcs1v15"
                else padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
            )
            key.verify(raw, signed_info_c14n, pad, digest)
        else:
            raise SignatureFailure(Failure.FORMAT, f"{algorithm} is not an XML-DSig method here")
    except InvalidSignature:
        raise SignatureFailure(
            Failure.SIGNATURE_VALUE, f"{algorithm} signature does not verify with the signer's key"
        ) from None


def _exc_c14n(element: etree._Element) -> bytes:
    """Exclusive c14n without comments of one element's subtree (lxml copies it in C)."""
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _c14n_without(root: etree._Element, signature: etree._Element) -> bytes:
    """The enveloped-signature transform then exclusive c14n, with the tree restored after.

    Removing the Signature keeps its tail text in the document (the XPath node-set the
    transform describes keeps it; lxml would drop it with the element), as signxml does.
    """
    parent = signature.getparent()
    if parent is None:
        raise SignatureFailure(Failure.FORMAT, "the Signature has no parent to be enveloped in")
    index = parent.index(signature)
    tail = signature.tail
    previous = signature.getprevious()
    saved = previous.tail if previous is not None else parent.text
    if tail is not None:
        if previous is not None:
            previous.tail = (saved or "") + tail
        else:
            parent.text = (saved or "") + tail
    parent.remove(signature)
    try:
        return _exc_c14n(root)
    finally:
        parent.insert(index, signature)
        signature.tail = tail
        if previous is not None:
            previous.tail = saved
        else:
            parent.text = saved


def _b64(element: etree._Element) -> bytes:
    """Strict base64 of an element's text (the profile has checked it; a caller that
    skipped the profile still gets a SignatureFailure, not a binascii error)."""
    try:
        return base64.b64decode("".join((element.text or "").split()), validate=True)
    except ValueError:
        raise SignatureFailure(
            Failure.FORMAT, f"{etree.QName(element).localname} is not base64"
        ) from None


_DIGESTS = frozenset({"sha256", "sha384", "sha512"})


def _digest(name: str, data: bytes) -> bytes:
    if name not in _DIGESTS:
        raise SignatureFailure(Failure.FORMAT, f"digest {name!r} is not in the profile")
    return hashlib.new(name, data).digest()
