"""Signed batch manifests: building, path-traversal refusal, first mismatch named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from signing_pki import GeneratedPki

from signing.detached import sign_detached
from signing.manifest import ManifestError, build_manifest, verify_manifest
from signing.report import Indication, SubIndication


def _batch(tmp_path: Path) -> dict[str, bytes]:
    files = {"cases.xml": "<Cases>办件</Cases>".encode(), "sub/materials.jsonl": b"{}\n"}
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    return files


def _signed(test_pki: GeneratedPki, manifest: bytes) -> bytes:
    key, chain = test_pki.signer("sm2")
    return sign_detached(manifest, key, chain, signing_time=test_pki.now)


def test_manifest_lists_names_sizes_and_hashes(tmp_path: Path) -> None:
    files = _batch(tmp_path)
    manifest = json.loads(build_manifest(files))
    assert list(manifest["files"]) == ["cases.xml", "sub/materials.jsonl"]
    assert manifest["files"]["sub/materials.jsonl"]["size"] == 3
    from_paths = build_manifest({n: tmp_path / n for n in files})
    assert from_paths == build_manifest(files)


@pytest.mark.parametrize(
    "name", ["../etc/passwd", "/abs", "a/../../b", "C:evil", "a\\b", "a//b", ".", "x\x00y", ""]
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(ManifestError):
        build_manifest({name: b"x"})


def test_verified_batch(test_pki: GeneratedPki, tmp_path: Path) -> None:
    files = _batch(tmp_path)
    manifest = build_manifest(files)
    (tmp_path / "extra.txt").write_text("not signed")
    result = verify_manifest(
        tmp_path, manifest, _signed(test_pki, manifest), test_pki.trust, now=test_pki.now
    )
    assert result.ok and result.report.passed and result.files_checked == 2
    assert result.unlisted == ["extra.txt"]


def test_altered_file_is_named(test_pki: GeneratedPki, tmp_path: Path) -> None:
    files = _batch(tmp_path)
    manifest = build_manifest(files)
    (tmp_path / "sub/materials.jsonl").write_bytes(b"[]\n")
    result = verify_manifest(
        tmp_path, manifest, _signed(test_pki, manifest), test_pki.trust, now=test_pki.now
    )
    assert not result.ok
    assert result.mismatch == "sub/materials.jsonl: sha256 differs from the signed manifest"
    assert (result.report.indication, result.report.subindication) == (
        Indication.FAILED,
        SubIndication.HASH_FAILURE,
    )


def test_missing_file_is_signed_data_not_found(test_pki: GeneratedPki, tmp_path: Path) -> None:
    files = _batch(tmp_path)
    manifest = build_manifest(files)
    (tmp_path / "cases.xml").unlink()
    result = verify_manifest(
        tmp_path, manifest, _signed(test_pki, manifest), test_pki.trust, now=test_pki.now
    )
    assert result.mismatch == "cases.xml: listed in the manifest but missing"
    assert result.report.subindication is SubIndication.SIGNED_DATA_NOT_FOUND


def test_tampered_manifest_fails_the_signature(test_pki: GeneratedPki, tmp_path: Path) -> None:
    files = _batch(tmp_path)
    manifest = build_manifest(files)
    envelope = _signed(test_pki, manifest)
    (tmp_path / "cases.xml").write_bytes(b"<Cases/>")
    forged = build_manifest({**files, "cases.xml": b"<Cases/>"})
    result = verify_manifest(tmp_path, forged, envelope, test_pki.trust, now=test_pki.now)
    assert not result.ok
    assert result.report.subindication is SubIndication.HASH_FAILURE


def test_signed_manifest_with_traversal_is_refused(test_pki: GeneratedPki, tmp_path: Path) -> None:
    """Even a validly signed manifest may not point outside the batch directory."""
    manifest = json.dumps({"files": {"../outside.txt": {"size": 1, "sha256": "0" * 64}}}).encode()
    result = verify_manifest(
        tmp_path, manifest, _signed(test_pki, manifest), test_pki.trust, now=test_pki.now
    )
    assert not result.ok
    assert result.report.subindication is SubIndication.FORMAT_FAILURE
    assert "traversal" in (result.mismatch or "")


def test_the_manifest_and_its_signature_are_not_unlisted(
    test_pki: GeneratedPki, tmp_path: Path
) -> None:
    files = _batch(tmp_path)
    manifest = build_manifest(files)
    envelope = _signed(test_pki, manifest)
    (tmp_path / "MANIFEST.json").write_bytes(manifest)
    (tmp_path / "MANIFEST.json.sig.json").write_bytes(envelope)
    result = verify_manifest(tmp_path, manifest, envelope, test_pki.trust, now=test_pki.now)
    assert result.ok and result.unlisted == []
