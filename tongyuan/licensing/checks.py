"""One license, checked: its signature (from the blob store) and what the libraries say.

Checks, each a ``signing.report.Check`` (failed details name a rule id in brackets):

- the signature report of the stored file (``signing.xmldsig`` or the detached envelope);
- ``license.content``: the license as signed is the catalogue record in the library, as
  its columns say (the holder compared by keyed hash, never in clear); only signed content
  that verified counts, and signed content that does not read as a license fails it;
- the license's own semantics (``signing.license_checks``: identifier, issuer, validity,
  signed within validity);
- ``license.status``: valid, expired (``valid_to`` before the check date), not yet valid,
  revoked, or superseded by a newer version of the same GB/T 36904 identifier;
- ``license.holder``: a case of the license's item was applied for by the holder (keyed
  hash of the ID against the case library);
- ``license.item``: the item the license results from is in force in the item library.

A license is *usable* when the signature PASSED, the status is valid and no check failed.
The signer's CA names (by issuer name, from the carried chain and the trust directory) and
the CRL numbers in force for them are kept, so a CRL change can find the licenses it
concerns (:mod:`tongyuan.licensing.run`). Nothing here writes to the database.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from cryptography import x509
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.detached import verify_detached
from signing.license_checks import check_license_semantics
from signing.license_xml import (
    SignedContentError,
    SignedLicense,
    parse_license_document,
    read_signed_license,
)
from signing.report import Check, SubIndication, VerificationReport
from signing.trust import TrustStore, authority_key
from signing.verify import InputRefused, read_limited
from signing.xmldsig import DS, read_verified_license_xml, report_for_refused_input
from standards.codes.enums import CaseState, LicenseStatus
from standards.formats import UnreadableInput, UnsafeInput
from standards.identifiers import InvalidIdentifier, parse_license_identifier
from standards.records import License
from tongyuan.config import Settings
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.items import current_item
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.libraries.materials import blob_path
from tongyuan.privacy import PiiProtector

NOT_YET_VALID = "not_yet_valid"
MAX_CHAIN = 8
# Fields the signed document and the catalogue record must agree on. ``status`` changes
# after signing (a revocation), ``file``/``signature_ref`` name where the document lies.
_NOT_COMPARED = frozenset({"status", "file", "signature_ref", "holder_id", "holder_id_masked"})
_APPROVED = (CaseState.DONE_APPROVED.value, CaseState.DONE_TOLERANCE.value)

SeriesKey = tuple[str, str, str]  # (type code, issuer code, serial) of an identifier


@dataclass(slots=True)
class LicenseOutcome:
    """Everything one check of one license found (stored as a ``license_checks`` row)."""

    identifier: str
    report: VerificationReport
    license_status: str
    content_matches: bool | None
    holder_matches: bool | None
    item_exists: bool | None
    checks: list[Check] = field(default_factory=list)
    issuers: list[str] = field(default_factory=list)
    crl_numbers: dict[str, int | None] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """PASSED, valid, and no check failed, the signature report's own included (a
        failed check there must never leave a license usable, whatever the indication)."""
        return (
            self.report.passed
            and self.license_status == LicenseStatus.VALID.value
            and all(c.passed is not False for c in (*self.report.checks, *self.checks))
        )


def series_key(identifier: str) -> tuple[SeriesKey, str] | None:
    """The identifier's (type code, issuer, serial) and version; None if it does not parse."""
    try:
        ident = parse_license_identifier(identifier)
    except InvalidIdentifier:
        return None
    return (ident.type_code.upper(), ident.issuer_code.upper(), ident.serial.upper()), ident.version


def newest_versions(session: Session, issuer_codes: set[str]) -> dict[SeriesKey, str]:
    """Highest version per identifier series among licenses of these issuers."""
    newest: dict[SeriesKey, str] = {}
    if not issuer_codes:
        return newest
    rows = session.scalars(
        select(LicenseRow.identifier).where(LicenseRow.issuer_code.in_(sorted(issuer_codes)))
    )
    for identifier in rows:
        parsed = series_key(identifier)
        if parsed is not None and parsed[1] > newest.get(parsed[0], ""):
            newest[parsed[0]] = parsed[1]
    return newest


def _read_blob(settings: Settings, sha256: str) -> bytes:
    return read_limited(blob_path(settings, sha256))


def _not_found(detail: str) -> VerificationReport:
    return VerificationReport.failure(
        SubIndication.SIGNED_DATA_NOT_FOUND, [Check("signed_data", False, detail)], format="unknown"
    )


def _carried_certificates(data: bytes, envelope: bytes | None) -> list[bytes]:
    """DER certificates the signature carries (signer first), for naming its CAs only."""
    try:
        if envelope is not None:
            doc = json.loads(envelope)
            return [base64.b64decode(c) for c in doc.get("certificates", [])]
        root = parse_license_document(data)
        return [
            base64.b64decode("".join((e.text or "").split()))
            for e in root.iter(f"{{{DS}}}X509Certificate")
        ]
    except (ValueError, TypeError, UnsafeInput, UnreadableInput, etree.LxmlError):
        return []


def _not_a_license(report: VerificationReport, error: str) -> VerificationReport:
    """The report of a detached license whose signed file does not read as a license.

    A valid envelope over some other file (a delivery manifest, a document whose field
    holds markup) proves nothing about this license. As for an XML-DSig license whose
    signed element is not a license, that is ``FAILED/FORMAT_FAILURE`` (the most severe
    sub-indication, so it stands whatever else failed); left PASSED, the license was
    offered as usable with its content never compared. When the signature value or the
    digest failed, the file is not what was signed and its layout says nothing more.
    """
    authentic = {c.name: c.passed for c in report.checks}
    if not (authentic.get("signature_value") and authentic.get("data_digest")):
        return report
    checks = [
        *report.checks,
        Check("signed_content", False, f"the signed file is not a license document: {error}"),
    ]
    return dataclasses.replace(
        report,
        indication=SubIndication.FORMAT_FAILURE.indication,
        subindication=SubIndication.FORMAT_FAILURE,
        checks=checks,
    )


def verify_stored_signature(
    settings: Settings, row: LicenseRow, trust: TrustStore, *, now: datetime
) -> tuple[VerificationReport, SignedLicense | None, list[bytes]]:
    """The signature report of the license's stored file, the signed content when the
    signature verified, and the certificates it carries."""
    if row.file_sha256 is None:
        named = "named but not delivered" if row.file else "not named by the record"
        return _not_found(f"license file {named}"), None, []
    try:
        data = _read_blob(settings, row.file_sha256)
        sig = row.signature_sha256
        envelope = None if sig is None else _read_blob(settings, sig)
    except InputRefused as exc:
        return _not_found(f"stored license file unreadable: {exc}"), None, []
    certs = _carried_certificates(data, envelope)
    if envelope is None and row.signature_ref:
        return _not_found("detached signature named but not delivered"), None, certs
    if envelope is not None:
        # The issuing authority decides which anchors count (as for XML licenses): the
        # issuer code of the document itself, which the envelope's digest covers; the
        # catalogue row's when the document does not read (its report fails anyway).
        content: SignedLicense | None = None
        content_error = ""
        try:
            content = read_signed_license(parse_license_document(data), data)
        except (SignedContentError, UnsafeInput, UnreadableInput) as exc:
            content_error = str(exc)
        issuer = content.fields.get("issuer_code") if content is not None else row.issuer_code
        report = verify_detached(data, envelope, trust, now=now, authority=authority_key(issuer))
        if content is None:
            report = _not_a_license(report, content_error)
        return report, content if report.passed else None, certs
    try:
        verification = read_verified_license_xml(data, trust, now=now)
    except (UnsafeInput, UnreadableInput) as exc:
        return report_for_refused_input(exc), None, certs
    return verification.report, verification.signed, certs


def issuer_path(certs: list[bytes], signer_fingerprint: str | None, trust: TrustStore) -> list[str]:
    """Names of the CAs above the signer (issuer first), followed by name only.

    Not a trust decision (``TrustStore.validate`` made that): it tells which CRLs speak
    for this license, so that a changed CRL re-checks exactly the licenses below its CA.
    """
    parsed: list[x509.Certificate] = []
    for der in certs:
        try:
            parsed.append(x509.load_der_x509_certificate(der))
        except ValueError:
            continue
    if not parsed:
        return []
    signer = next(
        (
            c
            for c, der in zip(parsed, certs, strict=False)
            if hashlib.sha256(der).hexdigest() == signer_fingerprint
        ),
        parsed[0],
    )
    pool = [*parsed, *trust.intermediates, *(a for group in trust.anchors.values() for a in group)]
    by_subject: dict[x509.Name, x509.Certificate] = {}
    for cert in pool:
        by_subject.setdefault(cert.subject, cert)
    names: list[str] = []
    current = signer
    while len(names) < MAX_CHAIN and current.issuer != current.subject:
        names.append(current.issuer.rfc4514_string())
        parent = by_subject.get(current.issuer)
        if parent is None:
            break
        current = parent
    return names


def crl_numbers(trust: TrustStore, issuers: list[str]) -> dict[str, int | None]:
    """The highest CRL number in the trust directory per CA name (None: no CRL, or unnumbered)."""
    numbers: dict[str, int | None] = {}
    for name in issuers:
        best: int | None = None
        for crl in trust.crls:
            if crl.issuer.rfc4514_string() != name:
                continue
            try:
                number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
            except x509.ExtensionNotFound:
                continue
            best = number if best is None else max(best, number)
        numbers[name] = best
    return numbers


def _column_text(value: object) -> object:
    """A library column in the JSON form of the record (dates as ISO text)."""
    return value.isoformat() if isinstance(value, date) else value


def _content_check(
    signed: SignedLicense | None,
    row: LicenseRow,
    protector: PiiProtector,
    report: VerificationReport,
) -> tuple[Check, License | None]:
    """The license as signed against the catalogue row.

    Signed content that verified but does not read as a license fails here too (not "not
    compared"): it is not proven to be this license, and a run counts it among the
    content mismatches.
    """
    name = "license.content"
    unreadable = next(
        (c for c in report.checks if c.name == "signed_content" and c.passed is False), None
    )
    if unreadable is not None:
        return (
            Check(
                name,
                False,
                f"the signed content cannot be read as this license ({unreadable.detail}) "
                "[license.content.unreadable]",
            ),
            None,
        )
    if signed is None:
        return Check(name, None, "not compared: no verified signed content"), None
    record, findings = signed.record()
    if record is None:
        rules = ", ".join(sorted({f.rule for f in findings}))
        return Check(name, False, f"the signed license is not a valid record [{rules}]"), None
    as_signed = record.model_dump(mode="json", exclude_none=True)
    differing = [
        key
        for key in sorted(set(License.model_fields) - _NOT_COMPARED)
        if as_signed.get(key) != _column_text(getattr(row, key))
    ]
    if protector.lookup_hash(record.holder_id) != row.holder_id_hash:
        differing.append("holder_id")
    if differing:
        return (
            Check(
                name,
                False,
                f"the signed license differs from the catalogue record in {', '.join(differing)} "
                "[license.content.mismatch]",
            ),
            record,
        )
    return Check(name, True, "the signed license is the catalogue record"), record


def license_status(row: LicenseRow, on: date, newest: Mapping[SeriesKey, str]) -> tuple[str, Check]:
    """Status of the catalogue entry on ``on``: revoked, superseded, expired, not yet valid
    or valid (the first that applies)."""
    name = "license.status"
    parsed = series_key(row.identifier)
    newer = parsed is not None and newest.get(parsed[0], parsed[1]) > parsed[1]
    if row.status == LicenseStatus.REVOKED.value:
        return LicenseStatus.REVOKED.value, Check(name, False, "revoked in the license library")
    if newer or row.status == LicenseStatus.SUPERSEDED.value:
        detail = f"superseded by version {newest[parsed[0]]}" if newer and parsed else "superseded"
        return LicenseStatus.SUPERSEDED.value, Check(name, False, detail)
    expired = row.valid_to is not None and row.valid_to < on
    if expired or row.status == LicenseStatus.EXPIRED.value:
        until = row.valid_to.isoformat() if row.valid_to else "?"
        return LicenseStatus.EXPIRED.value, Check(
            name, False, f"expired: valid to {until}, checked on {on.isoformat()}"
        )
    if row.valid_from > on:
        return NOT_YET_VALID, Check(
            name, False, f"not yet valid: valid from {row.valid_from.isoformat()}"
        )
    return LicenseStatus.VALID.value, Check(name, True, f"valid on {on.isoformat()}")


@dataclass(slots=True)
class LibraryFacts:
    """What the libraries say about a chunk of licenses, read with a few queries.

    Checking licenses one query at a time costs more than verifying their signatures;
    the case and item facts of a whole chunk are read at once instead.
    """

    newest: Mapping[SeriesKey, str]
    case_states: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    items_with_cases: set[str] = field(default_factory=set)
    items_in_force: dict[str, bool] = field(default_factory=dict)
    # Per signer fingerprint: CA names above it and their CRL numbers (same for a run).
    chains: dict[str, tuple[list[str], dict[str, int | None]]] = field(default_factory=dict)

    def read(self, session: Session, rows: list[LicenseRow]) -> None:
        """Load the case and item facts of ``rows`` (adds to what is known)."""
        codes = sorted({r.item_code for r in rows if r.item_code} - self.items_with_cases)
        hashes = sorted({r.holder_id_hash for r in rows})
        if codes:
            found = session.execute(
                select(CaseRow.impl_code, CaseRow.applicant_id_hash, CaseRow.current_state).where(
                    CaseRow.impl_code.in_(codes), CaseRow.applicant_id_hash.in_(hashes)
                )
            )
            for code, id_hash, state in found:
                self.case_states.setdefault((code, id_hash), []).append(state)
            self.items_with_cases.update(
                session.scalars(
                    select(CaseRow.impl_code).where(CaseRow.impl_code.in_(codes)).distinct()
                )
            )
        for code in {r.item_code for r in rows if r.item_code} - set(self.items_in_force):
            self.items_in_force[code] = current_item(session, code) is not None


def holder_check(facts: LibraryFacts, row: LicenseRow) -> tuple[bool | None, Check]:
    """The holder applied for the license's item (keyed hashes, never the clear ID)."""
    name = "license.holder"
    if not row.item_code:
        return None, Check(name, None, "not checked: the license names no item")
    states = facts.case_states.get((row.item_code, row.holder_id_hash), [])
    if states:
        approved = sum(s in _APPROVED for s in states)
        return True, Check(
            name,
            True,
            f"the holder applied for the item ({len(states)} case(s), {approved} approved)",
        )
    if row.item_code not in facts.items_with_cases:
        return None, Check(name, None, "not checked: no case of the item in the case library")
    return False, Check(
        name,
        False,
        "no case of the item was applied for by the holder (ID compared by keyed hash) "
        "[license.holder.mismatch]",
    )


def item_check(facts: LibraryFacts, row: LicenseRow) -> tuple[bool | None, Check]:
    name = "license.item"
    if not row.item_code:
        return None, Check(name, None, "not checked: the license names no item")
    if not facts.items_in_force.get(row.item_code, False):
        return False, Check(
            name,
            False,
            f"item {row.item_code} is not in force in the item library [license.item.missing]",
        )
    return True, Check(name, True, f"item {row.item_code} is in force")


def check_license(
    settings: Settings,
    row: LicenseRow,
    trust: TrustStore,
    facts: LibraryFacts,
    *,
    protector: PiiProtector,
    now: datetime,
    on: date,
) -> LicenseOutcome:
    """Every check of one license (see the module docstring); ``facts`` must have read it."""
    report, signed, certs = verify_stored_signature(settings, row, trust, now=now)
    content, record = _content_check(signed, row, protector, report)
    checks = [content]
    if record is not None and signed is not None:
        checks.extend(check_license_semantics(record, signing_time=signed.signing_time))
    status, status_check = license_status(row, on, facts.newest)
    holder, h_check = holder_check(facts, row)
    item, i_check = item_check(facts, row)
    checks.extend([status_check, h_check, i_check])
    key = report.signer_fingerprint or ""
    if key and key in facts.chains:
        issuers, numbers = facts.chains[key]
    else:
        issuers = issuer_path(certs, report.signer_fingerprint, trust)
        numbers = crl_numbers(trust, issuers)
        if key:
            facts.chains[key] = (issuers, numbers)
    return LicenseOutcome(
        identifier=row.identifier,
        report=report,
        license_status=status,
        content_matches=content.passed,
        holder_matches=holder,
        item_exists=item,
        checks=checks,
        issuers=list(issuers),
        crl_numbers=dict(numbers),
    )
