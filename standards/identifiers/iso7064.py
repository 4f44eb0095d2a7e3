"""ISO 7064 check character systems used by the national identifier standards.

MOD 11-2 is the 公民身份号码 check (GB 11643); the hybrid MOD 37,36 protects e-license
identifiers (GB/T 36904). Both detect every single-character substitution.
"""

from __future__ import annotations

from operator import mul

MOD11_2_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_MOD11_2_CHARS = "10X98765432"

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM_VALUE = {c: i for i, c in enumerate(ALPHANUMERIC)}
_DIGIT_VALUE = {c: i for i, c in enumerate("0123456789")}


def mod11_2_check_char(digits17: str) -> str:
    """The GB 11643 check character ('0'–'9' or 'X') for the first 17 digits of an ID."""
    if len(digits17) != 17:
        raise ValueError(f"MOD 11-2 needs exactly 17 digits, got {len(digits17)} characters")
    try:
        total = sum(map(mul, map(_DIGIT_VALUE.__getitem__, digits17), MOD11_2_WEIGHTS))
    except KeyError as exc:
        raise ValueError(f"MOD 11-2 input must be digits, found {exc.args[0]!r}") from None
    return _MOD11_2_CHARS[total % 11]


def _mod37_36_running(s: str) -> int:
    """Running product p after consuming ``s`` (ISO 7064 hybrid, M = 36)."""
    p = 36
    for ch in s:
        try:
            v = _ALNUM_VALUE[ch]
        except KeyError:
            raise ValueError(f"MOD 37,36 input must be 0-9/A-Z, found {ch!r}") from None
        t = (p + v) % 36 or 36
        p = (t * 2) % 37
    return p


def mod37_36_check_char(s: str) -> str:
    """The check character that makes ``s`` + check valid under ISO 7064 MOD 37,36."""
    p = _mod37_36_running(s.upper())
    return ALPHANUMERIC[(37 - p) % 36]


def mod37_36_is_valid(s_with_check: str) -> bool:
    """Whether the last character is the correct MOD 37,36 check for the rest."""
    s = s_with_check.upper()
    if len(s) < 2:
        return False
    try:
        p = _mod37_36_running(s[:-1])
    except ValueError:
        return False
    last = _ALNUM_VALUE.get(s[-1])
    return last is not None and (p + last) % 36 == 1
