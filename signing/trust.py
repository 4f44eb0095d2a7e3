"""Trust directories and certificate path validation done by hand.

cryptography's verifier knows neither SM2, nor CRLs, nor document-signing key usages, so
the path is built and validated here (RFC 5280 §6 reduced to what document signatures
need). Trust comes only from the directory, never from the system CA store.

Layout of a trust directory::

    anchors/*.pem               trust anchors for any issuing authority
    anchors/<authority>/*.pem   anchors that vouch only for that authority
                                (e.g. its USCC, as licenses name it)
    intermediates/*.pem         CA certificates that help build paths (not trusted)
    crls/*.pem | *.crl | *.der  CRLs, refreshed by a DAG

Every check runs and is reported; the sub-indication is the most severe failure
(``signing.report.SEVERITY``): NO_CERTIFICATE_CHAIN_FOUND when no path with verifying
signatures reaches an anchor, else REVOKED, EXPIRED / NOT_YET_VALID (any certificate, at
the signing time), REVOKED_NO_POE, CRYPTO_CONSTRAINTS_FAILURE, CHAIN_CONSTRAINTS_FAILURE,
REVOCATION_OUT_OF_BOUNDS_NO_POE, TRY_LATER (CRL missing or stale).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from signing.algorithms import (
    certificate_signature_algorithm,
    certificate_spki,
    check_crypto_constraints,
    verify_signature,
)
from signing.crl import revocation_status, subject_key_id
from signing.der import DerError, signature_algorithms_agree
from signing.report import Check, SubIndication, most_severe

MAX_PATH_LENGTH = 8
MAX_TRUST_FILE_BYTES = 4 * 1024 * 1024
ANY_AUTHORITY = "*"

# Extended key usages accepted on a document-signing certificate (when EKU is present).
DOCUMENT_SIGNING_EKUS = frozenset(
    {
        x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36"),  # id-kp-documentSigning (RFC 9336)
        x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12"),  # Microsoft document signing
        x509.ObjectIdentifier("1.2.840.113583.1.1.5"),  # Adobe authentic documents
        ExtendedKeyUsageOID.EMAIL_PROTECTION,  # S/MIME signers sign documents too
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    }
)
_UNDERSTOOD_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.CERTIFICATE_POLICIES,
    }
)


class TrustStoreError(ValueError):
    """A trust directory that cannot be loaded (names the file)."""


@dataclass
class ChainResult:
    """Outcome of validating a signer certificate against a trust store."""

    ok: bool
    subindication: SubIndication | None
    checks: list[Check]
    path: list[x509.Certificate] = field(default_factory=list)  # signer first, anchor last
    anchor_authority: str | None = None  # directory the anchor came from; "*" = any


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 hex of the certificate's DER (how reports name a certificate)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def describe(cert: x509.Certificate) -> str:
    """Subject DN and serial, for check details."""
    return f"{cert.subject.rfc4514_string()} (serial {cert.serial_number:x})"


def _read_limited(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_TRUST_FILE_BYTES:
        raise TrustStoreError(f"{path}: {size} bytes is too large for a trust file")
    return path.read_bytes()


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file (several allowed) or a single DER file."""
    data = _read_limited(path)
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise TrustStoreError(f"{path}: not a certificate file ({exc})") from exc


def load_crl(path: Path) -> x509.CertificateRevocationList:
    """A CRL file, PEM or DER."""
    data = _read_limited(path)
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise TrustStoreError(f"{path}: not a CRL ({exc})") from exc


def _files(directory: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


@dataclass
class TrustStore:
    """Anchors per issuing authority, helper intermediates and CRLs."""

    anchors: dict[str, list[x509.Certificate]]  # authority ("*" = any) -> anchors
    intermediates: list[x509.Certificate]
    crls: list[x509.CertificateRevocationList]
    directory: Path | None = None

    @classmethod
    def load(cls, directory: Path) -> TrustStore:
        """Read a trust directory; a missing directory or one without anchors is an error."""
        directory = Path(directory)
        if not directory.is_dir():
            raise TrustStoreError(f"{directory}: trust directory not found")
        cert_suffixes = (".pem", ".crt", ".cer", ".der")
        anchors: dict[str, list[x509.Certificate]] = {}
        anchor_dir = directory / "anchors"
        general = [c for p in _files(anchor_dir, cert_suffixes) for c in load_certificates(p)]
        if general:
            anchors[ANY_AUTHORITY] = general
        if anchor_dir.is_dir():
            for sub in sorted(p for p in anchor_dir.iterdir() if p.is_dir()):
                certs = [c for p in _files(sub, cert_suffixes) for c in load_certificates(p)]
                if certs:
                    anchors[sub.name] = certs
        if not anchors:
            raise TrustStoreError(f"{directory}: no trust anchors under anchors/")
        intermediates = [
            c
            for p in _files(directory / "intermediates", cert_suffixes)
            for c in load_certificates(p)
        ]
        crls = [load_crl(p) for p in _files(directory / "crls", (".pem", ".crl", ".der"))]
        return cls(anchors, intermediates, crls, directory)

    def anchors_for(self, authority: str | None) -> list[tuple[str, x509.Certificate]]:
        """(authority, anchor) pairs usable for ``authority``; None = any configured anchor."""
        out: list[tuple[str, x509.Certificate]] = []
        for auth, certs in self.anchors.items():
            if authority is None or auth in (authority, ANY_AUTHORITY):
                out.extend((auth, c) for c in certs)
        return out

    def validate(
        self,
        signer_cert_der: bytes,
        extra_certs: Sequence[bytes],
        *,
        at: datetime,
        authority: str | None = None,
        now: datetime | None = None,
    ) -> ChainResult:
        """Build a path from the signer to an anchor and validate it for a signature made ``at``.

        ``extra_certs`` are the certificates the signature carried; they only help build
        the path and are never trusted by themselves.
        """
        now = now or datetime.now(UTC)
        if at.tzinfo is None or now.tzinfo is None:
            raise ValueError("signing and validation times must be timezone-aware")
        checks: list[Check] = []
        try:
            signer = x509.load_der_x509_certificate(signer_cert_der)
        except ValueError as exc:
            checks.append(Check("signer_certificate", False, f"unparseable: {exc}"))
            return ChainResult(False, SubIndication.FORMAT_FAILURE, checks)
        pool: list[x509.Certificate] = []
        for i, der in enumerate(extra_certs):
            try:
                pool.append(x509.load_der_x509_certificate(der))
            except ValueError:
                checks.append(Check("carried_certificate", None, f"#{i} unparseable, ignored"))
        pool.extend(self.intermediates)
        anchors = self.anchors_for(authority)
        built = _build_path(signer, pool, anchors)
        if built.path is None:
            checks.append(Check("chain_building", False, built.detail))
            return ChainResult(False, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, checks)
        path, anchor_authority = built.path, built.anchor_authority
        checks.append(
            Check(
                "chain_building",
                True,
                " <- ".join(c.subject.rfc4514_string() for c in path)
                + f" (anchor for authority {anchor_authority})",
            )
        )
        failures: list[SubIndication] = []
        for sub, check in _path_checks(path, self.crls, at=at, now=now):
            checks.append(check)
            if sub is not None:
                failures.append(sub)
        if failures:
            return ChainResult(False, most_severe(failures), checks, path, anchor_authority)
        return ChainResult(True, None, checks, path, anchor_authority)


@dataclass
class _Built:
    path: list[x509.Certificate] | None
    anchor_authority: str | None
    detail: str


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Name chaining plus AKI/SKI agreement (when both are present)."""
    if child.issuer != parent.subject:
        return False
    try:
        aki = child.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return True
    ski = subject_key_id(parent)
    return aki.key_identifier is None or ski is None or aki.key_identifier == ski


def _signature_ok(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        if not signature_algorithms_agree(child.public_bytes(serialization.Encoding.DER)):
            return False
        return verify_signature(
            certificate_spki(parent),
            child.signature,
            child.tbs_certificate_bytes,
            certificate_signature_algorithm(child),
        )
    except (ValueError, DerError):
        return False


def _build_path(
    signer: x509.Certificate,
    pool: Sequence[x509.Certificate],
    anchors: Sequence[tuple[str, x509.Certificate]],
) -> _Built:
    """Depth-first search for a path ending at an anchor; anchors are tried first."""
    anchor_ders = {c.public_bytes(serialization.Encoding.DER): a for a, c in anchors}
    problems: list[str] = []

    def walk(path: list[x509.Certificate]) -> _Built | None:
        current = path[-1]
        der = current.public_bytes(serialization.Encoding.DER)
        if der in anchor_ders:
            return _Built(list(path), anchor_ders[der], "")
        if len(path) > MAX_PATH_LENGTH:
            problems.append("path longer than allowed")
            return None
        seen = {c.fingerprint(hashes.SHA256()) for c in path}
        candidates = [c for _, c in anchors] + list(pool)
        for parent in candidates:
            if parent.fingerprint(hashes.SHA256()) in seen or not _issued_by(current, parent):
                continue
            if not _signature_ok(current, parent):
                problems.append(
                    f"signature of {describe(current)} does not verify with "
                    f"the key of {describe(parent)}"
                )
                continue
            found = walk([*path, parent])
            if found is not None:
                return found
        return None

    found = walk([signer])
    if found is not None:
        return found
    detail = f"no path from {describe(signer)} to a trust anchor"
    if problems:
        detail += ": " + "; ".join(dict.fromkeys(problems))
    else:
        detail += f" (issuer {signer.issuer.rfc4514_string()} unknown or untrusted)"
    return _Built(None, None, detail)


def _path_checks(
    path: list[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    *,
    at: datetime,
    now: datetime,
) -> list[tuple[SubIndication | None, Check]]:
    out: list[tuple[SubIndication | None, Check]] = []
    n = len(path)
    for i, cert in enumerate(path):
        kind = "signer" if i == 0 else "anchor" if i == n - 1 else "intermediate"
        role = f"intermediate {i}" if kind == "intermediate" and n > 3 else kind
        out.append(_validity(cert, role, at))
        out.extend(_extensions(cert, role, kind=kind, index=i))
        if i + 1 < n:
            issuer = path[i + 1]
            algorithm = certificate_signature_algorithm(cert)
            c = check_crypto_constraints(algorithm, certificate_spki(issuer))
            c.name = f"crypto_constraints: {role} certificate"
            c.detail = f"{describe(cert)} signed with {c.detail}"
            out.append((None if c.passed else SubIndication.CRYPTO_CONSTRAINTS_FAILURE, c))
            status = revocation_status(cert, issuer, crls, at=at, now=now)
            status.check.name = f"revocation: {role}"
            out.append((status.subindication, status.check))
    return out


def _validity(
    cert: x509.Certificate, role: str, at: datetime
) -> tuple[SubIndication | None, Check]:
    name = f"validity: {role}"
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    span = (
        f"{describe(cert)} valid {nb.isoformat()} to {na.isoformat()}, "
        f"signing time {at.isoformat()}"
    )
    if at < nb:
        return SubIndication.NOT_YET_VALID, Check(name, False, "not yet valid: " + span)
    if at > na:
        return SubIndication.EXPIRED, Check(name, False, "expired: " + span)
    return None, Check(name, True, span)


def _extensions(
    cert: x509.Certificate, role: str, *, kind: str, index: int
) -> list[tuple[SubIndication | None, Check]]:
    fail = SubIndication.CHAIN_CONSTRAINTS_FAILURE
    name = f"constraints: {role}"
    problems: list[str] = []
    exts = cert.extensions
    for ext in exts:
        if ext.critical and ext.oid not in _UNDERSTOOD_EXTENSIONS:
            problems.append(f"unsupported critical extension {ext.oid.dotted_string}")
    try:
        bc: x509.BasicConstraints | None = exts.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    try:
        ku: x509.KeyUsage | None = exts.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if kind == "signer":
        if bc is not None and bc.ca:
            problems.append("a CA certificate must not sign documents")
        if ku is None:
            problems.append("keyUsage missing")
        elif not (ku.digital_signature or ku.content_commitment):
            problems.append("keyUsage allows neither digitalSignature nor nonRepudiation")
        try:
            eku = exts.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            eku = None
        if eku is not None and not DOCUMENT_SIGNING_EKUS.intersection(eku):
            problems.append("extendedKeyUsage does not allow document signing")
    else:
        if bc is None or not bc.ca:
            problems.append("not a CA (basicConstraints cA missing or false)")
        elif bc.path_length is not None:
            below = index - 1  # intermediate CAs between this CA and the signer
            if below > bc.path_length:
                problems.append(f"pathLenConstraint {bc.path_length} exceeded ({below} below)")
        if ku is None and kind == "intermediate":
            problems.append("keyUsage missing on an intermediate CA")
        elif ku is not None and not ku.key_cert_sign:
            problems.append("keyUsage lacks keyCertSign")
    if problems:
        return [(fail, Check(name, False, f"{describe(cert)}: " + "; ".join(problems)))]
    return [(None, Check(name, True, f"{describe(cert)}: extensions fit the role"))]
