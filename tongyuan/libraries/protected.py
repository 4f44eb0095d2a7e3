"""The three stored forms of one identifier (ciphertext, lookup hash, display mask)."""

from __future__ import annotations

from dataclasses import dataclass

from standards.codes.enums import IdType
from tongyuan.privacy import PiiProtector, normalize_id


@dataclass(frozen=True, slots=True)
class ProtectedId:
    enc: str
    hash: str
    masked: str


def protect_id(protector: PiiProtector, value: str, id_type: IdType) -> ProtectedId:
    """Encrypt and hash every identifier; mask it for display when it names a person.

    An organisation's USCC is public register data, so its display form stays whole: a
    masked company code would only make reports harder to read.
    """
    masked = protector.masked(value) if id_type.is_person else normalize_id(value)
    return ProtectedId(protector.encrypt(value), protector.lookup_hash(value), masked)
