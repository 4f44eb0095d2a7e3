"""A generated PKI for the signing tests (shared by the detached, SM2 and XML-DSig tests).

``test_pki`` (session scope) is a ``signing_pki.GeneratedPki``: one root → intermediate →
document-signing hierarchy per family (rsa, ecdsa, sm2, ed25519) built at
``test_pki.now``, an untrusted ECDSA hierarchy (``test_pki.untrusted``), and a trust
directory with fresh CRLs (``test_pki.trust_dir`` / ``test_pki.trust``). Tests needing
another trust situation write their own with ``test_pki.write_trust(path, ...)``
(revocations, stale or missing CRLs, per-authority anchors) and issue odd certificates
with ``test_pki.issue(...)``. Import the helper types with ``from signing_pki import ...``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from signing_pki import NOW, GeneratedPki

from signing.pki import FAMILIES, build_hierarchy


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPki:
    """One generated PKI per test session (all four families, plus an untrusted one)."""
    start = NOW - timedelta(days=400)
    hierarchies = {f: build_hierarchy(f, now=NOW, valid_from=start) for f in FAMILIES}
    untrusted = build_hierarchy("ecdsa", now=NOW, valid_from=start)
    return GeneratedPki(NOW, hierarchies, untrusted, tmp_path_factory.mktemp("trust"))
