"""Signed e-license files for a generated dataset, and the trust directory that verifies them.

Layout under ``out``::

    licenses/licenses.xml                      catalogue records; ``file`` (and for SM2
                                               ``signature_ref``) name the files below,
                                               relative to licenses/
    licenses/files/<nn>/<identifier>.license   the signed license document
                                               (``signing.license_xml`` layout)
    licenses/files/<nn>/<identifier>.license.sig.json
                                               detached envelope (SM2 licenses only)
    pki/                                       a development PKI (``signing.pki``): anchors/,
                                               intermediates/, crls/ — the trust directory —
                                               plus issuing/ and private/ so that
                                               ``tongyuan pki refresh-crls pki`` keeps it fresh

Most licenses carry an enveloped XML-DSig signature (ECDSA P-256, some RSA-2048); SM2
licenses, which signxml cannot sign, carry the detached JSON envelope. The ``.license``
suffix keeps these documents out of ``tongyuan validate`` (which reads ``.xml``/``.jsonl``
record files only), and the PKI holds ``.pem``/``.json`` files only.

Which license gets which algorithm, file name, signing time and signature defect is drawn
from the dataset seed, so the record files stay byte-identical for a seed. Keys,
certificate serials, CRL times and ECDSA/SM2 nonces are random: ``pki/`` and the signature
bytes differ between runs, and CRLs are issued at generation time (fresh for
``CRL_DAYS``; ``tongyuan pki refresh-crls`` renews them).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from lxml import etree

from signing.detached import sign_detached
from signing.keys import SigningKey
from signing.license_xml import build_license_document
from signing.pki import (
    CertificateAuthority,
    Pki,
    init_pki,
    load_authority,
    revoke_certificate,
    self_signed_root,
)
from signing.report import Indication, SubIndication
from signing.xmldsig import sign_license_xml
from standards.records import License
from tongyuan.generate.clock import CALENDAR_START, CASES_FROM, CHINA_TZ
from tongyuan.generate.defects import defect_count

PKI_DIR = "pki"
FILES_DIR = "files"
LICENSE_SUFFIX = ".license"
SIGNATURE_SUFFIX = ".sig.json"
CRL_DAYS = 7
# Share of licenses per signing family (XML-DSig for ecdsa/rsa, detached for sm2).
ALGORITHM_WEIGHTS = (("ecdsa", 7), ("rsa", 2), ("sm2", 1))
# Licenses are signed in one run at the end of their issue day (Beijing time).
SIGNING_CLOCK = time(18, 30)
# The generator's PKI exists from the start of its calendar (licenses are signed "in the past").
PKI_VALID_FROM = datetime.combine(CALENDAR_START, time(0), CHINA_TZ).astimezone(UTC)
# A signer revoked (key compromise) before any license was signed, and one that expired then.
REVOKED_AT = PKI_VALID_FROM + timedelta(days=14)
EXPIRED_SIGNER_UNTIL = datetime.combine(CASES_FROM, time(0), CHINA_TZ).astimezone(UTC)

# Planted signature defect -> what `tongyuan verify` must report for it.
SIGNATURE_DEFECTS: dict[str, tuple[Indication, SubIndication]] = {
    "altered": (Indication.FAILED, SubIndication.HASH_FAILURE),
    "revoked_signer": (Indication.FAILED, SubIndication.REVOKED),
    "expired_signer": (Indication.FAILED, SubIndication.EXPIRED),
    "untrusted_signer": (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND),
}


@dataclass(frozen=True, slots=True)
class SignaturePlan:
    """How license number ``index`` is signed: family, file names, time, planted defect."""

    index: int
    family: str
    file: str  # relative to licenses/
    signature_ref: str | None
    signing_time: datetime
    defect: str | None = None


def plan_signatures(
    rng: random.Random, licenses: list[License], bad_rate: float, record_defects: set[int]
) -> list[SignaturePlan]:
    """One plan per license; signature defects go to licenses without a record defect.

    As many signature defects as ``defect_count`` gives for the good licenses (at least one
    of each kind when ``bad_rate`` > 0 and there are enough), so a quality check can count
    them separately from the record defects the validator finds.
    """
    families = [name for name, _ in ALGORITHM_WEIGHTS]
    weights = [w for _, w in ALGORITHM_WEIGHTS]
    chosen = rng.choices(families, weights, k=len(licenses))
    good = [i for i in range(len(licenses)) if i not in record_defects]
    count = defect_count(len(good), bad_rate, len(SIGNATURE_DEFECTS)) if bad_rate > 0 else 0
    kinds = list(SIGNATURE_DEFECTS)
    picked = sorted(rng.sample(good, count))
    defective = {index: kinds[n % len(kinds)] for n, index in enumerate(picked)}
    plans = []
    for i, lic in enumerate(licenses):
        defect = defective.get(i)
        # Broken signers are ECDSA/XML-DSig; altered content keeps the drawn family.
        family = chosen[i] if defect in (None, "altered") else "ecdsa"
        file = f"{FILES_DIR}/{i % 100:02d}/{lic.identifier}{LICENSE_SUFFIX}"
        plans.append(
            SignaturePlan(
                index=i,
                family=family,
                file=file,
                signature_ref=file + SIGNATURE_SUFFIX if family == "sm2" else None,
                signing_time=datetime.combine(lic.issue_date, SIGNING_CLOCK, CHINA_TZ),
                defect=defect,
            )
        )
    return plans


def with_file_references(licenses: list[License], plans: list[SignaturePlan]) -> list[License]:
    """The catalogue records pointing at their signed files (what licenses.xml carries)."""
    return [
        lic.model_copy(update={"file": p.file, "signature_ref": p.signature_ref})
        for lic, p in zip(licenses, plans, strict=True)
    ]


@dataclass(slots=True)
class _Signers:
    """Keys and chains of every signer the dataset uses, good and deliberately bad."""

    good: dict[str, tuple[SigningKey, list[bytes]]]
    bad: dict[str, tuple[SigningKey, list[bytes]]]


def _build_pki(pki_dir: Path, families: set[str], defects: set[str]) -> _Signers:
    now = datetime.now(UTC)
    order = [f for f, _ in ALGORITHM_WEIGHTS if f in families or f == "ecdsa"]
    pki: Pki = init_pki(pki_dir, algorithms=order, crl_days=CRL_DAYS, now=now,
                        valid_from=PKI_VALID_FROM)  # fmt: skip
    good = {f: (pki.signing_key(f), pki.chain(f)) for f in order}
    bad: dict[str, tuple[SigningKey, list[bytes]]] = {}
    if defects & {"revoked_signer", "expired_signer"}:
        intermediate: CertificateAuthority = load_authority(pki_dir, "intermediate-ecdsa")
        if "revoked_signer" in defects:
            revoked = intermediate.issue(
                "Tongyuan Dev Document Signing (ECDSA, revoked)",
                key_kind="ecdsa",
                not_before=PKI_VALID_FROM,
                not_after=now + timedelta(days=365),
            )
            revoke_certificate(pki_dir, revoked.cert, when=REVOKED_AT, now=now)
            bad["revoked_signer"] = (revoked.signing_key, [revoked.der, intermediate.der])
        if "expired_signer" in defects:
            expired = intermediate.issue(
                "Tongyuan Dev Document Signing (ECDSA, expired)",
                key_kind="ecdsa",
                not_before=PKI_VALID_FROM,
                not_after=EXPIRED_SIGNER_UNTIL,
            )
            bad["expired_signer"] = (expired.signing_key, [expired.der, intermediate.der])
    if "untrusted_signer" in defects:
        # A root that is not in pki/ (and named differently): nothing vouches for it.
        root = self_signed_root(
            "Unknown Root CA (ECDSA)", key_kind="ecdsa", not_before=PKI_VALID_FROM,
            not_after=now + timedelta(days=3650), path_length=0,
        )  # fmt: skip
        stranger = root.issue(
            "Unknown Document Signing (ECDSA)", key_kind="ecdsa", not_before=PKI_VALID_FROM,
            not_after=now + timedelta(days=365),
        )  # fmt: skip
        bad["untrusted_signer"] = (stranger.signing_key, [stranger.der, root.der])
    return _Signers(good, bad)


def _alter(document: bytes) -> bytes:
    """Change the holder's name after signing: the digest no longer matches."""
    root = etree.fromstring(document)
    holder = root.find("license/holder_name")
    if holder is None:
        raise ValueError("signed license without holder_name")
    holder.text = (holder.text or "") + "（改）"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def write_signed_licenses(
    out: Path, licenses_dir: Path, licenses: list[License], plans: list[SignaturePlan]
) -> int:
    """Write ``pki/`` and every license's signed file; returns the number of files written.

    ``licenses`` are the records as written to licenses.xml (with their file references):
    the signed document holds exactly the record, so a verifier can compare the two.
    """
    families = {p.family for p in plans}
    defects = {p.defect for p in plans if p.defect is not None}
    signers = _build_pki(out / PKI_DIR, families, defects)
    # The generator's calendar may run past the wall clock: a signature cannot be dated
    # later than it is made (verifiers refuse future signing times), so such licenses are
    # signed "now" — before their issue date, which license checks then report.
    latest = datetime.now(UTC) - timedelta(minutes=1)
    made: set[Path] = set()
    written = 0
    for lic, plan in zip(licenses, plans, strict=True):
        key, chain = (
            signers.bad[plan.defect] if plan.defect in signers.bad else signers.good[plan.family]
        )
        signing_time = min(plan.signing_time, latest)
        target = licenses_dir / plan.file
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        if plan.family == "sm2":
            document = build_license_document(lic, signing_time=signing_time)
            envelope = sign_detached(document, key, chain, signing_time=signing_time)
            if plan.defect == "altered":
                document = _alter(document)
            target.write_bytes(document)
            (licenses_dir / (plan.signature_ref or plan.file + SIGNATURE_SUFFIX)).write_bytes(
                envelope
            )
            written += 2
        else:
            signed = sign_license_xml(
                build_license_document(lic), key, chain, signing_time=signing_time
            )
            if plan.defect == "altered":
                signed = _alter(signed)
            target.write_bytes(signed)
            written += 1
    return written
