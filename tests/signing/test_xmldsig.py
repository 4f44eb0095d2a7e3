"""XML-DSig e-licenses: round trips, the pinned profile, and the attacks of issue 6.

Every attack asserts the report is never PASSED and, where EN 319 102-1 defines one, the
exact sub-indication. Chains come from the session PKI in conftest.py.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from signing_pki import Revocation
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from std_factories import AUTHORITY, PERSON, make_license

from signing.keys import SigningKey
from signing.license_xml import BEIJING, build_license_document
from signing.report import Indication, SubIndication
from signing.xmldsig import (
    DS,
    DSIG11,
    XmlSigningError,
    read_verified_license_xml,
    report_for_refused_input,
    sign_license_xml,
    verify_license_xml,
)
from standards.formats import UnreadableInput, UnsafeInput

NS = {"ds": DS}


@pytest.fixture(scope="module")
def signing_time(test_pki):
    return test_pki.now - timedelta(days=1)


@pytest.fixture(scope="module")
def document():
    return build_license_document(make_license())


@pytest.fixture(scope="module")
def signed(test_pki, document, signing_time):
    key, chain = test_pki.signer("ecdsa")
    return sign_license_xml(document, key, chain, signing_time=signing_time)


def verify(xml, test_pki, trust=None):
    return verify_license_xml(xml, trust or test_pki.trust, now=test_pki.now)


def assert_not_passed(report, sub):
    assert report.indication is not Indication.PASSED
    assert not report.passed
    assert report.subindication is sub, report.to_dict()
    assert report.indication is sub.indication


def failed_checks(report):
    return [c for c in report.checks if c.passed is False]


def tree(xml: bytes):
    return etree.fromstring(xml)


def dump(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "algorithm"),
    [
        ("ecdsa", None),
        ("rsa", None),
        ("rsa", "rsa-pss-sha256"),
        ("rsa", "rsa-pkcs1v15-sha512"),
    ],
)
def test_signed_license_passes_and_returns_the_signed_fields(
    test_pki, document, signing_time, family, algorithm
):
    key, chain = test_pki.signer(family)
    if algorithm:
        key = SigningKey.from_private_key(key.private_key, algorithm)
    xml = sign_license_xml(document, key, chain, signing_time=signing_time)

    result = read_verified_license_xml(xml, test_pki.trust, now=test_pki.now)

    report = result.report
    assert report.indication is Indication.PASSED, report.to_dict()
    assert report.subindication is None
    assert report.format == "xmldsig"
    assert report.algorithm == key.algorithm
    assert report.signing_time == signing_time
    leaf = x509.load_der_x509_certificate(chain[0])
    assert report.signer == leaf.subject.rfc4514_string()
    names = [c.name for c in report.checks]
    assert {"format", "signature_value", "reference_digest", "chain_building"} <= set(names)
    assert any(n.startswith("revocation:") for n in names)
    record, findings = result.trusted_license.record()
    assert findings == []
    assert record == make_license()


def test_signer_fingerprint_is_sha256_of_the_certificate(test_pki, signed):
    report = verify(signed, test_pki)
    _, chain = test_pki.signer("ecdsa")
    assert report.signer_fingerprint == hashlib.sha256(chain[0]).hexdigest()


def test_signing_time_is_written_in_beijing_time_inside_the_signed_element(signed, signing_time):
    root = tree(signed)
    assert root.tag == "signed_license" and root.get("Id") == "signed-license"
    assert [c.tag for c in root][:2] == ["license", "signing_time"]
    assert root.findtext("signing_time") == signing_time.astimezone(BEIJING).isoformat()
    reference = root.find("ds:Signature/ds:SignedInfo/ds:Reference", NS)
    assert reference.get("URI") == "#signed-license"


def test_a_bare_license_element_is_wrapped_and_signed(test_pki, signing_time):
    bare = etree.tostring(tree(build_license_document(make_license())).find("license"))
    key, chain = test_pki.signer("ecdsa")
    xml = sign_license_xml(bare, key, chain, signing_time=signing_time)
    assert verify(xml, test_pki).passed


def test_the_signer_stamps_its_own_signing_time(test_pki, signing_time):
    stale = build_license_document(make_license(), signing_time=signing_time - timedelta(days=99))
    key, chain = test_pki.signer("ecdsa")
    xml = sign_license_xml(stale, key, chain, signing_time=signing_time)
    result = read_verified_license_xml(xml, test_pki.trust, now=test_pki.now)
    assert result.report.passed
    assert result.signed.signing_time == signing_time
    assert len(tree(xml).findall("signing_time")) == 1


@pytest.mark.parametrize("family", ["ed25519", "sm2"])
def test_keys_signxml_cannot_use_are_refused_at_signing(test_pki, document, family):
    key, chain = test_pki.signer(family)
    with pytest.raises(XmlSigningError, match="detached"):
        sign_license_xml(document, key, chain)


def test_a_chain_that_does_not_start_with_the_signing_certificate_is_refused(test_pki, document):
    key, _ = test_pki.signer("ecdsa")
    _, other_chain = test_pki.signer("rsa")
    with pytest.raises(XmlSigningError, match="first certificate"):
        sign_license_xml(document, key, other_chain)


def test_an_already_signed_document_is_not_signed_again(test_pki, signed):
    key, chain = test_pki.signer("ecdsa")
    with pytest.raises(XmlSigningError, match="already signed"):
        sign_license_xml(signed, key, chain)


# --- content and signature value -------------------------------------------------------


def test_altered_content_is_hash_failure(test_pki, signed):
    root = tree(signed)
    root.find("license/holder_name").text = "李四"
    report = verify(dump(root), test_pki)
    assert_not_passed(report, SubIndication.HASH_FAILURE)
    assert report.indication is Indication.FAILED


def test_altered_signing_time_is_hash_failure(test_pki, signed):
    """The signing time is covered: moving it back (into a certificate's validity) breaks it."""
    root = tree(signed)
    root.find("signing_time").text = "2020-01-01T00:00:00+08:00"
    assert_not_passed(verify(dump(root), test_pki), SubIndication.HASH_FAILURE)


def test_altered_signature_value_is_sig_crypto_failure(test_pki, signed):
    root = tree(signed)
    value = root.find("ds:Signature/ds:SignatureValue", NS)
    raw = bytearray(base64.b64decode(value.text))
    raw[5] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode()
    assert_not_passed(verify(dump(root), test_pki), SubIndication.SIG_CRYPTO_FAILURE)


def test_comment_inside_a_field_cannot_truncate_what_is_read(test_pki, signed):
    """Comments are not signed (exc-c14n): the fields come from the signed bytes, whole."""
    root = tree(signed)
    holder = root.find("license/holder_name")
    text = holder.text
    holder.text = text[0]
    comment = etree.Comment(" split ")
    comment.tail = text[1:]
    holder.append(comment)
    result = read_verified_license_xml(dump(root), test_pki.trust, now=test_pki.now)
    assert result.report.passed
    assert result.signed.fields["holder_name"] == text == "张伟"


# --- trust -----------------------------------------------------------------------------


def test_signature_from_an_untrusted_root_has_no_chain(test_pki, document, signing_time):
    h = test_pki.untrusted
    xml = sign_license_xml(document, h.issuing.signing_key, h.chain, signing_time=signing_time)
    result = read_verified_license_xml(xml, test_pki.trust, now=test_pki.now)
    assert_not_passed(result.report, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    assert result.trusted_license is None


def test_anchors_for_another_authority_do_not_vouch_for_this_issuer(
    test_pki, signed, tmp_path: Path
):
    other = test_pki.write_trust(tmp_path / "other", authority="91440300MA5FXXXX0Y")
    assert_not_passed(verify(signed, test_pki, other), SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    own = test_pki.write_trust(tmp_path / "own", authority=AUTHORITY)
    assert verify(signed, test_pki, own).passed


def test_expired_certificate_at_signing_time(test_pki, document):
    now = test_pki.now
    key, chain, _ = test_pki.issue(
        not_before=now - timedelta(days=60), not_after=now - timedelta(days=10)
    )
    xml = sign_license_xml(document, key, chain, signing_time=now - timedelta(days=2))
    assert_not_passed(verify(xml, test_pki), SubIndication.EXPIRED)


def test_not_yet_valid_certificate_at_signing_time(test_pki, document):
    now = test_pki.now
    key, chain, _ = test_pki.issue(not_before=now - timedelta(days=1))
    xml = sign_license_xml(document, key, chain, signing_time=now - timedelta(days=3))
    assert_not_passed(verify(xml, test_pki), SubIndication.NOT_YET_VALID)


def test_certificate_expired_since_signing_still_passes(test_pki, document):
    """Validity is judged at the signed signing time, not at validation time."""
    now = test_pki.now
    key, chain, _ = test_pki.issue(
        not_before=now - timedelta(days=60), not_after=now - timedelta(days=10)
    )
    xml = sign_license_xml(document, key, chain, signing_time=now - timedelta(days=20))
    report = verify(xml, test_pki)
    assert report.passed, report.to_dict()


def test_revoked_certificate(test_pki, document, tmp_path: Path):
    now = test_pki.now
    key, chain, leaf = test_pki.issue()
    trust = test_pki.write_trust(
        tmp_path / "trust",
        revocations=[Revocation("ecdsa", leaf.cert, now - timedelta(days=5))],
    )
    xml = sign_license_xml(document, key, chain, signing_time=now - timedelta(days=1))
    assert_not_passed(verify(xml, test_pki, trust), SubIndication.REVOKED)


def test_every_check_runs_and_the_most_severe_failure_is_reported(
    test_pki, document, tmp_path: Path
):
    now = test_pki.now
    key, chain, leaf = test_pki.issue("rsa", key_kind="rsa1024")
    trust = test_pki.write_trust(
        tmp_path / "trust", revocations=[Revocation("rsa", leaf.cert, now - timedelta(days=5))]
    )
    xml = sign_license_xml(document, key, chain, signing_time=now - timedelta(days=1))
    report = verify(xml, test_pki, trust)
    assert_not_passed(report, SubIndication.REVOKED)  # more severe than RSA-1024
    failed = {c.name.partition(":")[0] for c in failed_checks(report)}
    assert {"crypto_constraints", "revocation"} <= failed


def test_stale_crl_is_try_later_and_the_content_is_kept_untrusted(test_pki, signed, tmp_path: Path):
    now = test_pki.now
    trust = test_pki.write_trust(
        tmp_path / "stale",
        crl_this_update=now - timedelta(days=10),
        crl_next_update=now - timedelta(days=3),
    )
    result = read_verified_license_xml(signed, trust, now=now)
    assert_not_passed(result.report, SubIndication.TRY_LATER)
    assert result.report.indication is Indication.INDETERMINATE
    assert result.signed is not None and result.trusted_license is None


def test_signing_time_in_the_future_is_not_accepted(test_pki, document):
    key, chain = test_pki.signer("ecdsa")
    xml = sign_license_xml(document, key, chain, signing_time=test_pki.now + timedelta(days=2))
    assert_not_passed(verify(xml, test_pki), SubIndication.SIG_CONSTRAINTS_FAILURE)


# --- algorithms ------------------------------------------------------------------------


class _Sha1Signer(XMLSigner):
    """signxml refuses to make SHA-1 signatures; an attacker's tool would not."""

    def check_deprecated_methods(self) -> None:
        return None


def _sign_raw(root, key, chain, *, method, digest, c14n=None, reference="#signed-license"):
    signer = _Sha1Signer(
        signature_algorithm=method,
        digest_algorithm=digest,
        c14n_algorithm=c14n or CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    certs = [x509.load_der_x509_certificate(d) for d in chain]
    return dump(signer.sign(root, key=key.private_key, cert=certs, reference_uri=reference))


def _unsigned_root(signing_time):
    return tree(build_license_document(make_license(), signing_time=signing_time))


@pytest.mark.parametrize(
    ("family", "method", "digest"),
    [
        ("rsa", SignatureMethod.RSA_SHA1, DigestAlgorithm.SHA1),
        ("ecdsa", SignatureMethod.ECDSA_SHA1, DigestAlgorithm.SHA256),
        ("ecdsa", SignatureMethod.ECDSA_SHA256, DigestAlgorithm.SHA1),
    ],
)
def test_sha1_anywhere_is_crypto_constraints_failure(
    test_pki, signing_time, family, method, digest
):
    key, chain = test_pki.signer(family)
    xml = _sign_raw(_unsigned_root(signing_time), key, chain, method=method, digest=digest)
    report = verify(xml, test_pki)
    assert_not_passed(report, SubIndication.CRYPTO_CONSTRAINTS_FAILURE)
    assert "SHA1" in str(report.to_dict()["checks"]).upper().replace("-", "")


@pytest.mark.parametrize(
    "method",
    [
        "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
        "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
        "http://www.w3.org/2009/xmldsig11#dsa-sha256",
        "urn:example:unknown",
    ],
)
def test_signature_methods_outside_the_profile_are_refused_before_any_crypto(
    test_pki, signed, method
):
    root = tree(signed)
    root.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", NS).set("Algorithm", method)
    report = verify(dump(root), test_pki)
    assert_not_passed(report, SubIndication.CRYPTO_CONSTRAINTS_FAILURE)
    assert [c.name for c in report.checks] == ["crypto_constraints"]


def test_rsa_1024_is_crypto_constraints_failure(test_pki, document, signing_time):
    key, chain, _ = test_pki.issue("rsa", key_kind="rsa1024")
    xml = sign_license_xml(document, key, chain, signing_time=signing_time)
    report = verify(xml, test_pki)
    assert_not_passed(report, SubIndication.CRYPTO_CONSTRAINTS_FAILURE)
    (failed,) = failed_checks(report)
    assert failed.name == "crypto_constraints" and "1024" in failed.detail


def test_other_canonicalization_is_refused(test_pki, signing_time):
    key, chain = test_pki.signer("ecdsa")
    xml = _sign_raw(
        _unsigned_root(signing_time),
        key,
        chain,
        method=SignatureMethod.ECDSA_SHA256,
        digest=DigestAlgorithm.SHA256,
        c14n=CanonicalizationMethod.CANONICAL_XML_1_1,
    )
    assert_not_passed(verify(xml, test_pki), SubIndication.FORMAT_FAILURE)


def test_a_second_reference_is_refused(test_pki, signing_time):
    root = _unsigned_root(signing_time)
    root.find("license").set("Id", "inner")
    key, chain = test_pki.signer("ecdsa")
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    certs = [x509.load_der_x509_certificate(d) for d in chain]
    xml = dump(
        signer.sign(
            root, key=key.private_key, cert=certs, reference_uri=["#signed-license", "#inner"]
        )
    )
    report = verify(xml, test_pki)
    assert_not_passed(report, SubIndication.FORMAT_FAILURE)
    assert "'Reference', 'Reference'" in report.checks[0].detail


def test_an_extra_transform_is_refused(test_pki, signed):
    """Transforms are not covered by the digest they describe; an XPath one could hide content."""
    root = tree(signed)
    transforms = root.find("ds:Signature/ds:SignedInfo/ds:Reference/ds:Transforms", NS)
    xpath = etree.SubElement(
        transforms, f"{{{DS}}}Transform", Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"
    )
    etree.SubElement(xpath, f"{{{DS}}}XPath").text = "not(ancestor-or-self::license)"
    report = verify(dump(root), test_pki)
    assert_not_passed(report, SubIndication.FORMAT_FAILURE)
    assert "transforms" in report.checks[0].detail


@pytest.mark.parametrize(
    "extra",
    [
        f'<ds:RetrievalMethod xmlns:ds="{DS}" URI="http://127.0.0.1:9/key"/>',
        f'<ds:X509Data xmlns:ds="{DS}"><ds:X509SKI>AAAA</ds:X509SKI></ds:X509Data>',
    ],
    ids=["retrieval-method", "second-x509data"],
)
def test_key_info_parts_outside_the_profile_are_refused(test_pki, signed, extra):
    root = tree(signed)
    root.find("ds:Signature/ds:KeyInfo", NS).append(etree.fromstring(extra))
    assert_not_passed(verify(dump(root), test_pki), SubIndication.FORMAT_FAILURE)


# --- signature wrapping ----------------------------------------------------------------


def _forged_license(root) -> etree._Element:
    forged = copy.deepcopy(root.find("license"))
    forged.find("holder_name").text = "王五"
    return forged


def test_wrapping_unsigned_copy_beside_the_signed_element(test_pki, signed):
    """A forged root carrying the same Id as the (moved) signed original."""
    original = tree(signed)
    signature = original.find("ds:Signature", NS)
    original.remove(signature)
    evil = etree.Element("signed_license", version="1", Id="signed-license")
    evil.append(_forged_license(original))
    evil.append(copy.deepcopy(original.find("signing_time")))
    evil.append(original)  # the genuine element, with the same Id, beside the forged fields
    evil.append(signature)
    result = read_verified_license_xml(dump(evil), test_pki.trust, now=test_pki.now)
    assert_not_passed(result.report, SubIndication.FORMAT_FAILURE)
    assert result.signed is None


def test_wrapping_signed_element_moved_under_another_parent(test_pki, signed):
    """The reference still resolves (signxml alone accepts it), but not to the root."""
    original = tree(signed)
    signature = original.find("ds:Signature", NS)
    original.remove(signature)
    evil = etree.Element("signed_license", version="1", Id="forged")
    evil.append(_forged_license(original))
    evil.append(copy.deepcopy(original.find("signing_time")))
    holder = etree.SubElement(evil, "archive")
    holder.append(original)
    evil.append(signature)
    xml = dump(evil)

    # The attack is real: a verifier that does not pin the reference accepts it.
    _, chain = test_pki.signer("ecdsa")
    cert = x509.load_der_x509_certificate(chain[0])
    plain = XMLVerifier().verify(
        xml,
        x509_cert=cert,
        expect_config=SignatureConfiguration(verification_time=test_pki.now),
    )
    assert plain.signed_xml is not None

    result = read_verified_license_xml(xml, test_pki.trust, now=test_pki.now)
    assert_not_passed(result.report, SubIndication.FORMAT_FAILURE)
    assert "not to the root" in result.report.checks[0].detail
    assert result.signed is None


def test_wrapping_signed_element_moved_into_a_ds_object(test_pki, signed):
    original = tree(signed)
    signature = original.find("ds:Signature", NS)
    original.remove(signature)
    evil = etree.Element("signed_license", version="1", Id="forged")
    evil.append(_forged_license(original))
    evil.append(copy.deepcopy(original.find("signing_time")))
    obj = etree.SubElement(signature, f"{{{DS}}}Object")
    obj.append(original)
    evil.append(signature)
    result = read_verified_license_xml(dump(evil), test_pki.trust, now=test_pki.now)
    assert_not_passed(result.report, SubIndication.FORMAT_FAILURE)
    assert result.signed is None


def test_wrapping_signed_document_nested_in_a_forged_root(test_pki, signed):
    original = tree(signed)
    evil = etree.Element("signed_license", version="1")
    evil.append(_forged_license(original))
    evil.append(original)  # signature and all, one level down
    assert_not_passed(verify(dump(evil), test_pki), SubIndication.FORMAT_FAILURE)


# --- KeyInfo ---------------------------------------------------------------------------


def _ec_key_value(public_key: ec.EllipticCurvePublicKey) -> etree._Element:
    key_value = etree.Element(f"{{{DS}}}KeyValue")
    ec_value = etree.SubElement(key_value, f"{{{DSIG11}}}ECKeyValue")
    etree.SubElement(ec_value, f"{{{DSIG11}}}NamedCurve", URI="urn:oid:1.2.840.10045.3.1.7")
    point = public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    etree.SubElement(ec_value, f"{{{DSIG11}}}PublicKey").text = base64.b64encode(point).decode()
    return key_value


def test_key_value_disagreeing_with_x509_data_fails(test_pki, signed):
    root = tree(signed)
    key_info = root.find("ds:Signature/ds:KeyInfo", NS)
    key_info.insert(0, _ec_key_value(ec.generate_private_key(ec.SECP256R1()).public_key()))
    report = verify(dump(root), test_pki)
    assert_not_passed(report, SubIndication.FORMAT_FAILURE)
    assert report.indication is Indication.FAILED
    (failed,) = failed_checks(report)
    assert failed.name == "format" and "KeyValue" in failed.detail
    # Everything else still ran: the signature itself and the chain are fine.
    assert {"signature_value", "reference_digest", "chain_building"} <= {
        c.name for c in report.checks if c.passed
    }


def test_key_value_equal_to_the_certificate_key_is_accepted(test_pki, signed):
    root = tree(signed)
    key, _ = test_pki.signer("ecdsa")
    root.find("ds:Signature/ds:KeyInfo", NS).insert(0, _ec_key_value(key.private_key.public_key()))
    report = verify(dump(root), test_pki)
    assert report.passed, report.to_dict()


def test_signing_certificate_must_come_first_in_x509_data(test_pki, signed):
    root = tree(signed)
    data = root.find("ds:Signature/ds:KeyInfo/ds:X509Data", NS)
    first, _second = list(data)
    data.remove(first)
    data.append(first)
    assert verify(dump(root), test_pki).subindication is SubIndication.SIG_CRYPTO_FAILURE


def test_missing_x509_data_is_format_failure(test_pki, signed):
    root = tree(signed)
    key_info = root.find("ds:Signature/ds:KeyInfo", NS)
    key_info.remove(key_info.find("ds:X509Data", NS))
    assert_not_passed(verify(dump(root), test_pki), SubIndication.FORMAT_FAILURE)


# --- unsafe and unreadable input ------------------------------------------------------


def test_xxe_inside_the_license_is_refused(test_pki, signed, tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    text = signed.decode()
    head, body = text.split("?>", 1)
    body = body.replace("<holder_name>张伟</holder_name>", "<holder_name>&xxe;</holder_name>")
    xxe = f'{head}?>\n<!DOCTYPE signed_license [<!ENTITY xxe SYSTEM "file://{secret}">]>{body}'
    with pytest.raises(UnsafeInput) as refused:
        verify(xxe.encode(), test_pki)
    assert "DOCTYPE" in refused.value.message
    assert "TOP SECRET" not in str(refused.value)
    report = report_for_refused_input(refused.value)
    assert_not_passed(report, SubIndication.FORMAT_FAILURE)
    assert report.to_dict()["checks"][0]["name"] == "safe_parsing"


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<signed_license>&b;</signed_license>",
        b'<!DOCTYPE signed_license SYSTEM "http://127.0.0.1:9/dtd"><signed_license/>',
        b"<signed_license><license><holder_name>&unknown;</holder_name></license></signed_license>",
        b'<signed_license xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<xi:include href="/etc/passwd" parse="text"/></signed_license>',
        b"<signed_license>" + b"<a>" * 20 + b"</a>" * 20 + b"</signed_license>",
    ],
    ids=["entity-expansion", "external-dtd", "undeclared-entity", "xinclude", "too-deep"],
)
def test_unsafe_input_is_refused(test_pki, payload):
    with pytest.raises(UnsafeInput):
        verify(payload, test_pki)


def test_a_document_over_one_mebibyte_is_refused(test_pki, signed):
    padded = signed.replace(b"</signed_license>", b" " * (1024 * 1024) + b"</signed_license>")
    with pytest.raises(UnsafeInput, match="over the limit"):
        verify(padded, test_pki)


@pytest.mark.parametrize(
    "payload",
    [b"<signed_license><license>", b"\xff\xfe<\x00a\x00/\x00>\x00", b"not xml at all"],
    ids=["truncated", "utf16", "garbage"],
)
def test_unreadable_input_is_refused(test_pki, payload):
    with pytest.raises(UnreadableInput):
        verify(payload, test_pki)


def test_unsigned_document_is_format_failure(test_pki, document):
    report = verify(document, test_pki)
    assert_not_passed(report, SubIndication.FORMAT_FAILURE)
    assert "no ds:Signature" in report.checks[0].detail


def test_personal_id_never_appears_in_the_report(test_pki, signed):
    root = tree(signed)
    root.find("license/holder_name").text = "李四"
    for xml in (signed, dump(root)):
        assert PERSON not in str(verify(xml, test_pki).to_dict())
