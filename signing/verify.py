"""Verify any file: find its signature format, then validate it against a trust store.

- ``FILE.sig.json`` beside ``FILE`` → detached JSON envelope (``signing.detached``);
  passing the ``.sig.json`` itself verifies the file it names, and a missing data file is
  INDETERMINATE/SIGNED_DATA_NOT_FOUND; when the signed file is a license document, only
  the anchors of its issuing authority (and the general ones) count, as for XML-DSig;
  when it is a batch manifest (``MANIFEST.json``), every file it lists is checked too
  (``signing.manifest.verify_manifest``) and files beside it that it does not list are
  named in a check;
- XML (``<`` first, after an optional BOM and whitespace) → enveloped XML-DSig license
  (``signing.xmldsig``), which refuses DTDs/entities (XXE) before anything else;
- anything else → FAILED/FORMAT_FAILURE: there is no signature to check.

A license (XML-DSig, or a license document under a detached envelope) is then checked for
what it says (``signing.license_checks``: identifier check character and segments, issuer
code, validity, signing time) when its signature did not fail. Those checks are added to
the report's checks and their verdict is ``report.content_passed``, kept apart from the
indication, which stays the signature's (ETSI EN 319 102-1).

Input that cannot be read at all, is too large or unsafe raises ``InputRefused`` (the CLI
exits 2) instead of producing a report: nothing was validated.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from signing.detached import verify_detached
from signing.report import Check, Indication, SubIndication, VerificationReport
from signing.trust import TrustStore, authority_key

if TYPE_CHECKING:
    from signing.license_xml import SignedLicense

MAX_INPUT_BYTES = 64 * 1024 * 1024
SIGNATURE_SUFFIX = ".sig.json"
_BOM = b"\xef\xbb\xbf"


class InputRefused(ValueError):
    """The file cannot be verified at all: missing, unreadable, oversized or unsafe."""


def read_limited(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes, refusing anything that is not a regular file within ``limit``
    (default ``MAX_INPUT_BYTES``)."""
    limit = MAX_INPUT_BYTES if limit is None else limit
    try:
        if not path.is_file():
            raise InputRefused(f"{path}: not found or not a regular file")
        size = path.stat().st_size
        if size > limit:
            raise InputRefused(f"{path}: {size} bytes exceeds the limit of {limit}")
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputRefused(f"{path}: cannot read ({exc.strerror})") from exc
    if len(data) > limit:
        raise InputRefused(f"{path}: grew beyond the limit of {limit} bytes while reading")
    return data


def _looks_like_xml(data: bytes) -> bool:
    body = data.removeprefix(_BOM).lstrip(b" \t\r\n")
    return body.startswith(b"<")


def license_authority(data: bytes) -> str | None:
    """The anchors that may vouch for detached-signed ``data``: its issuer's when it is a
    license document (``anchors/<issuer_code>/`` and the general ones, as an XML-DSig
    license gets), None (any anchor) for any other file."""
    if not _looks_like_xml(data):
        return None
    from signing.license_xml import RECORD_TAG, ROOT_TAG, parse_license_document
    from standards.formats import UnreadableInput, UnsafeInput

    try:
        root = parse_license_document(data)
    except (UnsafeInput, UnreadableInput):
        return None  # not a license document the hub could read: no authority known
    if root.tag != ROOT_TAG:
        return None
    # The issuer as the document states it (the envelope's digest covers every byte); a
    # license without exactly one readable issuer gets the general anchors only.
    records = [c for c in root if c.tag == RECORD_TAG]
    codes = [c.text for r in records for c in r if c.tag == "issuer_code"]
    return authority_key(codes[0] if len(records) == 1 and len(codes) == 1 else None)


def _verify_detached_file(
    data_path: Path, data: bytes, envelope: bytes, trust: TrustStore, now: datetime | None
) -> VerificationReport:
    from signing.manifest import MANIFEST_NAME, verify_manifest

    if data_path.name != MANIFEST_NAME:
        authority = license_authority(data)
        report = verify_detached(data, envelope, trust, now=now, authority=authority)
        if authority is not None:  # a license document
            _add_license_checks(report, *_detached_license(data, report))
        return report
    # A signed batch: the signature alone says nothing about the files it vouches for.
    result = verify_manifest(data_path.parent, data, envelope, trust, now=now)
    report = result.report
    if result.unlisted:
        shown = ", ".join(result.unlisted[:10]) + (" …" if len(result.unlisted) > 10 else "")
        report.checks.append(
            Check(
                "manifest_unlisted",
                None,
                f"{len(result.unlisted)} file(s) beside the manifest not listed in it, "
                f"so not covered by the signature: {shown}",
            )
        )
    return report


def verify_file(path: Path, trust: TrustStore, now: datetime | None = None) -> VerificationReport:
    """Detect the signature format of ``path`` and validate it."""
    path = Path(path)
    if path.name.endswith(SIGNATURE_SUFFIX) and len(path.name) > len(SIGNATURE_SUFFIX):
        envelope = read_limited(path)
        data_path = path.with_name(path.name[: -len(SIGNATURE_SUFFIX)])
        if not data_path.exists():
            return VerificationReport.failure(
                SubIndication.SIGNED_DATA_NOT_FOUND,
                [Check("signed_data", False, f"{data_path.name} not found beside the signature")],
                format="detached",
            )
        return _verify_detached_file(data_path, read_limited(data_path), envelope, trust, now)
    data = read_limited(path)
    sidecar = path.with_name(path.name + SIGNATURE_SUFFIX)
    if sidecar.exists():
        return _verify_detached_file(path, data, read_limited(sidecar), trust, now)
    if _looks_like_xml(data):
        from signing.xmldsig import read_verified_license_xml
        from standards.formats import UnreadableInput, UnsafeInput

        try:
            verification = read_verified_license_xml(data, trust, now=now)
        except (UnsafeInput, UnreadableInput) as exc:
            raise InputRefused(f"{path}: {exc.message} [{exc.rule}]") from exc
        _add_license_checks(verification.report, verification.signed)
        return verification.report
    return VerificationReport.failure(
        SubIndication.FORMAT_FAILURE,
        [
            Check(
                "format",
                False,
                f"no signature found: neither {sidecar.name} beside it nor an XML-DSig document",
            )
        ],
        format="unknown",
    )


def _add_license_checks(
    report: VerificationReport, signed: SignedLicense | None, problem: str | None = None
) -> None:
    """Run the license content checks on what was signed and record their verdict.

    A failed signature means the content is not the signer's: nothing is checked, and the
    report says so. ``problem`` says why a signed document does not read as a license.
    """
    from signing.license_checks import check_signed_license, semantics_passed

    if report.indication is Indication.FAILED or (signed is None and problem is None):
        report.checks.append(
            Check("license.checks", None, "not checked: the signature did not verify")
        )
        return
    if signed is None:
        report.checks.append(Check("license.checks", False, f"not a license: {problem}"))
        report.content_passed = False
        return
    checks = check_signed_license(signed)
    report.checks.extend(checks)
    report.content_passed = semantics_passed(checks)


def _detached_license(
    data: bytes, report: VerificationReport
) -> tuple[SignedLicense | None, str | None]:
    """A detached license document as a ``SignedLicense``, or why it is not one. Its
    signing time is the document's when it states one, else the envelope's (which the
    signature covers too)."""
    from lxml import etree

    from signing.license_xml import (
        SIGNING_TIME_TAG,
        SignedContentError,
        format_signing_time,
        parse_license_document,
        read_signed_license,
    )
    from standards.formats import UnreadableInput, UnsafeInput

    try:
        root = parse_license_document(data)
        if report.signing_time is not None and not any(c.tag == SIGNING_TIME_TAG for c in root):
            stamp = etree.SubElement(root, SIGNING_TIME_TAG)
            stamp.text = format_signing_time(report.signing_time)
        return read_signed_license(root, data), None
    except (UnsafeInput, UnreadableInput, SignedContentError) as exc:
        return None, str(exc)
