"""PKI building helpers for the signing tests (the fixture itself is in conftest.py).

``test_pki`` (session scope) holds one root → intermediate → document-signing hierarchy
per family (rsa, ecdsa, sm2, ed25519) built at ``test_pki.now``, an untrusted ECDSA
hierarchy, and a trust directory with fresh CRLs (``test_pki.trust_dir`` /
``test_pki.trust``). Tests that need a different trust situation write their own
directory with ``test_pki.write_trust(path, ...)`` (revocations, stale or missing CRLs,
per-authority anchors) and issue odd certificates with ``test_pki.issue(...)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signing.keys import SigningKey
from signing.pki import FAMILIES, CertificateAuthority, Hierarchy
from signing.trust import TrustStore

NOW = datetime.now(UTC).replace(microsecond=0)  # session start: CRLs fresh for a week


def pem(cert: x509.Certificate) -> bytes:
    """PEM of a certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Revocation:
    """A certificate to list on its issuer's CRL in a test trust directory."""

    family: str
    cert: x509.Certificate
    when: datetime
    reason: x509.ReasonFlags | None = None


@dataclass
class GeneratedPki:
    """The session's PKI objects and helpers to vary them."""

    now: datetime
    hierarchies: dict[str, Hierarchy]
    untrusted: Hierarchy
    trust_dir: Path
    trust: TrustStore = field(init=False)

    def __post_init__(self) -> None:
        self.trust = self.write_trust(self.trust_dir)

    def signer(self, family: str) -> tuple[SigningKey, list[bytes]]:
        """The family's document-signing key and the chain a signature carries."""
        h = self.hierarchies[family]
        return h.issuing.signing_key, h.chain

    def issue(
        self,
        family: str = "ecdsa",
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        issuer: CertificateAuthority | None = None,
        **kwargs: Any,
    ) -> tuple[SigningKey, list[bytes], CertificateAuthority]:
        """A new document-signing certificate from the family's intermediate (or ``issuer``).

        Returns the signer key, the chain to carry (leaf, intermediate) and the identity.
        Extra keyword arguments go to ``CertificateAuthority.issue`` (key_kind,
        signature_algorithm, key_usage, extended_key_usage, ca, path_length…).
        """
        h = self.hierarchies[family]
        ca = issuer or h.intermediate
        leaf = ca.issue(
            f"Test signer {family}",
            not_before=not_before or self.now - timedelta(days=30),
            not_after=not_after or self.now + timedelta(days=365),
            **kwargs,
        )
        chain = [leaf.der, ca.der, h.intermediate.der]
        return leaf.signing_key, list(dict.fromkeys(chain)), leaf

    def write_trust(
        self,
        directory: Path,
        *,
        families: Sequence[str] = FAMILIES,
        revocations: Sequence[Revocation] = (),
        crl_this_update: datetime | None = None,
        crl_next_update: datetime | None = None,
        omit_crls_of: Sequence[str] = (),
        expired_certs_on_crl: bool = True,
        authority: str | None = None,
    ) -> TrustStore:
        """Write a trust directory for ``families`` and load it.

        ``revocations`` are listed on the CRL of the family's intermediate; CRL times
        default to fresh (``now`` − 1 h, next update ``now`` + 7 days); ``omit_crls_of``
        names families whose intermediate CRL is left out; ``authority`` puts the anchors
        under anchors/<authority>/ instead of anchors/.
        """
        this_update = crl_this_update or self.now - timedelta(hours=1)
        next_update = crl_next_update or self.now + timedelta(days=7)
        anchors = directory / "anchors" / authority if authority else directory / "anchors"
        for sub in (anchors, directory / "intermediates", directory / "crls"):
            sub.mkdir(parents=True, exist_ok=True)
        for family in families:
            h = self.hierarchies[family]
            (anchors / f"root-{family}.pem").write_bytes(pem(h.root.cert))
            (directory / "intermediates" / f"intermediate-{family}.pem").write_bytes(
                pem(h.intermediate.cert)
            )
            cas = [("root", h.root)]
            if family not in omit_crls_of:
                cas.append(("intermediate", h.intermediate))
            for role, ca in cas:
                listed = [
                    (r.cert.serial_number, r.when, r.reason)
                    for r in revocations
                    if r.family == family and r.cert.issuer == ca.cert.subject
                ]
                copy = dataclasses.replace(ca, revoked=listed, crl_number=ca.crl_number)
                crl = copy.crl(
                    this_update=this_update,
                    next_update=next_update,
                    expired_certs_on_crl=expired_certs_on_crl,
                )
                (directory / "crls" / f"{role}-{family}.pem").write_bytes(
                    crl.public_bytes(serialization.Encoding.PEM)
                )
        return TrustStore.load(directory)
