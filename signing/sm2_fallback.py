"""Pure-Python SM2 verification through gmssl, for hosts where tongsuopy cannot load.

Verification only, on purpose: gmssl draws its signing nonce from ``random`` (not a
CSPRNG), and a predictable SM2 nonce gives away the private key. gmssl is also ~50×
slower than the C backend, which is acceptable for an auditor's laptop, not for bulk.

gmssl checks neither the range of r and s nor that the key is on the curve, and it
mangles public keys whose hex starts with 0 or 4 (it ``lstrip``s "04"); the caller
(``signing.sm2``) validates key and signature, and here the key is set after
construction so no stripping happens.
"""

from __future__ import annotations

from gmssl import sm2 as _gmssl_sm2

from signing.sm2_curve import DEFAULT_UID, message_digest


def verify_point(x: int, y: int, data: bytes, r: int, s: int, uid: bytes = DEFAULT_UID) -> bool:
    """True when (r, s) is an SM2 signature of ``data`` by the key (x, y) with ``uid``.

    Expects a validated point and r, s in [1, n-1] (``signing.sm2`` checks both).
    """
    e = message_digest(x, y, data, uid)
    verifier = _gmssl_sm2.CryptSM2(private_key="", public_key="")
    verifier.public_key = f"{x:064x}{y:064x}"
    try:
        return bool(verifier.verify(f"{r:064x}{s:064x}", e))
    except (TypeError, ValueError):
        # gmssl returns None from its point arithmetic when R = sG + tP is the point at
        # infinity, then fails indexing it: no valid signature leads there.
        return False
