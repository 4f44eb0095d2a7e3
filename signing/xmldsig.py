"""Enveloped XML-DSig signatures on e-license documents (signxml, with a pinned profile).

The profile a verifier accepts, and nothing else (docs/signing.md "XML licenses"):

- the root is ``<signed_license Id="…">`` and holds exactly one ``ds:Signature``, as a
  direct child, made of exactly SignedInfo, SignatureValue, KeyInfo (no ``ds:Object``:
  nothing unsigned may travel inside the signature; no optional parts anywhere);
- ``SignedInfo`` has exactly one ``Reference``, whose URI is ``#`` + the root's Id, and
  that Id names no other element (so the reference cannot be steered to a copy);
- the Reference's transforms are exactly enveloped-signature then exclusive c14n, and
  ``SignedInfo`` is canonicalised with exclusive c14n;
- signature algorithms RSA PKCS#1 v1.5 / PSS and ECDSA with SHA-256/384/512; digests
  SHA-256/384/512. Anything else (SHA-1 above all) is CRYPTO_CONSTRAINTS_FAILURE, as is an
  RSA key under 2048 bits. signxml 5 has no Ed25519 and no SM2: those keys sign licenses
  with the detached envelope (``signing.detached``);
- ``KeyInfo/X509Data`` carries only X509Certificate elements, the signing certificate
  first, then any helpers for path building. A ``KeyValue``/``DEREncodedKeyValue`` is
  tolerated only if it is the same key; ``KeyName`` is ignored; nothing else is accepted.
  The signing certificate must hold an RSA or EC key cryptography can load;
- SignatureValue and DigestValue are non-empty strict base64, nothing inside the
  Signature is a comment or processing instruction (they would split the text a verifier
  reads), and only whitespace may follow the Signature inside the root.

Anything outside the profile is refused with FORMAT_FAILURE (CRYPTO_CONSTRAINTS_FAILURE
for algorithms) before any cryptography, whichever engine runs; there is no fallback to a
more general verifier.

Two engines judge the signature value and the digest, with the same pins and the same
outcomes: ``"lean"`` (default, :mod:`signing.xmldsig_lean`: lxml c14n and cryptography on
the tree already parsed, several times cheaper) and ``"signxml"``, kept as the reference
implementation for tests and diagnostics (``tongyuan verify`` results can be re-checked
with it). signxml is handed the certificate we extracted (never a CA file, never the
system store). The chain is validated by :meth:`signing.trust.TrustStore.validate` at the
signing time the signature covers. The license fields are read from the canonical bytes
that were digested, re-parsed — never from the document as received.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import InvalidDigest, InvalidInput, InvalidSignature, SignXMLException

from signing.algorithms import certificate_spki, check_crypto_constraints, parse_algorithm
from signing.keys import SigningKey
from signing.license_xml import (
    ROOT_TAG,
    SIGNED_ID,
    SignedContentError,
    SignedLicense,
    parse_license_document,
    prepare_for_signing,
    read_signed_license,
    safe_parser,
)
from signing.report import Check, Indication, SubIndication, VerificationReport, most_severe
from signing.trust import authority_key, parse_certificate
from signing.xmldsig_lean import (
    Failure,
    SignatureFailure,
    SignedContent,
    signer_public_key,
    verify_enveloped,
)
from standards.formats import UnreadableInput, UnsafeInput

if TYPE_CHECKING:
    from signing.trust import TrustStore

FORMAT = "xmldsig"
DS = "http://www.w3.org/2000/09/xmldsig#"
DSIG11 = "http://www.w3.org/2009/xmldsig11#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0.value
# How far a signing time may lie ahead of the verifier's clock (clock skew between hosts).
MAX_CLOCK_SKEW = timedelta(minutes=5)

_NS = {"ds": DS, "dsig11": DSIG11}
Engine = Literal["lean", "signxml"]
ENGINES: tuple[Engine, ...] = ("lean", "signxml")
_DS_PREFIX = f"{{{DS}}}"
_TRANSFORM = f"{{{DS}}}Transform"
_X509_CERTIFICATE = f"{{{DS}}}X509Certificate"
_KEY_INFO_PARTS = frozenset({"X509Data", "KeyName", "KeyValue", f"{{{DSIG11}}}DEREncodedKeyValue"})
# Every element signxml could resolve "#v" to: any attribute named Id, ID or id, in any
# namespace (xml:id included), as signxml's own lookup does.
_ID_HOLDERS = etree.XPath(
    "//*[@*[local-name() = 'Id' or local-name() = 'ID' or local-name() = 'id'] = $v]"
)

# Signature method URI -> our algorithm name. Names with sha1 are listed so that the
# constraints check can name what it refuses.
_METHOD_NAMES: dict[str, str] = {
    SignatureMethod.RSA_SHA256.value: "rsa-pkcs1v15-sha256",
    SignatureMethod.RSA_SHA384.value: "rsa-pkcs1v15-sha384",
    SignatureMethod.RSA_SHA512.value: "rsa-pkcs1v15-sha512",
    SignatureMethod.SHA256_RSA_MGF1.value: "rsa-pss-sha256",
    SignatureMethod.SHA384_RSA_MGF1.value: "rsa-pss-sha384",
    SignatureMethod.SHA512_RSA_MGF1.value: "rsa-pss-sha512",
    SignatureMethod.ECDSA_SHA256.value: "ecdsa-sha256",
    SignatureMethod.ECDSA_SHA384.value: "ecdsa-sha384",
    SignatureMethod.ECDSA_SHA512.value: "ecdsa-sha512",
    SignatureMethod.RSA_SHA1.value: "rsa-pkcs1v15-sha1",
    SignatureMethod.ECDSA_SHA1.value: "ecdsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-md5": "rsa-pkcs1v15-md5",
}
_DIGESTS: dict[str, DigestAlgorithm] = {
    DigestAlgorithm.SHA256.value: DigestAlgorithm.SHA256,
    DigestAlgorithm.SHA384.value: DigestAlgorithm.SHA384,
    DigestAlgorithm.SHA512.value: DigestAlgorithm.SHA512,
}
_DIGEST_OF_HASH = {
    "sha256": DigestAlgorithm.SHA256,
    "sha384": DigestAlgorithm.SHA384,
    "sha512": DigestAlgorithm.SHA512,
}
_DIGEST_NAMES = {algorithm.value: name for name, algorithm in _DIGEST_OF_HASH.items()}
# Algorithm name -> (signature method, reference digest) for the methods the profile
# accepts; the reference digest is the signature's own hash.
_SIGNING_METHODS: dict[str, tuple[SignatureMethod, DigestAlgorithm]] = {
    name: (SignatureMethod(uri), _DIGEST_OF_HASH[parse_algorithm(name).digest])
    for uri, name in _METHOD_NAMES.items()
    if parse_algorithm(name).digest in _DIGEST_OF_HASH
}
_ACCEPTED_METHOD_URIS = frozenset(method.value for method, _ in _SIGNING_METHODS.values())
_CURVE_URIS = {
    "urn:oid:1.2.840.10045.3.1.7": ec.SECP256R1(),
    "urn:oid:1.3.132.0.34": ec.SECP384R1(),
    "urn:oid:1.3.132.0.35": ec.SECP521R1(),
}


class XmlSigningError(ValueError):
    """A license that cannot be signed as asked (key type, document layout)."""


# --- signing -------------------------------------------------------------------------


def sign_license_xml(
    xml: bytes,
    key: SigningKey,
    chain: Sequence[bytes],
    *,
    signing_time: datetime | None = None,
) -> bytes:
    """Sign a license document with an enveloped signature; returns the signed document.

    ``xml`` is an unsigned ``<signed_license>`` (see :mod:`signing.license_xml`) or a bare
    exchange-format ``<license>`` element. ``chain`` holds DER certificates, the signing
    certificate first. The signing time (default: now) is written into the signed element.
    """
    methods = _SIGNING_METHODS.get(key.algorithm)
    if methods is None:
        raise XmlSigningError(
            f"{key.algorithm} cannot sign XML licenses (signxml supports RSA and ECDSA "
            "with SHA-2); sign with the detached envelope instead"
        )
    if not chain:
        raise XmlSigningError("a certificate chain (signing certificate first) is required")
    certs = [_load_certificate(der) for der in chain]
    if certificate_spki(certs[0]) != key.public_key_spki():
        raise XmlSigningError("the first certificate of the chain is not the signing key's")
    root = parse_license_document(xml, source="<license to sign>")
    if root.find(f".//{{{DS}}}Signature") is not None:
        raise XmlSigningError("the document is already signed")
    try:
        root = prepare_for_signing(root, signing_time or datetime.now(UTC))
    except ValueError as exc:
        raise XmlSigningError(str(exc)) from None
    method, digest = methods
    signer = XMLSigner(
        signature_algorithm=method,
        digest_algorithm=digest,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signed = signer.sign(root, key=key.private_key, cert=certs, reference_uri=f"#{SIGNED_ID}")
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


# --- verification ----------------------------------------------------------------------


@dataclass
class LicenseVerification:
    """The report, and the license as signed.

    ``signed`` is set as soon as the signature value and digest hold, so that a license
    whose chain is INDETERMINATE (e.g. TRY_LATER) can be stored and re-checked later; it
    is the signer's content only, and trustworthy only when ``report.passed``
    (``trusted_license`` enforces that).
    """

    report: VerificationReport
    signed: SignedLicense | None = None

    @property
    def trusted_license(self) -> SignedLicense | None:
        """The signed content, or None unless the signature PASSED."""
        return self.signed if self.report.passed else None


def verify_license_xml(
    xml: bytes, trust: TrustStore, *, now: datetime | None = None, engine: Engine = "lean"
) -> VerificationReport:
    """Validate a signed license document; raises ``UnsafeInput``/``UnreadableInput`` for
    input that is refused before any signature processing (the CLI exits 2 on those)."""
    return read_verified_license_xml(xml, trust, now=now, engine=engine).report


def report_for_refused_input(exc: UnsafeInput | UnreadableInput) -> VerificationReport:
    """The FORMAT_FAILURE report to store for a document refused by the safe parser."""
    return VerificationReport.failure(
        SubIndication.FORMAT_FAILURE,
        [Check("safe_parsing", False, f"{exc.message} [{exc.rule}]")],
        format=FORMAT,
    )


class _Refused(Exception):
    def __init__(self, sub: SubIndication, check: Check) -> None:
        self.sub = sub
        self.check = check


@dataclass
class _Profile:
    signature: etree._Element
    method_uri: str
    algorithm: str
    digest: str  # hash name of the Reference's DigestMethod
    signer: x509.Certificate
    signer_der: bytes
    extra_ders: list[bytes]


def read_verified_license_xml(
    xml: bytes,
    trust: TrustStore,
    *,
    now: datetime | None = None,
    source: str = "<license xml>",
    engine: Engine = "lean",
) -> LicenseVerification:
    """Validate a signed license and return the report with the license as signed.

    A document outside the profile stops at FORMAT_FAILURE (nothing else can be read
    reliably). Otherwise every check runs, as for detached signatures, and the report
    shows the most severe failure (``signing.report.SEVERITY``); only the chain needs
    authentic content (its signing time), so it is skipped when the signature fails.
    ``engine`` picks who checks the signature value and digest (module docstring); both
    give the same report.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown XML-DSig engine {engine!r}; expected one of {ENGINES}")
    now = _aware(now or datetime.now(UTC))
    root = parse_license_document(xml, source=source)
    checks: list[Check] = []
    failures: list[SubIndication] = []
    context: dict[str, Any] = {}

    def record(check: Check, failure: SubIndication) -> None:
        checks.append(check)
        if check.passed is False:
            failures.append(failure)

    def report(signed: SignedLicense | None) -> LicenseVerification:
        if failures:
            return LicenseVerification(
                VerificationReport.failure(most_severe(failures), checks, format=FORMAT, **context),
                signed,
            )
        passed = VerificationReport(
            Indication.PASSED, None, format=FORMAT, checks=checks, **context
        )
        return LicenseVerification(passed, signed)

    try:
        profile = _check_profile(root)
    except _Refused as refused:
        record(refused.check, refused.sub)
        return report(None)
    checks.append(Check("format", True, "enveloped XML-DSig, one Reference to the root"))
    subject, fingerprint = _identity(profile.signer_der)
    context.update(signer=subject, signer_fingerprint=fingerprint, algorithm=profile.algorithm)
    try:
        checks.append(_check_key_values(profile))
    except _Refused as refused:
        record(refused.check, refused.sub)
    record(
        _crypto_constraints(profile.algorithm, profile.signer_der),
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
    )

    try:
        if engine == "signxml":
            content = _signxml_content(xml, profile)
        else:
            content = verify_enveloped(
                root,
                profile.signature,
                public_key=signer_public_key(profile.signer_der),
                algorithm=profile.algorithm,
                digest=profile.digest,
            )
    except SignatureFailure as failure:
        kind = failure.failure
        if kind is Failure.DIGEST:
            checks.append(
                Check("signature_value", True, f"{profile.algorithm} with the signer's key")
            )
            record(Check("reference_digest", False, failure.detail), SubIndication.HASH_FAILURE)
        elif kind is Failure.SIGNATURE_VALUE:
            record(
                Check("signature_value", False, failure.detail), SubIndication.SIG_CRYPTO_FAILURE
            )
            checks.append(
                Check("reference_digest", None, "not checked: the signature value failed")
            )
        else:
            record(Check(kind.value, False, failure.detail), SubIndication.FORMAT_FAILURE)
        return report(None)
    checks.append(Check("signature_value", True, f"{profile.algorithm} with the signer's key"))
    checks.append(Check("reference_digest", True, f"#{SIGNED_ID} unchanged"))

    try:
        signed = read_signed_license(content.root, content.data)
    except SignedContentError as exc:
        record(Check("signed_content", False, str(exc)), SubIndication.FORMAT_FAILURE)
        return report(None)
    context["signing_time"] = signed.signing_time
    future = signed.signing_time > now + MAX_CLOCK_SKEW
    record(
        Check(
            "signing_time",
            not future,
            f"{signed.signing_time.isoformat()}, covered by the signature"
            + (f"; after the validation time {now.isoformat()}" if future else ""),
        ),
        SubIndication.SIG_CONSTRAINTS_FAILURE,
    )
    # Anchors configured for the license's issuing authority (or for any authority).
    authority = authority_key(signed.fields.get("issuer_code"))
    chain = trust.validate(
        profile.signer_der, profile.extra_ders, at=signed.signing_time, authority=authority, now=now
    )
    checks.extend(chain.checks)
    if chain.subindication is not None:
        failures.append(chain.subindication)
    elif not chain.ok:
        failures.append(SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    return report(signed)


def _aware(moment: datetime) -> datetime:
    """A naive validation time is read as UTC (what ``datetime.now(UTC)`` would give)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _signxml_content(xml: bytes, profile: _Profile) -> SignedContent:
    """The reference engine: signxml's verdict in the lean engine's terms."""
    try:
        result = _signxml_verify(xml, profile)
    except InvalidDigest as exc:  # before InvalidSignature: it is a subclass
        raise SignatureFailure(Failure.DIGEST, str(exc)) from None
    except InvalidSignature as exc:
        raise SignatureFailure(Failure.SIGNATURE_VALUE, str(exc)) from None
    except (InvalidInput, SignXMLException, ValueError) as exc:
        raise SignatureFailure(Failure.FORMAT, f"signxml refused the signature: {exc}") from None
    if result.signed_xml is None:
        raise SignatureFailure(Failure.CONTENT, "the signed bytes are not XML")
    return SignedContent(result.signed_xml, result.signed_data)


def _signxml_verify(xml: bytes, profile: _Profile) -> Any:
    """Signature value and digest through signxml, pinned to what the profile allows.

    signxml would also judge the certificate's validity period at ``verification_time``;
    that is the trust store's job at the signed signing time (with EXPIRED/NOT_YET_VALID
    told apart), so signxml is given the first instant of the period, which is inside it.
    """
    method = SignatureMethod(profile.method_uri)
    digest_uri = profile.signature.find("ds:SignedInfo/ds:Reference/ds:DigestMethod", _NS)
    assert digest_uri is not None  # checked by the profile
    config = SignatureConfiguration(
        require_x509=True,
        location="./",
        expect_references=1,
        signature_methods=frozenset({method}),
        digest_algorithms=frozenset({_DIGESTS[digest_uri.get("Algorithm", "")]}),
        verification_time=profile.signer.not_valid_before_utc,
        # _check_key_values compared KeyValue with the certificate and recorded the result.
        ignore_ambiguous_key_info=True,
    )
    # The bytes, not our tree: signxml copies a tree by serialising and re-parsing it,
    # so handing it the bytes parses once instead of twice (same safe parser settings).
    return XMLVerifier().verify(
        xml,
        x509_cert=profile.signer,
        expect_config=config,
        parser=safe_parser(),
        validate_schema=False,  # _check_profile pinned the structure more tightly
    )


def _refuse(detail: str, sub: SubIndication = SubIndication.FORMAT_FAILURE) -> _Refused:
    name = "crypto_constraints" if sub is SubIndication.CRYPTO_CONSTRAINTS_FAILURE else "format"
    return _Refused(sub, Check(name, False, detail))


def _check_profile(root: etree._Element) -> _Profile:
    """The structural pins, checked before any cryptography (see the module docstring)."""
    if root.tag != ROOT_TAG:
        raise _refuse(f"root element is <{root.tag}>, expected <{ROOT_TAG}>")
    signatures = list(root.iter(f"{{{DS}}}Signature"))
    if not signatures:
        raise _refuse("no ds:Signature in the document")
    if len(signatures) > 1:
        raise _refuse(f"{len(signatures)} ds:Signature elements; exactly one is allowed")
    signature = signatures[0]
    if signature.getparent() is not root:
        raise _refuse("ds:Signature must be a direct child of the root (enveloped)")
    if (signature.tail or "").strip():
        raise _refuse("text follows ds:Signature inside the root; only whitespace may")
    if next(signature.iter(etree.Comment, etree.PI), None) is not None:
        raise _refuse("ds:Signature holds a comment or processing instruction")
    signed_info, signature_value, key_info = _children(
        signature, ("SignedInfo", "SignatureValue", "KeyInfo")
    )
    c14n_method, method, reference = _children(
        signed_info, ("CanonicalizationMethod", "SignatureMethod", "Reference")
    )
    transforms_element, digest_method, digest_value = _children(
        reference, ("Transforms", "DigestMethod", "DigestValue")
    )
    for leaf in (c14n_method, method, digest_method, signature_value, digest_value):
        if len(leaf):
            raise _refuse(f"{etree.QName(leaf).localname} must not have child elements")
    for value in (signature_value, digest_value):
        if not _strict_base64(value.text):
            raise _refuse(f"{etree.QName(value).localname} is not non-empty base64")
    c14n = c14n_method.get("Algorithm")
    if c14n != EXC_C14N:
        raise _refuse(f"SignedInfo canonicalization {c14n!r}; expected exclusive c14n")
    root_id = root.get("Id")
    if not root_id:
        raise _refuse("the root element has no Id attribute")
    if reference.get("URI") != f"#{root_id}":
        raise _refuse(
            f"the Reference points to {reference.get('URI')!r}, not to the root (#{root_id})"
        )
    holders = _ID_HOLDERS(root, v=root_id)
    if holders != [root]:
        raise _refuse(f"Id {root_id!r} names {len(holders)} elements; it must name the root only")
    transform_elements = list(transforms_element)
    transforms = [t.get("Algorithm") if t.tag == _TRANSFORM else t.tag for t in transform_elements]
    if transforms != [ENVELOPED, EXC_C14N] or any(len(t) for t in transform_elements):
        raise _refuse(f"Reference transforms {transforms}; expected enveloped-signature, exc-c14n")
    digest = digest_method.get("Algorithm") or ""
    if digest not in _DIGESTS:
        raise _refuse(
            f"digest algorithm {digest!r} is not accepted (SHA-256/384/512 only)",
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
        )
    method_uri = method.get("Algorithm") or ""
    algorithm = _METHOD_NAMES.get(method_uri)
    if algorithm is None or method_uri not in _ACCEPTED_METHOD_URIS:
        raise _refuse(
            f"signature method {method_uri!r} ({algorithm or 'unknown'}) is not accepted",
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
        )
    key_info_parts = [
        etree.QName(e).localname if e.tag.startswith(_DS_PREFIX) else e.tag
        for e in key_info
        if isinstance(e.tag, str)
    ]
    x509_data = key_info.findall("ds:X509Data", _NS)
    if len(x509_data) != 1:
        raise _refuse(f"KeyInfo holds {len(x509_data)} X509Data elements; exactly one is required")
    unexpected = set(key_info_parts) - _KEY_INFO_PARTS
    if unexpected:
        raise _refuse(f"KeyInfo holds elements this profile does not accept: {sorted(unexpected)}")
    certificates = list(x509_data[0])
    if any(e.tag != _X509_CERTIFICATE for e in certificates):
        raise _refuse("X509Data may hold only X509Certificate elements")
    ders: list[bytes] = []
    for element in certificates:
        der = _certificate_der(element.text or "")
        if der is None:
            raise _refuse("an X509Certificate is not base64")
        ders.append(der)
    if not ders:
        raise _refuse("X509Data carries no X509Certificate (the signing certificate is required)")
    try:
        signer = _parsed_certificate(ders[0])
    except ValueError as exc:
        raise _refuse(f"the signing certificate cannot be read: {exc}") from None
    try:
        signer_public_key(ders[0])
    except SignatureFailure as failure:
        raise _refuse(failure.detail) from None
    return _Profile(
        signature, method_uri, algorithm, _DIGEST_NAMES[digest], signer, ders[0], ders[1:]
    )


@lru_cache(maxsize=512)
def _certificate_der(text: str) -> bytes | None:
    """DER of an X509Certificate's base64 text, None if it is not base64. Cached by text:
    every license of one signer carries the same two or three certificates."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _strict_base64(text: str | None) -> bool:
    compact = "".join((text or "").split())
    if not compact:
        return False
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _children(parent: etree._Element, names: tuple[str, ...]) -> list[etree._Element]:
    """The element children of ``parent``, which must be exactly ``names`` (ds:) in order.

    Stricter than the XML-DSig schema (which signxml is therefore not asked to check):
    nothing optional, nothing repeated, nothing unsigned tucked into the signature.
    """
    found = [child for child in parent if isinstance(child.tag, str)]
    if [child.tag for child in found] != [f"{{{DS}}}{name}" for name in names]:
        got = [etree.QName(child).localname for child in found]
        expected = ", ".join(names)
        raise _refuse(f"{etree.QName(parent).localname} holds {got}; expected {expected}")
    return found


def _only(parent: etree._Element, path: str) -> etree._Element:
    found = parent.findall(path, _NS)
    if len(found) != 1:
        raise _refuse(
            f"{len(found)} {path} elements in {etree.QName(parent).localname}; one required"
        )
    return found[0]


def _check_key_values(profile: _Profile) -> Check:
    """A KeyValue beside X509Data must be the certificate's key, or the document is refused.

    Two keys in one KeyInfo let a verifier and an auditor disagree about who signed.
    """
    key_info = _only(profile.signature, "ds:KeyInfo")
    seen = 0
    cert_spki = b""
    for element in key_info:
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if local == "KeyValue":
            spki = _key_value_spki(element)
        elif local == "DEREncodedKeyValue":
            spki = _der_key_value_spki(element)
        else:
            continue
        seen += 1
        cert_spki = cert_spki or signer_public_key(profile.signer_der).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if spki != cert_spki:
            raise _refuse(f"KeyInfo/{local} is not the public key of the X509Data certificate")
    detail = "KeyValue matches the certificate" if seen else "key from X509Data only"
    return Check("key_info", True, detail)


def _key_value_spki(key_value: etree._Element) -> bytes:
    children = [c for c in key_value if isinstance(c.tag, str)]
    if len(children) != 1:
        raise _refuse("KeyValue must hold exactly one key")
    inner = children[0]
    try:
        if inner.tag == f"{{{DS}}}RSAKeyValue":
            modulus = _b64_int(_only(inner, "ds:Modulus"))
            exponent = _b64_int(_only(inner, "ds:Exponent"))
            key: Any = rsa.RSAPublicNumbers(exponent, modulus).public_key()
        elif inner.tag == f"{{{DSIG11}}}ECKeyValue":
            curve = _CURVE_URIS.get(_only(inner, "dsig11:NamedCurve").get("URI") or "")
            if curve is None:
                raise _refuse("ECKeyValue names a curve this profile does not accept")
            point = base64.b64decode(_only(inner, "dsig11:PublicKey").text or "", validate=True)
            key = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        else:
            raise _refuse(f"KeyValue holds <{etree.QName(inner).localname}>, not RSA or EC")
    except (binascii.Error, ValueError, UnsupportedAlgorithm) as exc:
        raise _refuse(f"KeyValue cannot be read: {exc}") from None
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _der_key_value_spki(element: etree._Element) -> bytes:
    try:
        der = base64.b64decode("".join((element.text or "").split()), validate=True)
        key = serialization.load_der_public_key(der)
    except (binascii.Error, ValueError, UnsupportedAlgorithm) as exc:
        raise _refuse(f"DEREncodedKeyValue cannot be read: {exc}") from None
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _b64_int(element: etree._Element) -> int:
    raw = base64.b64decode("".join((element.text or "").split()), validate=True)
    return int.from_bytes(raw, "big")


def _crypto_constraints(algorithm: str, signer_der: bytes) -> Check:
    """The constraints check for one signer; a fresh Check each time (callers rename them)."""
    passed, detail = _cached_constraints(algorithm, signer_der)
    return Check("crypto_constraints", passed, detail)


@lru_cache(maxsize=512)
def _cached_constraints(algorithm: str, signer_der: bytes) -> tuple[bool | None, str]:
    check = check_crypto_constraints(algorithm, certificate_spki(_load_certificate(signer_der)))
    return check.passed, check.detail


@lru_cache(maxsize=512)
def _identity(cert_der: bytes) -> tuple[str, str]:
    """Subject DN and SHA-256 fingerprint of a certificate, as reports name the signer."""
    return _load_certificate(cert_der).subject.rfc4514_string(), hashlib.sha256(
        cert_der
    ).hexdigest()


@lru_cache(maxsize=512)
def _parsed_certificate(der: bytes) -> x509.Certificate:
    """A carried certificate parsed in full (cryptography parses fields lazily, and a
    broken subject must be a FORMAT_FAILURE here, not an exception when it is named)."""
    return parse_certificate(der)


@lru_cache(maxsize=512)
def _load_certificate(der: bytes) -> x509.Certificate:
    """Parsed certificates by DER: the same few issuing certificates sign every license."""
    return x509.load_der_x509_certificate(der)
