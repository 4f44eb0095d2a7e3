"""The three stored forms of one identifier (ciphertext, lookup hash, display mask).

The display mask is stored (``*_id_masked`` columns and the stored documents), but what
it looks like has changed once: identifiers shorter than 18 characters used to keep
four and four characters (a 9-character passport ``E123*5678``), and now show at most a
third (``E******78``, :func:`standards.privacy.mask_id`). Two consequences, both kept
here so that every library does the same:

- Content hashes carry the identifier in its *hash form*, the mask as it was before
  (:func:`hash_form`), never the display mask. A record stored before the change and
  delivered again unchanged is then recognised as unchanged (a licence keeps its
  signature verdict), and a future change of the display mask changes no hash. The
  hash form is only ever hashed, never shown. Stored rows cannot be rewritten instead:
  the ledger vouches for them as they are.
- What is shown of a stored mask is masked again (:func:`shown_mask`): rows never
  delivered again keep the old form, ``E123*5678``, and show ``E******78`` all the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from standards.codes.enums import IdType
from standards.privacy import mask_id
from tongyuan.privacy import PiiProtector, normalize_id

# The display mask before at-most-a-third: four and four characters of anything longer
# than eight, everything starred otherwise. Only the hash form is made this way.
_HASH_FORM_KEEPS = 4


@dataclass(frozen=True, slots=True)
class ProtectedId:
    enc: str
    hash: str
    masked: str
    # What content hashes carry in place of ``masked`` (see the module docstring).
    hash_form: str


def hash_form(normalized: str) -> str:
    """The form a person's identifier (normalised) takes in content hashes: the mask of
    the versions before at-most-a-third (``E123*5678``; 18 characters as displayed,
    ``4403**********1234``). Hashed only: shown, it would give away eight characters of
    a nine-character passport number."""
    keep = _HASH_FORM_KEEPS
    if len(normalized) <= 2 * keep:
        return "*" * len(normalized)
    return normalized[:keep] + "*" * (len(normalized) - 2 * keep) + normalized[-keep:]


def protect_id(protector: PiiProtector, value: str, id_type: IdType) -> ProtectedId:
    """Encrypt and hash every identifier; mask it for display when it names a person.

    An organisation's USCC is public register data, so its display form stays whole: a
    masked company code would only make reports harder to read.
    """
    if not id_type.is_person:
        whole = normalize_id(value)
        return ProtectedId(protector.encrypt(value), protector.lookup_hash(value), whole, whole)
    return ProtectedId(
        protector.encrypt(value),
        protector.lookup_hash(value),
        protector.masked(value),
        hash_form(normalize_id(value)),
    )


def shown_mask(stored: str, id_type: str | IdType) -> str:
    """A stored ``*_id_masked`` value as it may be shown today: a person's identifier
    masked again (a row stored before at-most-a-third holds ``E123*5678``, shown
    ``E******78``; masking a mask again changes nothing), an organisation's code as it
    is."""
    kind = id_type if isinstance(id_type, IdType) else IdType(id_type)
    return mask_id(stored) if kind.is_person else stored
