"""Protection of personal identifiers at rest.

Three forms are kept for every personal ID: an AES-256-GCM ciphertext (the only way back to
the clear value), a keyed HMAC for lookups (equal IDs give equal hashes, and without the key
nobody can test guesses against it), and a masked form for display. Encryption and lookup
keys are derived separately from the master key with HKDF, so neither output helps attack
the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from standards.identifiers.normalize import normalize_code
from standards.privacy import mask_id, mask_text

if TYPE_CHECKING:
    from tongyuan.config import Settings

CIPHERTEXT_PREFIX = "v1:"
_NONCE_BYTES = 12
_KEY_BYTES = 32
_AAD = b"tongyuan-pii-v1"

# Payload fields that hold an identifier of a person or organisation whatever its format
# (a passport number does not look like a citizen ID, it is personal all the same).
ID_FIELD_NAMES = frozenset({"id_number", "holder_id", "holder_id_number", "applicant_id"})


class PiiError(ValueError):
    """A token could not be decrypted: wrong key, altered data, or not a token at all."""


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=None, info=info).derive(master)


def normalize_id(value: str) -> str:
    """The form lookups hash: case, blanks, separators and full-width digits must not
    split one person in two (the identifier normalisation of the standard)."""
    return normalize_code(value)


class PiiProtector:
    """Encrypts, hashes and masks personal identifiers with one master key."""

    __slots__ = ("_aead", "_exact_key", "_mac_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError(f"PII master key must be {_KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(_derive(key, b"tongyuan/pii/encrypt/v1"))
        self._mac_key = _derive(key, b"tongyuan/pii/lookup/v1")
        self._exact_key = _derive(key, b"tongyuan/pii/exact/v1")

    @classmethod
    def from_settings(cls, settings: Settings) -> PiiProtector:
        """The protector of this installation (environment key or the key file)."""
        return cls(settings.pii_key())

    def __repr__(self) -> str:
        return "PiiProtector(<key hidden>)"

    def encrypt(self, value: str) -> str:
        """``v1:`` + base64(nonce ‖ ciphertext ‖ tag); a fresh random nonce every call."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), _AAD)
        return CIPHERTEXT_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str) -> str:
        if not token.startswith(CIPHERTEXT_PREFIX):
            raise PiiError("not a PII token (unknown version prefix)")
        try:
            raw = base64.b64decode(token[len(CIPHERTEXT_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise PiiError("PII token is not valid base64") from None
        if len(raw) < _NONCE_BYTES + 16:
            raise PiiError("PII token is truncated")
        try:
            clear = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD)
        except InvalidTag:
            raise PiiError(
                "PII token does not decrypt with this key (wrong key or altered)"
            ) from None
        return clear.decode("utf-8")

    def lookup_hash(self, value: str) -> str:
        """HMAC-SHA256 (hex) of the normalised value, for equality search."""
        data = normalize_id(value).encode("utf-8")
        return hmac.new(self._mac_key, data, hashlib.sha256).hexdigest()

    def exact_hash(self, value: str) -> str:
        """HMAC-SHA256 (hex) of the text exactly as given, for finding the same document.

        Not :meth:`lookup_hash`: its normalisation (case, spaces, separators) is right
        for an ID number and wrong for a whole record, where it made two different
        records one. Its own derived key keeps the two kinds of hash apart.
        """
        return hmac.new(self._exact_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    @staticmethod
    def masked(value: str) -> str:
        """Display form, ``4403**********1234``."""
        return mask_id(normalize_id(value))


def mask_payload(value: Any) -> Any:
    """A copy of a JSON-like value fit for display: ID fields masked, IDs in text masked."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in ID_FIELD_NAMES and isinstance(item, str):
                out[key] = mask_id(item.strip())
            else:
                out[key] = mask_payload(item)
        return out
    if isinstance(value, list):
        return [mask_payload(item) for item in value]
    if isinstance(value, str):
        return mask_text(value)
    return value
