"""The lean XML-DSig engine against signxml, the reference: same verdicts, same content.

Both engines run behind the same profile check and report code, so a disagreement can
only come from the signature value, the digest or the signed content they hand back.
Mutations are drawn by hypothesis: structural edits of a signed license (content,
signature parts, whitespace, comments, namespaces, attributes, order) and raw byte flips.
"""

from __future__ import annotations

import base64
import copy
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree
from signing_pki import GeneratedPki
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner
from std_factories import make_license

from signing.keys import SigningKey
from signing.license_xml import build_license_document, prepare_for_signing
from signing.report import Indication, SubIndication
from signing.xmldsig import DS, ENGINES, read_verified_license_xml, sign_license_xml
from signing.xmldsig_lean import Failure, SignatureFailure, signer_public_key, verify_enveloped
from standards.formats import UnreadableInput, UnsafeInput

NS = {"ds": DS}
SIGNERS = {
    "ecdsa-sha256": ("ecdsa", None),
    "ecdsa-sha512": ("ecdsa", "ecdsa-sha512"),
    "rsa-pkcs1v15-sha256": ("rsa", None),
    "rsa-pss-sha384": ("rsa", "rsa-pss-sha384"),
}


@pytest.fixture(scope="module")
def signed_documents(test_pki: GeneratedPki) -> dict[str, bytes]:
    documents = {}
    for name, (family, algorithm) in SIGNERS.items():
        key, chain = test_pki.signer(family)
        if algorithm:
            key = SigningKey.from_private_key(key.private_key, algorithm)
        documents[name] = sign_license_xml(
            build_license_document(make_license()),
            key,
            chain,
            signing_time=test_pki.now - timedelta(hours=2),
        )
    return documents


def outcome(xml: bytes, test_pki: GeneratedPki, engine: str) -> Any:
    """What must not depend on the engine: verdict, checks run, and the signed fields."""
    try:
        result = read_verified_license_xml(xml, test_pki.trust, now=test_pki.now, engine=engine)
    except (UnsafeInput, UnreadableInput) as exc:
        return ("refused", type(exc).__name__, None, None)
    report = result.report
    checks = [(c.name, c.passed) for c in report.checks]
    signed = None if result.signed is None else (result.signed.fields, result.signed.signing_time)
    return report.indication, report.subindication, checks, signed


def assert_engines_agree(xml: bytes, test_pki: GeneratedPki) -> Any:
    lean, reference = (outcome(xml, test_pki, engine) for engine in ENGINES)
    assert lean == reference
    return lean


def _note(result: Any) -> None:
    """Outcome classes for ``--hypothesis-show-statistics`` (are the draws diverse?)."""
    indication, sub = result[0], result[1]
    event(f"{getattr(indication, 'value', indication)}/{getattr(sub, 'value', sub)}")


def dump(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _decoded(element: etree._Element) -> bytes:
    """The element's base64 content, or b"" once an earlier edit broke it."""
    try:
        return base64.b64decode(element.text or "", validate=True)
    except ValueError:
        return b""


def _flip_base64(element: etree._Element, index: int = 5) -> None:
    raw = bytearray(_decoded(element))
    if raw:
        raw[index % len(raw)] ^= 0x01
        element.text = base64.b64encode(bytes(raw)).decode()


# --- valid licenses and known tamperings -------------------------------------------------


@pytest.mark.parametrize("name", list(SIGNERS))
def test_valid_licenses_pass_with_both_engines(test_pki, signed_documents, name):
    indication, sub, _, signed = assert_engines_agree(signed_documents[name], test_pki)
    assert (indication, sub) == (Indication.PASSED, None)
    assert signed[0]["holder_name"] == make_license().holder_name


_DIGEST_VALUE = "ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda r: setattr(r.find("license/holder_name"), "text", "李四"), "HASH_FAILURE"),
        (lambda r: r.find("license").set("note", "x"), "HASH_FAILURE"),
        (lambda r: _flip_base64(r.find("ds:Signature/ds:SignatureValue", NS)), "SIG_CRYPTO"),
        # DigestValue is inside SignedInfo: the signature value breaks before the digest
        (lambda r: _flip_base64(r.find(_DIGEST_VALUE, NS)), "SIG_CRYPTO"),
        (lambda r: setattr(r.find("ds:Signature", NS), "tail", "\n"), "HASH_FAILURE"),
        (lambda r: r.find("license").append(etree.Comment("unsigned")), "PASSED"),
        (lambda r: r.find("license").append(etree.ProcessingInstruction("pi", "x")), "HASH"),
        (lambda r: r.find("ds:Signature", NS).set("Id", "sig"), "PASSED"),  # not signed
        (lambda r: r.find(_DIGEST_VALUE, NS).set("note", "x"), "SIG_CRYPTO"),
    ],
    ids=[
        "field",
        "attribute",
        "signature-value",
        "digest-value",
        "tail-after-signature",
        "comment-in-content",
        "pi-in-content",
        "signature-attribute",
        "signed-info-attribute",
    ],
)
def test_tampered_licenses_get_the_same_verdict(test_pki, signed_documents, edit, expected):
    for name in SIGNERS:
        root = etree.fromstring(signed_documents[name])
        edit(root)
        indication, sub, _, _ = assert_engines_agree(dump(root), test_pki)
        got = "PASSED" if indication is Indication.PASSED else sub.value
        assert got.startswith(expected), (name, got)


_ROOT = '<signed_license version="1" Id="signed-license"'
_SIGNATURE = f'<ds:Signature xmlns:ds="{DS}">'


def _root_with(extra: str) -> str:
    return f'<signed_license {extra} version="1" Id="signed-license"'


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        ([(_ROOT, _root_with(f'xmlns:ds="{DS}"'))], "PASSED"),
        ([(_ROOT, _root_with(f'xmlns:ds="{DS}"')), (_SIGNATURE, "<ds:Signature>")], "PASSED"),
        ([(_ROOT, _root_with('xmlns:ds="urn:example:x"'))], "PASSED"),
        ([(_ROOT, _root_with('xml:lang="zh"'))], "HASH_FAILURE"),
        ([(_ROOT, '<signed_license Id="signed-license" version="1"')], "PASSED"),
        ([("<ds:SignedInfo>", '<ds:SignedInfo xml:space="preserve">')], "SIG_CRYPTO"),
        ([("<holder_name>张伟", "<holder_name><![CDATA[张伟]]>")], "PASSED"),
        ([("<holder_name>张伟", "<holder_name>&#24352;伟")], "PASSED"),
        ([("</license>", "</license>\r\n")], "HASH_FAILURE"),
        ([("<license>", '<license xml:id="signed-license">')], "FORMAT_FAILURE"),
    ],
    ids=[
        "ds-also-declared-on-root",
        "ds-declared-on-root-only",
        "ds-prefix-bound-elsewhere-on-root",
        "xml-lang-on-root",
        "attribute-order",
        "xml-space-on-signed-info",
        "cdata",
        "character-reference",
        "crlf",
        "xml-id-copy",
    ],
)
def test_lexical_variants_get_the_same_verdict(test_pki, signed_documents, edits, expected):
    """Serialisation details c14n must see through (or must not), edited in the text."""
    for name in SIGNERS:
        text = signed_documents[name].decode()
        for old, new in edits:
            assert old in text
            text = text.replace(old, new, 1)
        indication, sub, _, _ = assert_engines_agree(text.encode(), test_pki)
        got = "PASSED" if indication is Indication.PASSED else sub.value
        assert got.startswith(expected), (name, got)


def test_the_signature_tail_is_kept_by_the_enveloped_transform(test_pki):
    """Whitespace moved from before the Signature to after it leaves the digest unchanged.

    The enveloped-signature transform removes the Signature element, not the text that
    follows it; a verifier that dropped the tail with the element would call this
    HASH_FAILURE, and would PASS the document once that signed newline is deleted.
    """
    key, chain = test_pki.signer("ecdsa")
    root = prepare_for_signing(
        etree.fromstring(build_license_document(make_license())),
        test_pki.now - timedelta(hours=2),
    )
    root.find("signing_time").tail = "\n"
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    certs = [x509.load_der_x509_certificate(der) for der in chain]
    signed = signer.sign(root, key=key.private_key, cert=certs, reference_uri="#signed-license")
    signature = signed.find("ds:Signature", NS)
    assert signature.getprevious().tail == "\n" and signature.tail is None
    assert assert_engines_agree(dump(signed), test_pki)[0] is Indication.PASSED

    signature.getprevious().tail, signature.tail = None, "\n"
    indication, sub, _, _ = assert_engines_agree(dump(signed), test_pki)
    assert (indication, sub) == (Indication.PASSED, None)

    signature.tail = None  # the signed newline is gone
    assert assert_engines_agree(dump(signed), test_pki)[1] is SubIndication.HASH_FAILURE


def test_lean_verifier_leaves_the_tree_as_it_was(signed_documents):
    root = etree.fromstring(signed_documents["ecdsa-sha256"])
    signature = root.find("ds:Signature", NS)
    signature.getprevious().tail, signature.tail = "\n", "\n"
    before = etree.tostring(root)
    der = base64.b64decode(signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS).text)
    with pytest.raises(SignatureFailure) as failed:
        verify_enveloped(
            root,
            signature,
            public_key=signer_public_key(der),
            algorithm="ecdsa-sha256",
            digest="sha256",
        )
    assert failed.value.failure is Failure.DIGEST  # two newlines where none were signed
    assert etree.tostring(root) == before


def test_lean_verifier_called_alone_raises_only_signature_failures(signed_documents):
    root = etree.fromstring(signed_documents["ecdsa-sha256"])
    signature = root.find("ds:Signature", NS)
    der = base64.b64decode(signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS).text)
    signature.find("ds:SignatureValue", NS).text = "not base64!"
    with pytest.raises(SignatureFailure) as failed:
        verify_enveloped(
            root,
            signature,
            public_key=signer_public_key(der),
            algorithm="ecdsa-sha256",
            digest="sha256",
        )
    assert failed.value.failure is Failure.FORMAT


def test_the_lean_engine_is_the_default_and_needs_no_signxml(
    test_pki, signed_documents, monkeypatch
):
    import signing.xmldsig as xmldsig

    def unavailable(*args, **kwargs):
        raise AssertionError("signxml was asked to verify")

    monkeypatch.setattr(xmldsig, "_signxml_verify", unavailable)
    assert xmldsig.verify_license_xml(
        signed_documents["ecdsa-sha256"], test_pki.trust, now=test_pki.now
    ).passed
    with pytest.raises(AssertionError, match="signxml"):
        xmldsig.verify_license_xml(
            signed_documents["ecdsa-sha256"], test_pki.trust, now=test_pki.now, engine="signxml"
        )


def test_an_unknown_engine_is_refused(test_pki, signed_documents):
    with pytest.raises(ValueError, match="engine"):
        read_verified_license_xml(signed_documents["ecdsa-sha256"], test_pki.trust, engine="x")


# --- drawn mutations ---------------------------------------------------------------------

_FIELDS = ["holder_name", "number", "issuer_name", "valid_to", "identifier"]
_SIGNATURE_PARTS = [
    "ds:SignedInfo",
    "ds:SignedInfo/ds:CanonicalizationMethod",
    "ds:SignedInfo/ds:SignatureMethod",
    "ds:SignedInfo/ds:Reference",
    "ds:SignedInfo/ds:Reference/ds:Transforms",
    "ds:SignedInfo/ds:Reference/ds:DigestValue",
    "ds:SignatureValue",
    "ds:KeyInfo",
    "ds:KeyInfo/ds:X509Data",
]
_TEXT = st.text(alphabet=" \n\t张伟李aZ0&<>\"'", max_size=4)
_MUTATIONS = [
    "field-text",
    "field-whitespace",
    "signing-time",
    "signature-value",
    "digest-value",
    "signature-whitespace",
    "signature-tail",
    "root-text",
    "comment",
    "attribute",
    "namespace",
    "swap-certificates",
    "truncate-signature",
    "reference-uri",
    "root-id",
    "reorder",
    "move-signature",
]


def _mutate(root: etree._Element, data: st.DataObject) -> etree._Element:
    """One drawn edit; returns the root (a new one when a namespace was declared on it)."""
    signature = root.find("ds:Signature", NS)
    record = root.find("license")
    kind = data.draw(st.sampled_from(_MUTATIONS), label="mutation")
    if signature is None or record is None:  # an earlier edit moved them
        kind = data.draw(st.sampled_from(["root-text", "namespace", "root-id"]))
    if kind == "field-text":
        field = record.find(data.draw(st.sampled_from(_FIELDS)))
        field.text = (field.text or "") + data.draw(_TEXT)
    elif kind == "field-whitespace":
        field = record.find(data.draw(st.sampled_from(_FIELDS)))
        field.tail = (field.tail or "") + data.draw(st.sampled_from([" ", "\n", "\t"]))
    elif kind == "signing-time":
        root.find("signing_time").text = data.draw(
            st.sampled_from(["2020-01-01T00:00:00+08:00", "not a time", ""])
        )
    elif kind == "signature-value":
        _flip_base64(signature.find("ds:SignatureValue", NS), data.draw(st.integers(0, 600)))
    elif kind == "digest-value":
        path = "ds:SignedInfo/ds:Reference/ds:DigestValue"
        _flip_base64(signature.find(path, NS), data.draw(st.integers(0, 60)))
    elif kind == "signature-whitespace":
        part = signature.find(data.draw(st.sampled_from(_SIGNATURE_PARTS)), NS)
        where = data.draw(st.sampled_from(["text", "tail"]))
        setattr(part, where, (getattr(part, where) or "") + data.draw(_TEXT))
    elif kind == "signature-tail":
        signature.tail = data.draw(_TEXT)
    elif kind == "root-text":
        root.text = data.draw(_TEXT)
    elif kind == "comment":
        target = data.draw(st.sampled_from([record, signature, root]))
        target.insert(data.draw(st.integers(0, len(target))), etree.Comment(data.draw(_TEXT)))
    elif kind == "attribute":
        target = data.draw(
            st.sampled_from([root, record, signature, signature.find("ds:SignedInfo", NS)])
        )
        target.set(data.draw(st.sampled_from(["note", "Id", "ID", "id"])), data.draw(_TEXT))
    elif kind == "namespace":
        # lxml cannot add a declaration to an element: rebuild the root with one more.
        prefix = data.draw(st.sampled_from(["x", "ds", None]))
        new = etree.Element(root.tag, nsmap={prefix: "urn:example:x"})
        for name, value in root.attrib.items():
            new.set(name, value)
        new.text = root.text
        for child in list(root):
            new.append(child)
        return new
    elif kind == "swap-certificates":
        certificates = signature.find("ds:KeyInfo/ds:X509Data", NS)
        first = certificates[0]
        certificates.remove(first)
        certificates.append(first)
    elif kind == "truncate-signature":
        value = signature.find("ds:SignatureValue", NS)
        raw = _decoded(value)
        keep = data.draw(st.integers(1, len(raw) - 1)) if len(raw) > 1 else 1
        value.text = base64.b64encode(raw[:keep]).decode()
    elif kind == "reference-uri":
        reference = signature.find("ds:SignedInfo/ds:Reference", NS)
        reference.set("URI", data.draw(st.sampled_from(["", "#other", "#signed-license "])))
    elif kind == "root-id":
        root.set("Id", data.draw(st.sampled_from(["other", "signed-license", ""])))
    elif kind == "reorder":
        order = data.draw(st.permutations(list(root)))
        for child in order:
            root.append(child)
    elif kind == "move-signature":
        root.remove(signature)
        record.append(copy.deepcopy(signature))
    return root


_FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_FUZZ
@given(data=st.data())
def test_drawn_mutations_get_the_same_verdict_from_both_engines(
    test_pki: GeneratedPki, signed_documents: dict[str, bytes], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(list(SIGNERS)), label="signer")
    root = etree.fromstring(signed_documents[name])
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        root = _mutate(root, data)
    result = assert_engines_agree(dump(root), test_pki)
    _note(result)
    if result[0] is Indication.PASSED:  # only unsigned parts changed: the same content
        assert result[3] == outcome(signed_documents[name], test_pki, "lean")[3]


@_FUZZ
@given(data=st.data())
def test_byte_flips_get_the_same_verdict_from_both_engines(
    test_pki: GeneratedPki, signed_documents: dict[str, bytes], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(list(SIGNERS)), label="signer")
    raw = bytearray(signed_documents[name])
    for _ in range(data.draw(st.integers(1, 3), label="flips")):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(32, 126))
    result = assert_engines_agree(bytes(raw), test_pki)
    _note(result)
    if result[0] is Indication.PASSED:
        assert result[3] == outcome(signed_documents[name], test_pki, "lean")[3]
