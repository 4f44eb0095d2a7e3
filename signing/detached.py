"""Detached signatures in a documented JSON envelope (see docs/signing.md).

The signature covers the canonical JSON of the signed attributes only: the digest and
size of the data, the algorithms, the signing time and the SHA-256 of the signer's
certificate (so the certificate cannot be swapped for another with the same key, as
ESS signing-certificate-v2 does in CMS). Everything the verifier relies on comes from
those attributes; the carried certificates only help build the path.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

from signing.algorithms import (
    UnsupportedAlgorithmError,
    certificate_spki,
    check_crypto_constraints,
    digest_bytes,
    parse_algorithm,
    verify_signature,
)
from signing.der import DerError
from signing.keys import SigningKey
from signing.report import Check, Indication, SubIndication, VerificationReport, most_severe
from signing.trust import TrustStore, parse_certificate

ENVELOPE_VERSION = 1
FORMAT = "detached"
MAX_ENVELOPE_BYTES = 1024 * 1024
MAX_CERTIFICATES = 10
CLOCK_SKEW = timedelta(minutes=5)
DIGESTS = ("sha256", "sha384", "sha512", "sm3", "sha1")  # sha1 only to be refused
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_SIGNED_KEYS = frozenset(
    {
        "version",
        "algorithm",
        "digest_algorithm",
        "digest",
        "size",
        "signing_time",
        "signer_certificate_sha256",
    }
)
_ENVELOPE_KEYS = frozenset({"version", "signed_attributes", "certificates", "signature"})


class EnvelopeError(ValueError):
    """An envelope that does not follow the documented format."""


class SigningError(ValueError):
    """A signing request we refuse (weak key, key and certificate disagree…)."""


def canonical_json(value: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8 — identical for RFC 8785 on our value types."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with whole seconds, the one form the envelope accepts."""
    if moment.tzinfo is None:
        raise ValueError("signing time must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def digest_algorithm_for(algorithm: str) -> str:
    """The content digest paired with a signature algorithm (SM2 → SM3, Ed25519 → SHA-256)."""
    spec = parse_algorithm(algorithm)
    if spec.digest == "none":
        return "sha256"
    return spec.digest


def sign_detached(
    data: bytes,
    key: SigningKey,
    chain: Sequence[bytes],
    *,
    signing_time: datetime | None = None,
    allow_weak: bool = False,
) -> bytes:
    """An envelope over ``data``; ``chain`` is DER, signer certificate first.

    Weak keys and algorithms are refused unless ``allow_weak`` (tests and interop
    fixtures only): a verifier would refuse the result anyway.
    """
    if not chain:
        raise SigningError("the certificate chain must hold at least the signer certificate")
    if key.is_weak and not allow_weak:
        raise SigningError(f"refusing to sign with a weak key or algorithm ({key.algorithm})")
    signer = x509.load_der_x509_certificate(chain[0])
    if certificate_spki(signer) != key.public_key_spki():
        raise SigningError("the signer certificate does not hold the signing key's public key")
    digest_name = digest_algorithm_for(key.algorithm)
    attributes = {
        "version": ENVELOPE_VERSION,
        "algorithm": key.algorithm,
        "digest_algorithm": digest_name,
        "digest": base64.b64encode(digest_bytes(digest_name, data)).decode(),
        "size": len(data),
        "signing_time": format_time(signing_time or datetime.now(UTC)),
        "signer_certificate_sha256": hashlib.sha256(chain[0]).hexdigest(),
    }
    envelope = {
        "version": ENVELOPE_VERSION,
        "signed_attributes": attributes,
        "certificates": [base64.b64encode(c).decode() for c in chain],
        "signature": base64.b64encode(key.sign(canonical_json(attributes))).decode(),
    }
    return json.dumps(envelope, indent=2, ensure_ascii=False).encode() + b"\n"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise EnvelopeError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise EnvelopeError(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode() != value:
        # non-zero padding bits: another spelling of the same bytes, refused so that an
        # envelope has exactly one valid form
        raise EnvelopeError(f"{what} is not canonical base64")
    return raw


class ParsedEnvelope:
    """A structurally valid envelope."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) > MAX_ENVELOPE_BYTES:
            raise EnvelopeError(f"envelope of {len(raw)} bytes exceeds {MAX_ENVELOPE_BYTES}")
        try:
            doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise EnvelopeError(f"not JSON: {exc}") from exc
        if not isinstance(doc, dict) or set(doc) != _ENVELOPE_KEYS:
            raise EnvelopeError(f"envelope keys must be exactly {sorted(_ENVELOPE_KEYS)}")
        if doc["version"] != ENVELOPE_VERSION or type(doc["version"]) is not int:
            raise EnvelopeError(f"unsupported envelope version {doc['version']!r}")
        attrs = doc["signed_attributes"]
        if not isinstance(attrs, dict) or set(attrs) != _SIGNED_KEYS:
            raise EnvelopeError(f"signed_attributes must be exactly {sorted(_SIGNED_KEYS)}")
        if attrs["version"] != ENVELOPE_VERSION or type(attrs["version"]) is not int:
            raise EnvelopeError("signed version differs from the envelope version")
        for k in ("algorithm", "digest_algorithm", "signing_time", "signer_certificate_sha256"):
            if not isinstance(attrs[k], str):
                raise EnvelopeError(f"signed attribute {k} must be a string")
        if type(attrs["size"]) is not int or attrs["size"] < 0:
            raise EnvelopeError("signed attribute size must be a non-negative integer")
        try:
            parse_algorithm(attrs["algorithm"])
        except UnsupportedAlgorithmError as exc:
            raise EnvelopeError(str(exc)) from exc
        if attrs["digest_algorithm"] not in DIGESTS:
            raise EnvelopeError(f"unknown digest algorithm {attrs['digest_algorithm']!r}")
        # One envelope, one spelling: the content digest follows the signature (as
        # sign_detached writes it), so no envelope pairs a signature with another hash.
        paired = digest_algorithm_for(attrs["algorithm"])
        if attrs["digest_algorithm"] != paired:
            raise EnvelopeError(
                f"digest_algorithm {attrs['digest_algorithm']!r} does not follow the "
                f"signature algorithm {attrs['algorithm']!r} (expected {paired!r})"
            )
        if not _TIME.fullmatch(attrs["signing_time"]):
            raise EnvelopeError("signing_time must be YYYY-MM-DDTHH:MM:SSZ")
        try:
            self.signing_time = datetime.strptime(
                attrs["signing_time"], "%Y-%m-%dT%H:%M:%SZ"
            ).replace(tzinfo=UTC)
        except ValueError as exc:
            raise EnvelopeError(f"signing_time is not a real time: {exc}") from exc
        if not re.fullmatch(r"[0-9a-f]{64}", attrs["signer_certificate_sha256"]):
            raise EnvelopeError("signer_certificate_sha256 must be 64 lower-case hex digits")
        self.digest = _b64(attrs["digest"], "digest")
        certs = doc["certificates"]
        if not isinstance(certs, list) or not 1 <= len(certs) <= MAX_CERTIFICATES:
            raise EnvelopeError(f"certificates must be a list of 1 to {MAX_CERTIFICATES}")
        self.certificates = [_b64(c, f"certificates[{i}]") for i, c in enumerate(certs)]
        try:
            self.signer = parse_certificate(self.certificates[0])
            self.spki = certificate_spki(self.signer)
        except (ValueError, DerError) as exc:
            raise EnvelopeError(f"signer certificate unparseable: {exc}") from exc
        if hashlib.sha256(self.certificates[0]).hexdigest() != attrs["signer_certificate_sha256"]:
            raise EnvelopeError("certificates[0] is not the certificate the signature names")
        self.signature = _b64(doc["signature"], "signature")
        self.attributes: dict[str, Any] = attrs
        self.algorithm: str = attrs["algorithm"]
        self.digest_algorithm: str = attrs["digest_algorithm"]
        self.size: int = attrs["size"]


def verify_detached(
    data: bytes,
    envelope: bytes,
    trust: TrustStore,
    *,
    now: datetime | None = None,
    authority: str | None = None,
) -> VerificationReport:
    """Validate an envelope over ``data`` against ``trust``; never raises on bad input.

    ``authority`` names who must have issued what was signed (a license's issuer code, a
    delivering department's code): then only ``anchors/<authority>/`` and the general
    anchors count, as for XML licenses — otherwise an anchor trusted for one authority
    would vouch for every other's documents. ``None`` accepts any configured anchor, for
    callers that do not know who should have signed.
    """
    now = now or datetime.now(UTC)
    try:
        env = ParsedEnvelope(envelope)
    except EnvelopeError as exc:
        return VerificationReport.failure(
            SubIndication.FORMAT_FAILURE, [Check("format", False, str(exc))], format=FORMAT
        )
    checks = [Check("format", True, f"envelope version {ENVELOPE_VERSION}")]
    failures: list[SubIndication] = []

    def record(check: Check, failure: SubIndication) -> None:
        checks.append(check)
        if check.passed is False:
            failures.append(failure)

    spki = env.spki
    try:
        sig_ok = verify_signature(
            spki, env.signature, canonical_json(env.attributes), env.algorithm
        )
        detail = "" if sig_ok else "signature value does not verify with the signer's key"
    except (UnsupportedAlgorithmError, ValueError, UnsupportedAlgorithm) as exc:
        sig_ok, detail = False, str(exc)
    record(
        Check("signature_value", sig_ok, detail or env.algorithm), SubIndication.SIG_CRYPTO_FAILURE
    )
    actual = digest_bytes(env.digest_algorithm, data)
    hash_ok = actual == env.digest and len(data) == env.size
    record(
        Check(
            "data_digest",
            hash_ok,
            f"{env.digest_algorithm} of {len(data)} bytes "
            + ("matches" if hash_ok else f"differs from the signed digest of {env.size} bytes"),
        ),
        SubIndication.HASH_FAILURE,
    )
    crypto = check_crypto_constraints(env.algorithm, spki)
    crypto.name = "crypto_constraints: signature"
    record(crypto, SubIndication.CRYPTO_CONSTRAINTS_FAILURE)
    if env.digest_algorithm == "sha1":
        record(
            Check("crypto_constraints: digest", False, "SHA-1 content digest"),
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
        )
    future = env.signing_time > now + CLOCK_SKEW
    record(
        Check(
            "signing_time",
            not future,
            f"{env.signing_time.isoformat()}" + (" is in the future" if future else ""),
        ),
        SubIndication.SIG_CONSTRAINTS_FAILURE,
    )
    chain = trust.validate(
        env.certificates[0],
        env.certificates[1:],
        at=env.signing_time,
        authority=authority,
        now=now,
    )
    checks.extend(chain.checks)
    if chain.subindication is not None:
        failures.append(chain.subindication)
    context: dict[str, Any] = {
        "signer": env.signer.subject.rfc4514_string(),
        "signer_fingerprint": env.signer.fingerprint(hashes.SHA256()).hex(),
        "signing_time": env.signing_time,
        "algorithm": env.algorithm,
    }
    if failures:
        return VerificationReport.failure(most_severe(failures), checks, format=FORMAT, **context)
    return VerificationReport(Indication.PASSED, None, format=FORMAT, checks=checks, **context)
