"""Normalisation applied to every identifier before it is checked.

Source systems type identifiers by hand: full-width digits from Chinese input methods,
spaces and hyphens used as visual separators, lower-case letters. None of these change
which code is meant, so checks run on the normalised form while callers keep the original.
"""

from __future__ import annotations

import unicodedata

from standards.privacy import mask_text

# Characters that only ever separate groups of an identifier. NFKC has already folded
# full-width forms (U+3000, U+FF0D …) into these before the table is applied.
_SEPARATORS = (
    " \t\n\r\v\f\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u200b\u2028\u2029\u202f\u205f\u3000\ufeff-_\u2010\u2011\u2012\u2013\u2014\u2212"
)
_DROP = str.maketrans(dict.fromkeys(_SEPARATORS))


def squeeze_code(value: str) -> str:
    """NFKC-fold and drop separators, keeping letter case.

    For identifiers whose letters are case-sensitive as data (e-license serials in hex),
    while digits and separators still need folding.
    """
    if not isinstance(value, str):
        raise TypeError(f"identifier must be a str, got {type(value).__name__}")
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
    return value.translate(_DROP)


def normalize_code(value: str) -> str:
    """The canonical form every identifier check works on: folded, unseparated, upper case."""
    return squeeze_code(value).upper()


def shown(value: str, limit: int = 48) -> str:
    """An identifier quoted for an error message: truncated, citizen ID numbers masked.

    Values in the wrong field are common (a 身份证号 typed into a USCC column), so every
    message goes through masking, whatever the field was meant to hold.
    """
    text = value if len(value) <= limit else value[:limit] + "…"
    return repr(mask_text(text))
