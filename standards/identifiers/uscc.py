"""统一社会信用代码 (Unified Social Credit Code), GB 32100-2015.

Layout: 1 registration authority, 2 organisation category, 3–8 GB/T 2260 region code,
9–17 organisation code, 18 check character. Leading characters are letters for many
authorities (N… co-operatives, Y… trade unions), so only the region part must be digits.
"""

from __future__ import annotations

from operator import mul

from standards.identifiers.errors import InvalidIdentifier
from standards.identifiers.normalize import normalize_code, shown

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_LENGTH = 18
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_ALPHABET_SET = frozenset(USCC_ALPHABET)
_FORBIDDEN = frozenset("IOZSV")


def uscc_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a USCC."""
    if len(first17) != 17:
        raise ValueError(f"USCC check needs 17 characters, got {len(first17)}")
    try:
        total = sum(map(mul, map(_VALUE.__getitem__, first17), USCC_WEIGHTS))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the USCC alphabet") from None
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc_structure(code: str, rule_prefix: str = "uscc") -> None:
    """Length and alphabet of an already normalised USCC; raises ``<prefix>.length/charset``.

    Separate from the full check because 实施编码 embed authority codes whose check
    character legacy data gets wrong, and that must not make the item code unparseable.
    """
    if len(code) != USCC_LENGTH:
        raise InvalidIdentifier(
            f"{rule_prefix}.length",
            f"USCC must be {USCC_LENGTH} characters, got {len(code)}: {shown(code)}",
        )
    if _ALPHABET_SET.issuperset(code):
        return
    for pos, ch in enumerate(code, start=1):
        if ch not in _VALUE:
            why = " (I, O, Z, S, V are never used)" if ch in _FORBIDDEN else ""
            raise InvalidIdentifier(
                f"{rule_prefix}.charset",
                f"USCC character {pos} is {ch!r}, not in {USCC_ALPHABET}{why}: {shown(code)}",
            )


def validate_uscc(value: str) -> str:
    """Check a USCC completely and return its normalised form.

    Order: length, charset, region digits, check character — so a ``uscc.check`` error
    means the code is otherwise well formed (a finding for legacy data, see errors.py).
    The region part is not looked up in the region table: codes outlive divisions.
    """
    code = normalize_code(value)
    check_uscc_structure(code)
    region = code[2:8]
    if not (region.isascii() and region.isdigit()):
        raise InvalidIdentifier(
            "uscc.region",
            f"USCC characters 3–8 must be a 6-digit region code, got {region!r}",
        )
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise InvalidIdentifier(
            "uscc.check",
            f"USCC check character is {code[17]!r}, expected {expected!r}: {shown(code)}",
        )
    return code
