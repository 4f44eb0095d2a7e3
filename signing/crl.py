"""Revocation status of one certificate from the CRLs of a trust directory.

Rules (RFC 5280 §6.3, with the EN 319 102-1 outcomes):
- only a CRL issued by the certificate's issuer, whose signature verifies with the
  issuer's key under acceptable algorithms, and whose issuer may sign CRLs, counts;
- a serial on the CRL with a revocation date at or before the signing time is REVOKED,
  even if the CRL is stale or a newer one no longer lists it (revocation is final);
- certificateHold is reversible (RFC 5280 §5.3.1: a later CRL releases it by dropping the
  entry or listing it as removeFromCRL), so a hold counts only on the issuer's newest
  usable CRL (latest thisUpdate, then highest cRLNumber): TRY_LATER — unless some CRL
  lists a revocation (any other reason), which is final and decides instead;
- revoked after the signing time for key compromise: the signing time is only claimed by
  the signer, a thief could backdate, so REVOKED_NO_POE; other reasons pass (a hold on
  the newest CRL still holds then);
- no usable CRL, or the newest one past its nextUpdate: TRY_LATER (never PASSED);
- a CRL issued after the certificate expired may have dropped it (unless it carries
  ExpiredCertsOnCRL reaching back far enough): REVOCATION_OUT_OF_BOUNDS_NO_POE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

from signing.algorithms import (
    certificate_signature_algorithm,
    certificate_spki,
    check_crypto_constraints,
    verify_signature,
)
from signing.der import DerError, read_tlv, signature_value_is_octets
from signing.report import Check, SubIndication

OID_EXPIRED_CERTS_ON_CRL = x509.ObjectIdentifier("2.5.29.60")
_GENERALIZED_TIME = 0x18


@dataclass
class RevocationStatus:
    """Outcome for one certificate: ``subindication`` None means good."""

    subindication: SubIndication | None
    check: Check


def _describe(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string()} (serial {cert.serial_number:x})"


def _key_id(ext_owner: x509.Certificate | x509.CertificateRevocationList) -> bytes | None:
    try:
        aki = ext_owner.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None
    return aki.key_identifier


def subject_key_id(cert: x509.Certificate) -> bytes | None:
    """The SubjectKeyIdentifier, if the certificate has one."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def may_sign_crls(issuer: x509.Certificate) -> bool:
    """keyUsage, when present, must allow cRLSign."""
    try:
        ku = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ku.crl_sign


def crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> str | None:
    """None when ``issuer`` issued and validly signed ``crl``, else why not."""
    if crl.issuer != issuer.subject:
        return "issuer name differs"
    ski, aki = subject_key_id(issuer), _key_id(crl)
    if ski is not None and aki is not None and ski != aki:
        return "authority key identifier differs"
    if not may_sign_crls(issuer):
        return "issuer keyUsage lacks cRLSign"
    if not signature_value_is_octets(crl.public_bytes(serialization.Encoding.DER)):
        return "CRL signature BIT STRING has unused bits"
    algorithm = certificate_signature_algorithm(crl)
    spki = certificate_spki(issuer)
    constraints = check_crypto_constraints(algorithm, spki)
    if not constraints.passed:
        return f"CRL signature algorithm refused: {constraints.detail}"
    if not verify_signature(spki, crl.signature, crl.tbs_certlist_bytes, algorithm):
        return "CRL signature does not verify with the issuer's key"
    return None


def _scope_excludes(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> str | None:
    """Why this CRL cannot speak for ``cert`` (delta, indirect, partial), or None."""
    exts = crl.extensions
    try:
        exts.get_extension_for_oid(ExtensionOID.DELTA_CRL_INDICATOR)
        return "delta CRLs are not supported"
    except x509.ExtensionNotFound:
        pass
    try:
        idp = exts.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None
    if idp.indirect_crl or idp.only_some_reasons:
        return "indirect or reason-partitioned CRL"
    is_ca = _is_ca(cert)
    if idp.only_contains_user_certs and is_ca:
        return "CRL covers end-entity certificates only"
    if idp.only_contains_ca_certs and not is_ca:
        return "CRL covers CA certificates only"
    if idp.only_contains_attribute_certs:
        return "CRL covers attribute certificates only"
    return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def expired_certs_on_crl(crl: x509.CertificateRevocationList) -> datetime | None:
    """The ExpiredCertsOnCRL date (RFC 5280 §5.2.7 / X.509): revoked certs kept since then."""
    try:
        ext = crl.extensions.get_extension_for_oid(OID_EXPIRED_CERTS_ON_CRL)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else None
    if raw is None:
        return None
    try:
        tlv = read_tlv(raw)
        if tlv.tag != _GENERALIZED_TIME or tlv.end != len(raw):
            return None
        text = tlv.value(raw).decode("ascii")
        return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
    except (DerError, ValueError, UnicodeDecodeError):
        return None


def vet_crls(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    crls: Sequence[x509.CertificateRevocationList],
) -> list[tuple[x509.CertificateRevocationList, str | None]]:
    """The CRLs naming ``issuer``, each with why it cannot speak for ``cert`` (None = usable).

    Depends only on the CRLs, the issuer and whether ``cert`` is a CA, so a trust store
    can keep the result (signature checks are the expensive part).
    """
    out: list[tuple[x509.CertificateRevocationList, str | None]] = []
    for crl in crls:
        if crl.issuer != issuer.subject:
            continue
        out.append((crl, crl_signed_by(crl, issuer) or _scope_excludes(crl, cert)))
    return out


def revocation_status(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    crls: Sequence[x509.CertificateRevocationList],
    *,
    at: datetime,
    now: datetime,
    vetted: Sequence[tuple[x509.CertificateRevocationList, str | None]] | None = None,
    described: str | None = None,
) -> RevocationStatus:
    """Revocation status of ``cert`` (issued by ``issuer``) for a signature made ``at``.

    ``vetted`` is ``vet_crls(cert, issuer, crls)`` and ``described`` the certificate's
    description for check details, when the caller already has them.
    """
    name = "revocation"
    subject = described or _describe(cert)
    usable: list[x509.CertificateRevocationList] = []
    rejected: list[str] = []
    for crl, why in vet_crls(cert, issuer, crls) if vetted is None else vetted:
        if why is None and crl.last_update_utc > now:
            why = f"CRL thisUpdate {crl.last_update_utc.isoformat()} is in the future"
        if why is None:
            usable.append(crl)
        else:
            rejected.append(why)
    if not usable:
        detail = f"{subject}: no usable CRL from {issuer.subject.rfc4514_string()}"
        if rejected:
            detail += " (" + "; ".join(rejected) + ")"
        return RevocationStatus(SubIndication.TRY_LATER, Check(name, None, detail))
    # Revocation is final: a revocation (any reason but certificateHold/removeFromCRL) on
    # any usable CRL outranks a hold, which counts only on the newest CRL (an older CRL's
    # hold may have been released since). Reading the CRLs newest first and stopping at
    # the first listing let a hold on the newest CRL hide an older CRL's revocation.
    by_age = sorted(usable, key=_newness, reverse=True)
    newest = by_age[0]
    revocations: list[tuple[datetime, x509.ReasonFlags | None]] = []
    on_hold: datetime | None = None
    for crl in by_age:
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is None:
            continue
        reason = _reason(entry)
        when = entry.revocation_date_utc
        if reason == x509.ReasonFlags.remove_from_crl:
            continue
        if reason == x509.ReasonFlags.certificate_hold:
            if crl is newest:
                on_hold = when
            continue
        revocations.append((when, reason))
    in_time = [r for r in revocations if r[0] <= at]
    if in_time:
        when, reason = min(in_time, key=lambda r: r[0])
        return RevocationStatus(
            SubIndication.REVOKED,
            Check(
                name,
                False,
                f"{subject} revoked {when.isoformat()} "
                f"({reason.value if reason else 'unspecified'}),"
                f" at or before the signing time {at.isoformat()}",
            ),
        )
    compromised = [r for r in revocations if r[1] in _NO_POE_REASONS]
    if compromised:
        when, reason = min(compromised, key=lambda r: r[0])
        return RevocationStatus(
            SubIndication.REVOKED_NO_POE,
            Check(
                name,
                False,
                f"{subject} revoked {when.isoformat()} for "
                f"{reason.value if reason else 'an unspecified reason'} after the claimed "
                "signing time; without proof of existence the signature may be backdated",
            ),
        )
    if on_hold is not None:
        return RevocationStatus(
            SubIndication.TRY_LATER,
            Check(name, None, f"certificate on hold since {on_hold.isoformat()}"),
        )
    if revocations:
        when, reason = min(revocations, key=lambda r: r[0])
        assert reason is not None  # no reason is a compromise (above)
        return RevocationStatus(
            None,
            Check(
                name,
                True,
                f"{subject} revoked {when.isoformat()} ({reason.value}), after signing",
            ),
        )
    next_update = newest.next_update_utc
    if next_update is None or next_update < now:
        stale = next_update.isoformat() if next_update else "no nextUpdate"
        return RevocationStatus(
            SubIndication.TRY_LATER,
            Check(
                name,
                None,
                f"newest CRL from {issuer.subject.rfc4514_string()} is stale "
                f"(nextUpdate {stale}, now {now.isoformat()})",
            ),
        )
    if cert.not_valid_after_utc < newest.last_update_utc:
        kept_since = expired_certs_on_crl(newest)
        if kept_since is None or kept_since > cert.not_valid_after_utc:
            return RevocationStatus(
                SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE,
                Check(
                    name,
                    None,
                    f"CRL issued {newest.last_update_utc.isoformat()} after the certificate "
                    f"expired ({cert.not_valid_after_utc.isoformat()}) and may have dropped it",
                ),
            )
    return RevocationStatus(
        None,
        Check(
            name,
            True,
            f"{subject} not revoked (CRL of {newest.last_update_utc.isoformat()}, "
            f"next update {next_update.isoformat()})",
        ),
    )


# Revoked after the claimed signing time for these reasons (or none): the time may be forged.
_NO_POE_REASONS = (x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise, None)


def _newness(crl: x509.CertificateRevocationList) -> tuple[datetime, int]:
    """Order of an issuer's CRLs: thisUpdate, then cRLNumber (RFC 5280 §5.2.3, increasing).

    thisUpdate leads because it is what staleness is judged by, and a CA whose counter
    restarted (new CA software) still issues later CRLs with later thisUpdate.
    """
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = -1
    return crl.last_update_utc, number


def _reason(entry: x509.RevokedCertificate) -> x509.ReasonFlags | None:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None
