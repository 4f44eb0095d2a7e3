"""SM3 (GB/T 32905-2016), the hash every SM2 signature is made over.

pyca/cryptography ships SM3 in C, so the hash never depends on tongsuopy being importable:
the gmssl verification fallback and the Z-value computation both hash through here.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes

SM3_DIGEST_SIZE = 32


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of ``data``."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()
