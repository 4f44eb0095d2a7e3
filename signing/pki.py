"""A development PKI: root → intermediate → document-signing certificates, with CRLs.

``init_pki(DIR)`` writes a trust directory (``signing.trust`` layout) plus the keys that
go with it. Per algorithm family (rsa, ecdsa, ed25519, sm2) there is one root, one
intermediate (pathLen 0) and one issuing certificate for document signing:

    DIR/anchors/root-<alg>.pem             trust anchors
    DIR/intermediates/intermediate-<alg>.pem
    DIR/crls/root-<alg>.pem, intermediate-<alg>.pem     fresh CRLs (crl_days)
    DIR/issuing/<alg>.pem                  issuing certificate; <alg>-chain.pem adds the
                                           intermediate (what signatures carry)
    DIR/private/                           keys, 0600 in a 0700 directory — never hand
                                           this folder out with the trust directory
    DIR/pki.json                           what was created, for ``open_pki``

The same building blocks issue the deliberately bad certificates tests need (expired,
not yet valid, revoked, SHA-1, RSA-1024) and stale CRLs.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from signing.algorithms import certificate_spki, parse_algorithm
from signing.crl import OID_EXPIRED_CERTS_ON_CRL
from signing.der import (
    algorithm_identifier,
    assemble_certificate,
    encode_tlv,
    replace_tbs_signature_algorithm,
)
from signing.keys import SigningKey, load_signing_key, private_key_pem

FAMILIES = ("rsa", "ecdsa", "sm2", "ed25519")
DOCUMENT_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
ORGANISATION = "Tongyuan Development PKI"
_SHA1_ALGORITHMS = {
    "rsa-pkcs1v15-sha1": ("1.2.840.113549.1.1.5", True),
    "ecdsa-sha1": ("1.2.840.10045.4.1", False),
}
_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
_SIGNER_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


class PkiExistsError(FileExistsError):
    """The directory already holds a PKI and overwriting was not asked for."""


def generate_key(kind: str) -> Any:
    """A fresh private key: rsa (2048), rsa3072, rsa1024 (tests only), ecdsa (P-256),
    ed25519 or sm2."""
    if kind.startswith("rsa"):
        bits = int(kind[3:] or 2048)
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if kind == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "sm2":
        from signing import sm2

        return sm2.generate_sm2_key()
    raise ValueError(f"unknown key kind {kind!r}")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def organisation_name(name: str, code: str) -> x509.Name:
    """The subject of an organisation's signing certificate: its name, and its USCC as
    ``organizationIdentifier`` in the ETSI EN 319 412-1 form ``NTRCN-<USCC>`` — what a
    hub reads to tie a signed delivery to the department that sends it."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{code}"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )


def _is_sm2(key: Any) -> bool:
    return SigningKey.from_private_key(key).algorithm == "sm2-sm3"


def _serial() -> int:
    return secrets.randbits(120) | (1 << 119)  # positive, fixed width, unpredictable


def _key_identifier(spki: bytes) -> bytes:
    """RFC 5280 method 1, the same as cryptography's ``SubjectKeyIdentifier.from_public_key``."""
    from signing.sm2_x509 import key_identifier

    return key_identifier(spki)


@dataclass
class Identity:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: Any
    algorithm: str  # what the key signs with

    @property
    def der(self) -> bytes:
        """The certificate DER."""
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def signing_key(self) -> SigningKey:
        """The key bound to its algorithm."""
        return SigningKey.from_private_key(self.key, self.algorithm)


@dataclass
class CertificateAuthority(Identity):
    """An identity that issues certificates and CRLs and remembers what it revoked."""

    revoked: list[tuple[int, datetime, x509.ReasonFlags | None]] = field(default_factory=list)
    crl_number: int = 0

    def issue(
        self,
        common_name: str,
        *,
        key: Any = None,
        key_kind: str | None = None,
        not_before: datetime,
        not_after: datetime,
        ca: bool = False,
        path_length: int | None = None,
        key_usage: x509.KeyUsage | None = None,
        extended_key_usage: Sequence[x509.ObjectIdentifier] | None = (DOCUMENT_SIGNING_EKU,),
        signature_algorithm: str | None = None,
        signer_algorithm: str | None = None,
        subject: x509.Name | None = None,
    ) -> CertificateAuthority:
        """Issue a certificate (a CA when ``ca``) for ``key`` or a fresh key of ``key_kind``.

        ``signature_algorithm`` overrides how this CA signs (e.g. ``rsa-pkcs1v15-sha1`` to
        make a weak certificate); ``signer_algorithm`` how the new key will sign.
        ``subject`` replaces the development subject built from ``common_name``.
        """
        key = key if key is not None else generate_key(key_kind or _family_kind(self.key))
        usage = key_usage or (_CA_KEY_USAGE if ca else _SIGNER_KEY_USAGE)
        cert = build_certificate(
            subject=subject or _name(common_name),
            subject_key=key,
            issuer=self,
            not_before=not_before,
            not_after=not_after,
            ca=ca,
            path_length=path_length,
            key_usage=usage,
            extended_key_usage=None if ca else extended_key_usage,
            signature_algorithm=signature_algorithm or self.algorithm,
        )
        algorithm = signer_algorithm or SigningKey.from_private_key(key).algorithm
        return CertificateAuthority(cert, key, algorithm)

    def revoke(
        self, cert: x509.Certificate, *, when: datetime, reason: x509.ReasonFlags | None = None
    ) -> None:
        """Put ``cert`` on this CA's next CRLs."""
        self.revoked.append((cert.serial_number, when, reason))

    def crl(
        self,
        *,
        this_update: datetime,
        next_update: datetime,
        expired_certs_on_crl: bool = True,
    ) -> x509.CertificateRevocationList:
        """A CRL listing everything revoked so far (stale when ``next_update`` is past).

        With ``expired_certs_on_crl`` (the default) the CRL states that revoked
        certificates stay listed after they expire, so it also speaks for signatures made
        with certificates that have expired since.
        """
        self.crl_number += 1
        if _is_sm2(self.key):
            return _sm2_crl(self, this_update, next_update)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(this_update)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(self.crl_number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier(
                    _key_identifier(certificate_spki(self.cert)), None, None
                ),
                critical=False,
            )
        )
        if expired_certs_on_crl:
            kept_since = self.cert.not_valid_before_utc.strftime("%Y%m%d%H%M%SZ").encode()
            builder = builder.add_extension(
                x509.UnrecognizedExtension(OID_EXPIRED_CERTS_ON_CRL, encode_tlv(0x18, kept_since)),
                critical=False,
            )
        for serial, when, reason in self.revoked:
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            if reason is not None:
                entry = entry.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return _sign_with(builder, self.key, self.algorithm)


def _family_kind(key: Any) -> str:
    family = parse_algorithm(SigningKey.from_private_key(key).algorithm).family
    return {"rsa-pkcs1v15": "rsa", "rsa-pss": "rsa", "ecdsa": "ecdsa"}.get(family, family)


def _sign_with(builder: Any, key: Any, algorithm: str) -> Any:
    spec = parse_algorithm(algorithm)
    if spec.family == "ed25519":
        return builder.sign(key, None)
    h = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[
        spec.digest
    ]
    if spec.family == "rsa-pss":
        pss = padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.DIGEST_LENGTH)
        return builder.sign(key, h, rsa_padding=pss)
    return builder.sign(key, h)


def _sm2_crl(
    ca: CertificateAuthority, this_update: datetime, next_update: datetime
) -> x509.CertificateRevocationList:
    from signing import sm2
    from signing.sm2_x509 import SM2_SM3_ALGORITHM, build_crl

    der = build_crl(
        issuer_name=ca.cert.subject,
        signature_algorithm=SM2_SM3_ALGORITHM,
        signer=lambda tbs: sm2.sm2_sign(ca.key, tbs),
        this_update=this_update,
        next_update=next_update,
        revoked=[(serial, when) for serial, when, _ in ca.revoked],
        crl_number=ca.crl_number,
        authority_key_identifier=_key_identifier(certificate_spki(ca.cert)),
    )
    return x509.load_der_x509_crl(der)


def build_certificate(
    *,
    subject: x509.Name,
    subject_key: Any,
    issuer: Identity | None,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    path_length: int | None,
    key_usage: x509.KeyUsage,
    extended_key_usage: Sequence[x509.ObjectIdentifier] | None,
    signature_algorithm: str | None = None,
) -> x509.Certificate:
    """A v3 certificate; self-signed when ``issuer`` is None. SM2 through signing.sm2_x509."""
    issuer_key = issuer.key if issuer else subject_key
    issuer_name = issuer.cert.subject if issuer else subject
    algorithm = signature_algorithm or SigningKey.from_private_key(issuer_key).algorithm
    subject_spki = SigningKey.from_private_key(subject_key).public_key_spki()
    ski = _key_identifier(subject_spki)
    aki = _key_identifier(certificate_spki(issuer.cert)) if issuer else ski
    eku = x509.ExtendedKeyUsage(list(extended_key_usage)) if extended_key_usage else None
    serial = _serial()
    if algorithm == "sm2-sm3" or _is_sm2(subject_key):
        from signing import sm2
        from signing.sm2_x509 import SM2_SM3_ALGORITHM
        from signing.sm2_x509 import build_certificate as build_sm2

        if algorithm != "sm2-sm3":
            raise ValueError("SM2 keys are certified by SM2 CAs only in this PKI")
        der = build_sm2(
            subject=subject,
            issuer_name=issuer_name,
            subject_public_key_spki=subject_spki,
            signature_algorithm=SM2_SM3_ALGORITHM,
            signer=lambda tbs: sm2.sm2_sign(issuer_key, tbs),
            serial=serial,
            not_before=not_before,
            not_after=not_after,
            ca=ca,
            path_len=path_length,
            key_usage=key_usage,
            subject_key_identifier=ski,
            authority_key_identifier=aki,
            extended_key_usage=eku,
        )
        return x509.load_der_x509_certificate(der)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(subject_key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
    )
    if eku is not None:
        builder = builder.add_extension(eku, critical=False)
    if algorithm in _SHA1_ALGORITHMS:
        return _sha1_certificate(builder, issuer_key, algorithm)
    return _sign_with(builder, issuer_key, algorithm)


def _sha1_certificate(builder: Any, key: Any, algorithm: str) -> x509.Certificate:
    """A SHA-1-signed certificate, for tests of the weak-algorithm refusal.

    cryptography no longer signs certificates with SHA-1, so the certificate is signed
    with SHA-256 first, then its TBS gets the SHA-1 algorithm identifier and is re-signed.
    """
    oid, null_params = _SHA1_ALGORITHMS[algorithm]
    draft = _sign_with(builder, key, "rsa-pkcs1v15-sha256" if null_params else "ecdsa-sha256")
    alg_id = algorithm_identifier(oid, null_params=null_params)
    tbs = replace_tbs_signature_algorithm(draft.tbs_certificate_bytes, alg_id)
    signature = SigningKey.from_private_key(key, algorithm).sign(tbs)
    return x509.load_der_x509_certificate(assemble_certificate(tbs, alg_id, signature))


def self_signed_root(
    common_name: str,
    *,
    key_kind: str,
    not_before: datetime,
    not_after: datetime,
    path_length: int | None = 1,
) -> CertificateAuthority:
    """A root CA certificate for a fresh key."""
    key = generate_key(key_kind)
    cert = build_certificate(
        subject=_name(common_name),
        subject_key=key,
        issuer=None,
        not_before=not_before,
        not_after=not_after,
        ca=True,
        path_length=path_length,
        key_usage=_CA_KEY_USAGE,
        extended_key_usage=None,
    )
    return CertificateAuthority(cert, key, SigningKey.from_private_key(key).algorithm)


@dataclass
class Hierarchy:
    """Root, intermediate and issuing identity of one algorithm family."""

    family: str
    root: CertificateAuthority
    intermediate: CertificateAuthority
    issuing: CertificateAuthority

    @property
    def chain(self) -> list[bytes]:
        """DER certificates a signature carries: issuing first, then the intermediate."""
        return [self.issuing.der, self.intermediate.der]


_ROOT_KIND = {"rsa": "rsa3072", "ecdsa": "ecdsa", "ed25519": "ed25519", "sm2": "sm2"}
_ISSUING_KIND = {"rsa": "rsa", "ecdsa": "ecdsa", "ed25519": "ed25519", "sm2": "sm2"}


def build_hierarchy(family: str, *, now: datetime, valid_from: datetime | None = None) -> Hierarchy:
    """A root (20 y), intermediate (10 y, pathLen 0) and issuing certificate (5 y)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown algorithm family {family!r}; choose from {FAMILIES}")
    start = valid_from or now - timedelta(days=1)
    label = family.upper() if family != "ed25519" else "Ed25519"
    root = self_signed_root(
        f"Tongyuan Dev Root CA ({label})",
        key_kind=_ROOT_KIND[family],
        not_before=start,
        not_after=now + timedelta(days=365 * 20),
    )
    intermediate = root.issue(
        f"Tongyuan Dev Intermediate CA ({label})",
        key_kind=_ROOT_KIND[family],
        not_before=start,
        not_after=now + timedelta(days=365 * 10),
        ca=True,
        path_length=0,
    )
    issuing = intermediate.issue(
        f"Tongyuan Dev Document Signing ({label})",
        key_kind=_ISSUING_KIND[family],
        not_before=start,
        not_after=now + timedelta(days=365 * 5),
    )
    return Hierarchy(family, root, intermediate, issuing)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, data: bytes) -> None:
    """Create a key file 0600 from the start (never world-readable, not even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


@dataclass
class Pki:
    """A development PKI on disk."""

    directory: Path
    families: tuple[str, ...]

    @property
    def trust_dir(self) -> Path:
        """The trust directory (anchors/, intermediates/, crls/) — the PKI directory itself."""
        return self.directory

    def key_path(self, family: str) -> Path:
        """The issuing (document-signing) private key of a family."""
        return self.directory / "private" / f"issuing-{family}.key.pem"

    def cert_path(self, family: str) -> Path:
        """The issuing certificate of a family."""
        return self.directory / "issuing" / f"{family}.pem"

    def chain_path(self, family: str) -> Path:
        """Issuing certificate followed by its intermediate (PEM)."""
        return self.directory / "issuing" / f"{family}-chain.pem"

    def signing_key(self, family: str) -> SigningKey:
        """The issuing key of a family, ready to sign."""
        return load_signing_key(self.key_path(family))

    def chain(self, family: str) -> list[bytes]:
        """DER certificates to put in a signature, signer first."""
        certs = x509.load_pem_x509_certificates(self.chain_path(family).read_bytes())
        return [c.public_bytes(serialization.Encoding.DER) for c in certs]

    def department_signer(
        self, family: str, *, name: str, code: str, now: datetime | None = None
    ) -> tuple[SigningKey, list[bytes]]:
        """A fresh signing key and chain for a department, issued by the intermediate CA.

        The shared issuing certificate names no organisation, so it cannot sign a
        department's deliveries (the hub ties the signer to the delivering department by
        the USCC its certificate names); this one names ``code`` (:func:`organisation_name`).
        Kept in memory only: issue one where a department's signature is needed.
        """
        now = now or datetime.now(UTC)
        intermediate = load_authority(self.directory, f"intermediate-{family}")
        signer = intermediate.issue(
            name,
            subject=organisation_name(name, code),
            not_before=now - timedelta(days=1),
            not_after=min(now + timedelta(days=365 * 2), intermediate.cert.not_valid_after_utc),
        )
        return signer.signing_key, [signer.der, intermediate.der]

    def department_signer_paths(self, family: str, code: str) -> tuple[Path, Path, Path]:
        """Where :meth:`write_department_signer` puts a department's certificate, its
        chain and its private key."""
        base = f"{family}-{code}"
        return (
            self.directory / "issuing" / f"{base}.pem",
            self.directory / "issuing" / f"{base}-chain.pem",
            self.directory / "private" / f"issuing-{base}.key.pem",
        )

    def write_department_signer(
        self, family: str, *, name: str, code: str, force: bool = False
    ) -> tuple[Path, Path, Path]:
        """A department's signing certificate, chain and key (0600) written beside the
        shared ones, for a department to sign its deliveries with (development only).

        Never overwrites an earlier one unless ``force``: its deliveries may be signed
        with it still.
        """
        paths = self.department_signer_paths(family, code)
        there = [p for p in paths if p.exists()]
        if there and not force:
            raise PkiExistsError(
                f"{there[0]} exists: a signer for {code} ({family}) was issued already "
                "(--force issues a new one)"
            )
        key, chain = self.department_signer(family, name=name, code=code)
        cert_path, chain_path, key_path = paths
        pems = [ssl.DER_cert_to_PEM_cert(der).encode("ascii") for der in chain]
        cert_path.write_bytes(pems[0])
        chain_path.write_bytes(b"".join(pems))
        _write_private(key_path, private_key_pem(key.private_key))
        return paths


def write_hierarchy(directory: Path, h: Hierarchy, *, now: datetime, crl_days: int) -> None:
    """Write one family's certificates, keys and fresh CRLs into a PKI directory."""
    f = h.family
    (directory / "anchors" / f"root-{f}.pem").write_bytes(_pem(h.root.cert))
    (directory / "intermediates" / f"intermediate-{f}.pem").write_bytes(_pem(h.intermediate.cert))
    (directory / "issuing" / f"{f}.pem").write_bytes(_pem(h.issuing.cert))
    (directory / "issuing" / f"{f}-chain.pem").write_bytes(
        _pem(h.issuing.cert) + _pem(h.intermediate.cert)
    )
    for role, ident in (("root", h.root), ("intermediate", h.intermediate), ("issuing", h.issuing)):
        _write_private(directory / "private" / f"{role}-{f}.key.pem", private_key_pem(ident.key))
    for role, ca in (("root", h.root), ("intermediate", h.intermediate)):
        crl = ca.crl(this_update=now, next_update=now + timedelta(days=crl_days))
        (directory / "crls" / f"{role}-{f}.pem").write_bytes(
            crl.public_bytes(serialization.Encoding.PEM)
        )


def init_pki(
    directory: Path,
    *,
    algorithms: Sequence[str] = FAMILIES,
    crl_days: int = 7,
    now: datetime | None = None,
    force: bool = False,
    valid_from: datetime | None = None,
) -> Pki:
    """Create a development PKI and trust directory in ``directory``.

    Refuses to touch a directory that already holds one (``pki.json``) unless ``force``,
    which replaces it entirely — old keys and anchors must not linger beside new ones.
    ``valid_from`` back-dates the certificates for data signed "in the past".
    """
    directory = Path(directory)
    now = now or datetime.now(UTC)
    if crl_days < 1:
        raise ValueError("crl_days must be at least 1")
    unknown = [a for a in algorithms if a not in FAMILIES]
    if unknown or not algorithms:
        raise ValueError(f"algorithms must be a non-empty subset of {FAMILIES}, got {unknown}")
    marker = directory / "pki.json"
    if marker.exists() and not force:
        raise PkiExistsError(f"{directory} already holds a PKI (use force to replace it)")
    if directory.exists() and any(directory.iterdir()) and not marker.exists():
        raise PkiExistsError(f"{directory} is not empty and holds no PKI; refusing to write")
    if marker.exists():
        for sub in ("anchors", "intermediates", "crls", "issuing", "private"):
            shutil.rmtree(directory / sub, ignore_errors=True)
        marker.unlink()
    for sub in ("anchors", "intermediates", "crls", "issuing"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    (directory / "private").mkdir(mode=0o700, exist_ok=True)
    os.chmod(directory / "private", 0o700)
    families = tuple(dict.fromkeys(algorithms))
    for family in families:
        write_hierarchy(
            directory,
            build_hierarchy(family, now=now, valid_from=valid_from),
            now=now,
            crl_days=crl_days,
        )
    _save_state(
        directory,
        {
            f"{role}-{family}": {"crl_number": 1, "revoked": []}
            for family in families
            for role in ("root", "intermediate")
        },
    )
    marker.write_text(
        json.dumps(
            {"created": now.isoformat(), "families": list(families), "crl_days": crl_days},
            indent=2,
        )
        + "\n"
    )
    return Pki(directory, families)


def open_pki(directory: Path) -> Pki:
    """An existing development PKI (written by ``init_pki``)."""
    directory = Path(directory)
    try:
        meta = json.loads((directory / "pki.json").read_text())
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"{directory}: no development PKI here ({exc})") from exc
    return Pki(directory, tuple(meta["families"]))


# --- keeping CRLs fresh and revoking ------------------------------------------------------

_STATE = "ca-state.json"


def _save_state(directory: Path, state: dict[str, Any]) -> None:
    _write_private(directory / "private" / _STATE, (json.dumps(state, indent=2) + "\n").encode())


def _load_state(directory: Path) -> dict[str, Any]:
    try:
        return json.loads((directory / "private" / _STATE).read_text())
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"{directory}: CA state unreadable ({exc})") from exc


def load_authority(directory: Path, name: str) -> CertificateAuthority:
    """A CA of the PKI (``root-<family>`` or ``intermediate-<family>``) with its revocations."""
    directory = Path(directory)
    role, _, _family = name.partition("-")
    folder = {"root": "anchors", "intermediate": "intermediates"}.get(role)
    if folder is None:
        raise ValueError(f"{name!r} is not a CA of this PKI")
    cert = x509.load_pem_x509_certificate((directory / folder / f"{name}.pem").read_bytes())
    key = load_signing_key(directory / "private" / f"{name}.key.pem").private_key
    entry = _load_state(directory).get(name, {"crl_number": 0, "revoked": []})
    revoked = [
        (
            int(r["serial"], 16),
            datetime.fromisoformat(r["when"]),
            x509.ReasonFlags(r["reason"]) if r.get("reason") else None,
        )
        for r in entry["revoked"]
    ]
    algorithm = SigningKey.from_private_key(key).algorithm
    return CertificateAuthority(cert, key, algorithm, revoked, int(entry["crl_number"]))


def _publish_crl(
    directory: Path, name: str, ca: CertificateAuthority, *, now: datetime, crl_days: int
) -> Path:
    crl = ca.crl(this_update=now, next_update=now + timedelta(days=crl_days))
    target = directory / "crls" / f"{name}.pem"
    tmp = target.with_suffix(".pem.tmp")
    tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    tmp.replace(target)  # readers never see half a CRL
    state = _load_state(directory)
    state[name] = {
        "crl_number": ca.crl_number,
        "revoked": [
            {
                "serial": f"{serial:x}",
                "when": when.isoformat(),
                "reason": reason.value if reason else None,
            }
            for serial, when, reason in ca.revoked
        ],
    }
    _save_state(directory, state)
    return target


def refresh_crls(
    directory: Path, *, crl_days: int | None = None, now: datetime | None = None
) -> list[Path]:
    """Re-issue every CA's CRL (same revocations, higher CRL number, new nextUpdate).

    What a scheduled task runs so that CRLs never go stale (stale CRLs make every
    verification INDETERMINATE/TRY_LATER).
    """
    directory = Path(directory)
    pki = open_pki(directory)
    now = now or datetime.now(UTC)
    days = crl_days or int(json.loads((directory / "pki.json").read_text())["crl_days"])
    written = []
    for family in pki.families:
        for role in ("root", "intermediate"):
            name = f"{role}-{family}"
            ca = load_authority(directory, name)
            written.append(_publish_crl(directory, name, ca, now=now, crl_days=days))
    return written


def revoke_certificate(
    directory: Path,
    cert: x509.Certificate,
    *,
    reason: x509.ReasonFlags | None = None,
    when: datetime | None = None,
    now: datetime | None = None,
) -> Path:
    """Revoke ``cert`` at its issuing CA in this PKI and publish that CA's new CRL."""
    directory = Path(directory)
    pki = open_pki(directory)
    now = now or datetime.now(UTC)
    days = int(json.loads((directory / "pki.json").read_text())["crl_days"])
    for family in pki.families:
        for role in ("root", "intermediate"):
            name = f"{role}-{family}"
            ca = load_authority(directory, name)
            if cert.issuer != ca.cert.subject or not _issued_by_key(cert, ca.cert):
                continue
            if any(serial == cert.serial_number for serial, _, _ in ca.revoked):
                raise ValueError(f"serial {cert.serial_number:x} is already revoked")
            ca.revoke(cert, when=when or now, reason=reason)
            return _publish_crl(directory, name, ca, now=now, crl_days=days)
    raise ValueError(f"{cert.subject.rfc4514_string()} was not issued by a CA of {directory}")


def _issued_by_key(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    from signing.algorithms import certificate_signature_algorithm, verify_signature

    return verify_signature(
        certificate_spki(issuer),
        cert.signature,
        cert.tbs_certificate_bytes,
        certificate_signature_algorithm(cert),
    )
