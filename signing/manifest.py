"""Signed batches: a manifest of files (names, sizes, SHA-256) under a detached signature.

The manifest has the drop folder's format, ``{"files": {"NAME": {"size": N, "sha256":
"HEX"}}}`` with sorted names, so a department signs exactly what the hub's drop reader
re-checks. Names are plain relative POSIX paths: anything that could climb out of the
batch directory (``..``, absolute, backslashes, drive letters, control characters) is
refused when building and when verifying, and so are names listed twice or differing only
by case or Unicode normalisation. The JSON is read as the drop folder reads it
(``standards.formats.manifest_json``: a UTF-8 BOM is accepted, repeated keys are not), so
``tongyuan verify`` and ingestion always agree on what a manifest lists.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from signing.detached import verify_detached
from signing.report import Check, Indication, SubIndication, VerificationReport
from signing.trust import TrustStore
from standards.formats.manifest_json import ManifestJsonError, load_manifest_json, name_collision

MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MANIFEST_NAME = "MANIFEST.json"  # a signed batch's manifest, signed beside it (.sig.json)
SIGNATURE_SUFFIX = ".sig.json"
MAX_NAME_LENGTH = 255
_CHUNK = 1 << 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ManifestError(ValueError):
    """A manifest or a file name that cannot be accepted."""


def unsafe_name_reason(name: str) -> str | None:
    """Why ``name`` cannot appear in a manifest, or None when it is a safe relative path."""
    if not name:
        return "empty name"
    if len(name) > MAX_NAME_LENGTH:
        return f"name longer than {MAX_NAME_LENGTH} characters"
    if _CONTROL.search(name):
        return "control character in name"
    if "\\" in name:
        return "backslash in name"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "absolute path"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "path traversal or empty segment"
    return None


def _sha256_file(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def build_manifest(files: Mapping[str, bytes | Path] | Iterable[Path]) -> bytes:
    """The manifest bytes to sign.

    ``files`` maps manifest names to contents (bytes) or to the file to read; a plain
    iterable of paths uses each file's name. Duplicate or unsafe names raise.
    """
    items = files.items() if isinstance(files, Mapping) else ((p.name, p) for p in files)
    entries: dict[str, dict[str, Any]] = {}
    for name, content in items:
        reason = unsafe_name_reason(name)
        if reason is not None:
            raise ManifestError(f"{name!r}: {reason}")
        if name in entries:
            raise ManifestError(f"{name!r} listed twice")
        if isinstance(content, bytes):
            size, sha = len(content), hashlib.sha256(content).hexdigest()
        else:
            size, sha = _sha256_file(Path(content))
        entries[name] = {"size": size, "sha256": sha}
    if not entries:
        raise ManifestError("a manifest must list at least one file")
    if (collision := name_collision(entries)) is not None:
        raise ManifestError(str(collision))
    ordered = {k: entries[k] for k in sorted(entries)}
    return json.dumps({"files": ordered}, indent=2, ensure_ascii=False).encode() + b"\n"


def parse_manifest(manifest_bytes: bytes) -> dict[str, tuple[int, str]]:
    """Name → (size, sha256 hex) from manifest bytes; malformed manifests raise."""
    if len(manifest_bytes) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"manifest of {len(manifest_bytes)} bytes is too large")
    try:
        doc = load_manifest_json(manifest_bytes)
    except ManifestJsonError as exc:
        raise ManifestError(f"manifest refused: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict) or not doc["files"]:
        raise ManifestError('manifest must be {"files": {NAME: {"size", "sha256"}}}')
    out: dict[str, tuple[int, str]] = {}
    for name, entry in doc["files"].items():
        reason = unsafe_name_reason(name)
        if reason is not None:
            raise ManifestError(f"manifest entry {name!r}: {reason}")
        if (
            not isinstance(entry, dict)
            or type(entry.get("size")) is not int
            or entry["size"] < 0
            or not isinstance(entry.get("sha256"), str)
            or not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
        ):
            raise ManifestError(f"manifest entry {name!r} needs an integer size and a sha256")
        out[name] = (entry["size"], entry["sha256"])
    if (collision := name_collision(out)) is not None:
        raise ManifestError(f"manifest refused: {collision}")
    return out


@dataclass
class ManifestVerification:
    """The signature report plus the outcome of checking every listed file."""

    report: VerificationReport
    files_checked: int = 0
    mismatch: str | None = None  # the first listed file that is missing or differs
    unlisted: list[str] = field(default_factory=list)  # present in the directory, not signed

    @property
    def ok(self) -> bool:
        """Signature PASSED and every listed file present and identical."""
        return self.report.passed and self.mismatch is None


def verify_manifest(
    directory: Path,
    manifest_bytes: bytes,
    envelope_bytes: bytes,
    trust: TrustStore,
    *,
    now: datetime | None = None,
    manifest_name: str = MANIFEST_NAME,
) -> ManifestVerification:
    """Check the manifest's signature, then every listed file under ``directory``.

    A missing file gives INDETERMINATE/SIGNED_DATA_NOT_FOUND, a different one
    FAILED/HASH_FAILURE; ``mismatch`` names the first (in name order). Files present but
    not listed are reported in ``unlisted`` for the caller to refuse or ignore — except
    the manifest (``manifest_name``) and its signature beside it, which no manifest can
    list.
    """
    report = verify_detached(manifest_bytes, envelope_bytes, trust, now=now)
    result = ManifestVerification(report)
    try:
        entries = parse_manifest(manifest_bytes)
    except ManifestError as exc:
        _downgrade(report, SubIndication.FORMAT_FAILURE, Check("manifest", False, str(exc)))
        result.mismatch = str(exc)
        return result
    root = Path(directory).resolve()
    for name in sorted(entries):
        size, sha = entries[name]
        path = (root / name).resolve()
        problem: str | None = None
        sub = SubIndication.HASH_FAILURE
        if not path.is_relative_to(root):
            problem = f"{name}: resolves outside the batch directory"
        elif not path.is_file():
            problem, sub = (
                f"{name}: listed in the manifest but missing",
                (SubIndication.SIGNED_DATA_NOT_FOUND),
            )
        else:
            actual_size, actual_sha = _sha256_file(path)
            if actual_size != size:
                problem = f"{name}: size {actual_size} differs from the signed {size}"
            elif actual_sha != sha:
                problem = f"{name}: sha256 differs from the signed manifest"
        result.files_checked += 1
        if problem is not None:
            result.mismatch = problem
            _downgrade(report, sub, Check("manifest_files", False, problem))
            break
    else:
        report.checks.append(
            Check("manifest_files", True, f"{len(entries)} listed file(s) present and identical")
        )
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    own = {manifest_name, manifest_name + SIGNATURE_SUFFIX}
    result.unlisted = sorted(present - set(entries) - own)
    return result


def _downgrade(report: VerificationReport, sub: SubIndication, check: Check) -> None:
    """Record a file-level failure; it outranks a PASSED signature, not a worse failure."""
    report.checks.append(check)
    if report.indication is Indication.PASSED or (
        sub.indication is Indication.FAILED and report.indication is not Indication.FAILED
    ):
        report.indication = sub.indication
        report.subindication = sub
