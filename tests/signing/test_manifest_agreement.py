"""The two manifest readers — the signed batch's (`signing.manifest.parse_manifest`, used by
`tongyuan verify`) and the drop folder's (`Manifest.parse`, used by ingestion) — accept and
refuse the same manifests, for the same reason: a name listed twice, names that differ
only by case or Unicode normalisation, a UTF-8 BOM (accepted by both)."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path

import pytest
from signing_pki import GeneratedPki

from adapters.builtin.drop_folder import Manifest
from adapters.sdk import AdapterError
from signing.detached import sign_detached
from signing.manifest import ManifestError, build_manifest, parse_manifest, verify_manifest
from signing.report import Indication, SubIndication

A, B = b"<cases>A</cases>\n", b"<cases>EVIL</cases>\n"
NFC = unicodedata.normalize("NFC", "办件é.xml")
NFD = unicodedata.normalize("NFD", "办件é.xml")


def _entry(data: bytes) -> str:
    return json.dumps({"size": len(data), "sha256": hashlib.sha256(data).hexdigest()})


def _manifest(*pairs: tuple[str, bytes]) -> bytes:
    """A manifest written by hand, so that a key may repeat (json.dumps cannot)."""
    body = ", ".join(f"{json.dumps(name, ensure_ascii=False)}: {_entry(d)}" for name, d in pairs)
    return ('{"files": {' + body + "}}").encode()


def _both(manifest: bytes) -> tuple[str | None, str | None]:
    """What each reader says: None when it accepts the manifest, else its message."""
    try:
        parse_manifest(manifest)
        signed = None
    except ManifestError as exc:
        signed = str(exc)
    try:
        Manifest.parse(manifest, "MANIFEST.json")
        drop = None
    except AdapterError as exc:
        drop = str(exc)
    return signed, drop


REFUSED = {
    "listed twice": (_manifest(("a.xml", A), ("a.xml", B)), ["'a.xml' listed twice"]),
    "case": (
        _manifest(("Cases.xml", A), ("cases.xml", B)),
        ["'Cases.xml'", "'cases.xml'", "differ only by case"],
    ),
    "nfc and nfd": (
        _manifest((NFC, A), (NFD, B)),
        [f"{NFC!r} (NFC)", f"{NFD!r} (NFD)", "Unicode normalisation"],
    ),
    "repeated key in an entry": (
        b'{"files": {"a.xml": {"size": 1, "size": 17, "sha256": "%s"}}}'
        % hashlib.sha256(A).hexdigest().encode(),
        ["'size' listed twice"],
    ),
    "files twice": (
        b'{"files": {"a.xml": %s}, "files": {"b.xml": %s}}'
        % (_entry(A).encode(), _entry(B).encode()),
        ["'files' listed twice"],
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_both_readers_refuse_for_the_same_reason(case: str) -> None:
    manifest, words = REFUSED[case]
    signed, drop = _both(manifest)
    assert signed is not None and drop is not None, (signed, drop)
    for word in words:
        assert word in signed, signed
        assert word in drop, drop


def test_both_readers_accept_a_manifest_with_a_bom() -> None:
    manifest = b"\xef\xbb\xbf" + _manifest(("a.xml", A))
    assert _both(manifest) == (None, None)
    assert parse_manifest(manifest) == {"a.xml": (len(A), hashlib.sha256(A).hexdigest())}
    assert Manifest.parse(manifest, "M").entries["a.xml"].size == len(A)


def test_distinct_names_are_accepted_by_both() -> None:
    manifest = _manifest(("cases_1.xml", A), ("cases_2.xml", B), (NFC, A))
    assert _both(manifest) == (None, None)


def test_names_no_file_system_folds_together_are_accepted() -> None:
    """Review r3: casefold() took Straße/Strasse and ﬁle/file for one file; NTFS and
    APFS keep them apart."""
    manifest = _manifest(
        ("Straße.xml", A), ("Strasse.xml", B), ("\ufb01le.xml", A), ("file.xml", B)
    )
    assert _both(manifest) == (None, None)


@pytest.mark.parametrize(
    "names", [("Cases.xml", "cases.xml"), (NFC, NFD), ("sub/A.xml", "SUB/a.xml")]
)
def test_building_refuses_names_that_collide(names: tuple[str, str]) -> None:
    with pytest.raises(ManifestError, match="name the same file"):
        build_manifest({names[0]: A, names[1]: B})


def _signed_batch(test_pki: GeneratedPki, directory: Path, manifest: bytes) -> bytes:
    directory.mkdir()
    (directory / "a.xml").write_bytes(A)
    key, chain = test_pki.signer("ecdsa")
    return sign_detached(manifest, key, chain, signing_time=test_pki.now)


def test_a_signed_manifest_listing_a_file_twice_fails(
    test_pki: GeneratedPki, tmp_path: Path
) -> None:
    """The QA case: first entry right, second (the one json.loads kept) wrong — or the
    other way round; either way the manifest is not one list of files."""
    manifest = _manifest(("a.xml", A), ("a.xml", B))
    envelope = _signed_batch(test_pki, tmp_path / "batch", manifest)
    result = verify_manifest(
        tmp_path / "batch", manifest, envelope, test_pki.trust, now=test_pki.now
    )
    assert not result.ok
    assert (result.report.indication, result.report.subindication) == (
        Indication.FAILED,
        SubIndication.FORMAT_FAILURE,
    )
    assert "'a.xml' listed twice" in (result.mismatch or "")


def test_a_signed_manifest_with_a_bom_verifies(test_pki: GeneratedPki, tmp_path: Path) -> None:
    manifest = b"\xef\xbb\xbf" + build_manifest({"a.xml": A})
    envelope = _signed_batch(test_pki, tmp_path / "batch", manifest)
    result = verify_manifest(
        tmp_path / "batch", manifest, envelope, test_pki.trust, now=test_pki.now
    )
    assert result.ok, result.report.to_dict()
