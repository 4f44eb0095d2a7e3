"""`tongyuan pki issue-department`: a development signer a signed delivery will accept.

The hub ties a signed delivery to the department whose USCC the signer certificate
names; the PKI's shared signing certificate names none, so a department of a
development hub (the lanzhou example has `signing: true`) needs one of its own.
"""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from typer.testing import CliRunner

from signing.detached import ParsedEnvelope, sign_detached, verify_detached
from signing.keys import load_signing_key
from signing.pki import init_pki
from signing.trust import TrustStore
from tongyuan.cli.app import app
from tongyuan.ingest.signer_identity import signer_refusal, signer_usccs

DEPT = "11440305007510000Y"
runner = CliRunner()


def test_an_issued_department_signer_signs_for_that_department(tmp_path: Path) -> None:
    pki = init_pki(tmp_path / "pki", algorithms=("ecdsa",))
    args = [*_issue(pki.directory, DEPT.lower()), "--name", "南山区市场监督管理局"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    cert_path, chain_path, key_path = pki.department_signer_paths("ecdsa", DEPT)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    chain = [_der(c) for c in x509.load_pem_x509_certificates(chain_path.read_bytes())]
    assert chain[0] == _der(x509.load_pem_x509_certificate(cert_path.read_bytes()))
    envelope = sign_detached(b"MANIFEST", load_signing_key(key_path), chain)
    trust = TrustStore.load(pki.trust_dir)
    assert verify_detached(b"MANIFEST", envelope, trust).passed
    assert signer_usccs(ParsedEnvelope(envelope).signer) == [DEPT]
    assert signer_refusal(envelope, trust, DEPT, "shared", None) is None
    assert "not the delivering department" in (
        signer_refusal(envelope, trust, "11440304MB2C92920A", "shared", None) or ""
    )
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "issued already" in again.output
    key = key_path.read_bytes()
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    assert key_path.read_bytes() != key


def test_a_bad_code_or_a_missing_pki_is_refused(tmp_path: Path) -> None:
    pki = init_pki(tmp_path / "pki", algorithms=("ecdsa",))
    bad = runner.invoke(app, [*_issue(pki.directory, DEPT[:-1] + "0"), "--name", "x"])
    assert bad.exit_code == 2
    missing = runner.invoke(app, [*_issue(tmp_path / "none", DEPT), "--name", "x"])
    assert missing.exit_code == 1 and "refused" in missing.output
    family = runner.invoke(app, [*_issue(pki.directory, DEPT), "--name", "x", "--family", "sm2"])
    assert family.exit_code == 2


def _issue(directory: Path, code: str) -> list[str]:
    return ["pki", "issue-department", str(directory), "--code", code]


def _der(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)
