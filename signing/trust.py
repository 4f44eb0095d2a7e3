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

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from signing.algorithms import (
    certificate_signature_algorithm,
    certificate_spki,
    check_crypto_constraints,
    verify_signature,
)
from signing.crl import revocation_status, subject_key_id, vet_crls
from signing.der import DerError, signature_algorithms_agree, signature_value_is_octets
from signing.report import Check, SubIndication, most_severe

MAX_PATH_LENGTH = 8
MAX_TRUST_FILE_BYTES = 4 * 1024 * 1024
ANY_AUTHORITY = "*"


def authority_key(code: str | None) -> str:
    """The anchors/ sub-directory name that vouches for the authority ``code`` (a USCC or
    region code, upper case); no code means only the general anchors count, never an
    anchor scoped to some other authority."""
    return (code or "").strip().upper() or ANY_AUTHORITY


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


# What cryptography raises for certificates and CRLs it parses only lazily.
PARSE_ERRORS = (
    ValueError,
    TypeError,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
)


def _touch(cert: x509.Certificate) -> None:
    """Parse every field path validation reads, so errors surface here, not mid-check."""
    with warnings.catch_warnings():
        # odd-but-parseable fields warn; the checks below decide, not the warning
        warnings.simplefilter("ignore")
        serial = cert.serial_number
        if serial <= 0:
            raise ValueError(f"serial number {serial} is not positive (RFC 5280 §4.1.2.2)")
        _ = (cert.version, cert.subject, cert.issuer, cert.extensions, cert.signature_algorithm_oid)
        _ = (cert.not_valid_before_utc, cert.not_valid_after_utc)


def parse_certificate(der: bytes) -> x509.Certificate:
    """A certificate whose extensions parse too (cryptography parses them lazily)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cert = x509.load_der_x509_certificate(der)
        _touch(cert)
    except PARSE_ERRORS as exc:
        raise ValueError(f"unparseable certificate: {exc}") from exc
    return cert


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file (several allowed) or a single DER file."""
    data = _read_limited(path)
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
        for cert in certs:
            _touch(cert)
    except PARSE_ERRORS as exc:
        raise TrustStoreError(f"{path}: not a certificate file ({exc})") from exc
    return certs


def load_crl(path: Path) -> x509.CertificateRevocationList:
    """A CRL file, PEM or DER, with its extensions and entries parsed up front."""
    data = _read_limited(path)
    try:
        if b"-----BEGIN" in data:
            crl = x509.load_pem_x509_crl(data)
        else:
            crl = x509.load_der_x509_crl(data)
        _ = (crl.issuer, crl.last_update_utc, crl.next_update_utc, crl.extensions)
        _ = (crl.signature_algorithm_oid, crl.signature, crl.tbs_certlist_bytes)
        for entry in crl:
            _ = (entry.serial_number, entry.revocation_date_utc, entry.extensions)
    except PARSE_ERRORS as exc:
        raise TrustStoreError(f"{path}: not a CRL ({exc})") from exc
    return crl


def _files(directory: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


@dataclass
class TrustStore:
    """Anchors per issuing authority, helper intermediates and CRLs.

    Treat a loaded store as read-only: validations cache what they derive from it. When
    the CRLs on disk are refreshed, load the directory again.
    """

    anchors: dict[str, list[x509.Certificate]]  # authority ("*" = any) -> anchors
    intermediates: list[x509.Certificate]
    crls: list[x509.CertificateRevocationList]
    directory: Path | None = None
    _memo: _Memo = field(default_factory=lambda: _Memo(), repr=False, compare=False)

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
        memo = self._memo
        checks: list[Check] = []
        try:
            signer = memo.info(signer_cert_der)
        except ValueError as exc:
            checks.append(Check("signer_certificate", False, f"unparseable: {exc}"))
            return ChainResult(False, SubIndication.FORMAT_FAILURE, checks)
        pool: list[_Info] = []
        for i, der in enumerate(extra_certs):
            try:
                pool.append(memo.info(der))
            except ValueError:
                checks.append(Check("carried_certificate", None, f"#{i} unparseable, ignored"))
        pool.extend(self._intermediate_infos())
        anchors = self._anchor_infos(authority)
        built = _build_path(signer, pool, anchors, memo.link)
        if built.path is None:
            checks.append(Check("chain_building", False, built.detail))
            return ChainResult(False, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, checks)
        path, anchor_authority = built.path, built.anchor_authority
        checks.append(
            Check(
                "chain_building",
                True,
                " <- ".join(i.dn for i in path) + f" (anchor for authority {anchor_authority})",
            )
        )
        failures: list[SubIndication] = []
        for sub, check in self._path_checks(path, at=at, now=now):
            checks.append(check)
            if sub is not None:
                failures.append(sub)
        certs = [i.cert for i in path]
        if failures:
            return ChainResult(False, most_severe(failures), checks, certs, anchor_authority)
        return ChainResult(True, None, checks, certs, anchor_authority)

    def _intermediate_infos(self) -> list[_Info]:
        memo = self._memo
        if memo.intermediates is None:
            memo.intermediates = [memo.info_of(c) for c in self.intermediates]
        return memo.intermediates

    def _anchor_infos(self, authority: str | None) -> list[tuple[str, _Info]]:
        memo = self._memo
        found = memo.anchors.get(authority)
        if found is None:
            found = [(a, memo.info_of(c)) for a, c in self.anchors_for(authority)]
            memo.remember(memo.anchors, authority, found)
        return found

    def _path_checks(
        self, path: list[_Info], *, at: datetime, now: datetime
    ) -> list[tuple[SubIndication | None, Check]]:
        memo = self._memo
        key = tuple(i.fp for i in path)
        static = memo.static.get(key)
        if static is None:
            static = memo.remember(memo.static, key, _static_checks(path))
        out: list[tuple[SubIndication | None, Check]] = []
        n = len(path)
        for i, info in enumerate(path):
            role = _role(i, n)
            out.append(_validity(info, role, at))
            out.extend((sub, Check(c.name, c.passed, c.detail)) for sub, c in static[i])
            if i + 1 < n:
                issuer = path[i + 1]
                vet_key = (issuer.fp, info.is_ca)
                vetted = memo.vetted.get(vet_key)
                if vetted is None:
                    vetted = memo.remember(
                        memo.vetted, vet_key, vet_crls(info.cert, issuer.cert, self.crls)
                    )
                status = revocation_status(
                    info.cert,
                    issuer.cert,
                    self.crls,
                    at=at,
                    now=now,
                    vetted=vetted,
                    described=info.desc,
                )
                status.check.name = f"revocation: {role}"
                out.append((status.subindication, status.check))
        return out


@dataclass
class _Info:
    """A parsed certificate with what path building compares, computed once."""

    cert: x509.Certificate
    fp: bytes
    subject: bytes  # DER of the subject Name
    issuer: bytes  # DER of the issuer Name
    ski: bytes | None
    aki: bytes | None
    is_ca: bool
    dn: str
    desc: str


class _Memo:
    """Per-store caches keyed by certificate fingerprints.

    Licenses from one authority share their certificates, so after the first license
    only the license's own signature costs a public-key operation. Bounded: a verifier
    that sees endless new signer certificates does not grow without limit.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self.infos: dict[bytes, _Info] = {}
        self.links: dict[tuple[bytes, bytes], bool] = {}
        self.static: dict[tuple[bytes, ...], list[list[tuple[SubIndication | None, Check]]]] = {}
        self.vetted: dict[tuple[bytes, bool], list[Any]] = {}
        self.intermediates: list[_Info] | None = None
        self.anchors: dict[str | None, list[tuple[str, _Info]]] = {}

    def remember(self, table: dict[Any, Any], key: Any, value: Any) -> Any:
        if len(table) >= self.LIMIT:
            table.clear()
        table[key] = value
        return value

    def info(self, der: bytes) -> _Info:
        """Raises ValueError for a certificate that does not parse completely."""
        found = self.infos.get(der)
        if found is None:
            found = self.remember(self.infos, der, _make_info(parse_certificate(der)))
        return found

    def info_of(self, cert: x509.Certificate) -> _Info:
        return self.info(cert.public_bytes(serialization.Encoding.DER))

    def link(self, child: _Info, parent: _Info) -> bool | None:
        """None: ``parent`` is not the named issuer; else whether its key signed ``child``."""
        if child.issuer != parent.subject:
            return None
        if child.aki is not None and parent.ski is not None and child.aki != parent.ski:
            return None
        key = (child.fp, parent.fp)
        found = self.links.get(key)
        if found is None:
            found = self.remember(self.links, key, _signature_ok(child.cert, parent.cert))
        return found


def _make_info(cert: x509.Certificate) -> _Info:
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        aki_id = aki.key_identifier
    except x509.ExtensionNotFound:
        aki_id = None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return _Info(
        cert=cert,
        fp=cert.fingerprint(hashes.SHA256()),
        subject=cert.subject.public_bytes(),
        issuer=cert.issuer.public_bytes(),
        ski=subject_key_id(cert),
        aki=aki_id,
        is_ca=is_ca,
        dn=cert.subject.rfc4514_string(),
        desc=describe(cert),
    )


@dataclass
class _Built:
    path: list[_Info] | None
    anchor_authority: str | None
    detail: str


def _signature_ok(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        der = child.public_bytes(serialization.Encoding.DER)
        if not (signature_algorithms_agree(der) and signature_value_is_octets(der)):
            return False
        return verify_signature(
            certificate_spki(parent),
            child.signature,
            child.tbs_certificate_bytes,
            certificate_signature_algorithm(child),
        )
    except (ValueError, DerError, UnsupportedAlgorithm):
        return False


def _build_path(
    signer: _Info,
    pool: Sequence[_Info],
    anchors: Sequence[tuple[str, _Info]],
    link: Callable[[_Info, _Info], bool | None],
) -> _Built:
    """Depth-first search for a path ending at an anchor; anchors are tried first."""
    anchor_of = {info.fp: a for a, info in anchors}
    by_subject: dict[bytes, list[_Info]] = {}
    for info in [i for _, i in anchors] + list(pool):
        bucket = by_subject.setdefault(info.subject, [])
        if all(other.fp != info.fp for other in bucket):
            bucket.append(info)
    problems: list[str] = []

    def walk(path: list[_Info]) -> _Built | None:
        current = path[-1]
        if current.fp in anchor_of:
            return _Built(list(path), anchor_of[current.fp], "")
        if len(path) >= MAX_PATH_LENGTH:
            problems.append("path longer than allowed")
            return None
        seen = {i.fp for i in path}
        for parent in by_subject.get(current.issuer, []):
            if parent.fp in seen:
                continue
            verdict = link(current, parent)
            if verdict is None:
                continue
            if not verdict:
                problems.append(
                    f"signature of {current.desc} does not verify with the key of {parent.desc}"
                )
                continue
            found = walk([*path, parent])
            if found is not None:
                return found
        return None

    found = walk([signer])
    if found is not None:
        return found
    detail = f"no path from {signer.desc} to a trust anchor"
    if problems:
        detail += ": " + "; ".join(dict.fromkeys(problems))
    else:
        detail += f" (issuer {signer.cert.issuer.rfc4514_string()} unknown or untrusted)"
    return _Built(None, None, detail)


def _role(index: int, length: int) -> str:
    kind = "signer" if index == 0 else "anchor" if index == length - 1 else "intermediate"
    return f"intermediate {index}" if kind == "intermediate" and length > 3 else kind


def _static_checks(path: list[_Info]) -> list[list[tuple[SubIndication | None, Check]]]:
    """Per certificate: extension constraints and the crypto constraints of its signature
    (time-independent, so a store caches them per path)."""
    out: list[list[tuple[SubIndication | None, Check]]] = []
    n = len(path)
    for i, info in enumerate(path):
        role = _role(i, n)
        kind = role.split(" ")[0]
        entries = list(_extensions(info.cert, role, kind=kind, index=i))
        if i + 1 < n:
            algorithm = certificate_signature_algorithm(info.cert)
            c = check_crypto_constraints(algorithm, certificate_spki(path[i + 1].cert))
            c.name = f"crypto_constraints: {role} certificate"
            c.detail = f"{info.desc} signed with {c.detail}"
            entries.append((None if c.passed else SubIndication.CRYPTO_CONSTRAINTS_FAILURE, c))
        out.append(entries)
    return out


def _validity(info: _Info, role: str, at: datetime) -> tuple[SubIndication | None, Check]:
    name = f"validity: {role}"
    nb, na = info.cert.not_valid_before_utc, info.cert.not_valid_after_utc
    span = f"{info.desc} valid {nb.isoformat()} to {na.isoformat()}, signing time {at.isoformat()}"
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
