"""政务服务事项编码: 基本编码 (12), 实施编码 (31) and 业务办理项编码 (33).

实施编码 = implementing authority's USCC (18) + 行使层级 (1) + 基本编码 (12);
业务办理项编码 = 实施编码 + 2-digit sequence. The embedded USCC is checked for structure
only: authorities with a USCC that fails its check character exist, and their item codes
must still parse (callers run :func:`validate_uscc` on it and report a finding).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from standards.codes.enums import ExerciseLevel, ItemType
from standards.identifiers.errors import InvalidIdentifier
from standards.identifiers.normalize import normalize_code, shown
from standards.identifiers.region_code import is_known_province
from standards.identifiers.uscc import check_uscc_structure

BASIC_CODE_LENGTH = 12
IMPL_CODE_LENGTH = 31
HANDLING_CODE_LENGTH = 33
NATIONAL_PREFIX = "00"

_ITEM_TYPES = {t.value: t for t in ItemType}
_LEVELS = {lv.value: lv for lv in ExerciseLevel}


@dataclass(frozen=True, slots=True)
class BasicCode:
    """A parsed 基本编码."""

    code: str
    prefix: str  # "00" for the national catalogue, else the province that added the item
    item_type: ItemType
    main: str  # 5 digits
    sub: str  # 3 digits, "000" when the item has no sub-items


@dataclass(frozen=True, slots=True)
class ImplCode:
    """A parsed 实施编码."""

    code: str
    authority_uscc: str
    level: ExerciseLevel
    basic: BasicCode


@dataclass(frozen=True, slots=True)
class HandlingCode:
    """A parsed 业务办理项编码."""

    code: str
    impl: ImplCode
    seq: str  # 2 digits


# Distinct codes in one region number in the tens of thousands at most.
_CACHE_SIZE = 1 << 16


def _is_digits(s: str) -> bool:
    return s.isascii() and s.isdigit()


@lru_cache(maxsize=_CACHE_SIZE)
def parse_basic_code(code: str) -> BasicCode:
    """Parse a 12-digit 基本编码; raises ``basic_code.format`` or ``basic_code.item_type``.

    Cached (results are immutable): a few thousand items carry millions of cases, so the
    same codes are parsed over and over on the hot path of every ingest.
    """
    norm = normalize_code(code)
    if len(norm) != BASIC_CODE_LENGTH or not _is_digits(norm):
        raise InvalidIdentifier(
            "basic_code.format",
            f"basic item code must be {BASIC_CODE_LENGTH} digits, got {shown(norm)}",
        )
    prefix = norm[:2]
    if prefix != NATIONAL_PREFIX and not is_known_province(prefix):
        raise InvalidIdentifier(
            "basic_code.format",
            f"basic item code {norm!r}: prefix {prefix!r} is neither 00 nor a province code",
        )
    item_type = _ITEM_TYPES.get(norm[2:4])
    if item_type is None:
        raise InvalidIdentifier(
            "basic_code.item_type",
            f"basic item code {norm!r}: item type {norm[2:4]!r} is not one of "
            f"{', '.join(_ITEM_TYPES)}",
        )
    return BasicCode(norm, prefix, item_type, norm[4:9], norm[9:12])


def _parse_impl(norm: str, rule: str) -> ImplCode:
    """Parse a normalised 31-char implementation code, raising structural errors as ``rule``."""
    if len(norm) != IMPL_CODE_LENGTH:
        raise InvalidIdentifier(
            rule,
            f"implementation code must be {IMPL_CODE_LENGTH} characters, "
            f"got {len(norm)}: {shown(norm)}",
        )
    uscc = norm[:18]
    try:
        check_uscc_structure(uscc)
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(
            rule, f"implementation code {shown(norm)}: authority code: {exc.message}"
        ) from None
    level = _LEVELS.get(norm[18])
    if level is None:
        raise InvalidIdentifier(
            "impl_code.level" if rule == "impl_code.format" else rule,
            f"implementation code {shown(norm)}: exercise level {norm[18]!r} is not 1–6",
        )
    try:
        basic = parse_basic_code(norm[19:])
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(
            rule, f"implementation code {shown(norm)}: {exc.message} [{exc.rule}]"
        ) from None
    return ImplCode(norm, uscc, level, basic)


@lru_cache(maxsize=_CACHE_SIZE)
def parse_impl_code(code: str) -> ImplCode:
    """Parse a 31-character 实施编码; raises ``impl_code.format`` or ``impl_code.level``.

    Cached like :func:`parse_basic_code`; failures are not cached and raise every time.
    """
    return _parse_impl(normalize_code(code), "impl_code.format")


def make_impl_code(uscc: str, level: ExerciseLevel | str | int, basic_code: str) -> str:
    """Compose a 实施编码 from its parts, checking the result parses."""
    lv = level.value if isinstance(level, ExerciseLevel) else str(level)
    return parse_impl_code(normalize_code(uscc) + lv + normalize_code(basic_code)).code


@lru_cache(maxsize=_CACHE_SIZE)
def parse_handling_code(code: str) -> HandlingCode:
    """Parse a 33-character 业务办理项编码; any problem raises ``handling_code.format``."""
    norm = normalize_code(code)
    if len(norm) != HANDLING_CODE_LENGTH:
        raise InvalidIdentifier(
            "handling_code.format",
            f"handling code must be {HANDLING_CODE_LENGTH} characters, "
            f"got {len(norm)}: {shown(norm)}",
        )
    seq = norm[IMPL_CODE_LENGTH:]
    if not _is_digits(seq):
        raise InvalidIdentifier(
            "handling_code.format", f"handling code {shown(norm)}: sequence {seq!r} is not 2 digits"
        )
    impl = _parse_impl(norm[:IMPL_CODE_LENGTH], "handling_code.format")
    return HandlingCode(norm, impl, seq)
