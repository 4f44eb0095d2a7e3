"""Masking of personal identifiers for anything a person or a log will read.

What is masked is what *can be* a 公民身份号码 (GB 11643), not every long digit run: an
18-character number (digits, the last may be X) whose positions 7–14 are shaped as a date
(years 1900–2099, months 01–12, days 01–31), or a legacy 15-digit number whose
positions 7–12 are one (19YYMMDD).
Public identifiers of the same length that are not citizen IDs — all-digit 统一社会信用代码
of authorities (``114403000040578006``: positions 7–14 ``00004057``), serials and license
identifiers containing them — stay as they are: masking them made departments
unidentifiable and corrupted license keys.

The check character (ISO 7064 MOD 11-2) is *not* required of a plain number: the records
the hub quarantines for ``citizen_id.check`` are real people's numbers with one
character mistyped, and their quarantine listings, logs and reports must not show them.
Only about one all-digit USCC in 1,300 has a date in that place; those are masked, the
side to err on.

People also write an ID in groups inside free text (``身份证:440305 19850312 001X`` or
``440305-19850312-001X``): the 6-8-4 grouping with one space or hyphen between groups is
masked too (separators kept) when, besides the date, its check character is right —
grouped digits in prose are more often something else (phone numbers, references), so
the stronger evidence is asked for there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_KEEP_HEAD = 4
_KEEP_TAIL = 4

# Shapes that could be a citizen ID, not embedded in longer runs of letters and digits:
# 18 characters (last may be X) written plain or as 6-8-4 groups separated by one space
# or hyphen, and legacy 15-digit numbers. Whether a match *is* one is decided by
# :func:`could_be_citizen_id` (date and check character).
CITIZEN_ID_PATTERN = re.compile(
    r"(?<![0-9A-Za-z])"
    r"(?:\d{6}[ -]?\d{8}[ -]?\d{3}[\dXx]|\d{15})"
    r"(?![0-9A-Za-z])"
)
_SEPARATORS = re.compile(r"[ -]")
_FIRST_BIRTH_YEAR = 1900
_LAST_BIRTH_YEAR = 2099


def mask_id(value: str | None) -> str:
    """Mask an identifier as ``4403**********1234``: the region prefix and last 4 stay.

    Short values are fully starred: too little is left to hide anything otherwise.
    """
    if not value:
        return ""
    if len(value) <= _KEEP_HEAD + _KEEP_TAIL:
        return "*" * len(value)
    return value[:_KEEP_HEAD] + "*" * (len(value) - _KEEP_HEAD - _KEEP_TAIL) + value[-_KEEP_TAIL:]


def _date_shaped(yyyymmdd: str) -> bool:
    """Year 1900–2099, month 01–12, day 01–31: the shape of a birth date.

    Not calendar validity: a number quarantined for ``citizen_id.birth_date`` (30 Feb,
    a mistyped day) is still a person's number and is masked like any other.
    """
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])
    return _FIRST_BIRTH_YEAR <= year <= _LAST_BIRTH_YEAR and 1 <= month <= 12 and 1 <= day <= 31


def could_be_citizen_id(value: str) -> bool:
    """Whether ``value`` (digits, the last of 18 may be X) can be a citizen ID.

    A real birth date in its place is required; written in groups (spaces or hyphens
    inside), the MOD 11-2 check character must be right as well. No region or
    today's-date test: a masked value that is not an ID costs little, an ID left clear
    costs much.
    """
    number = _SEPARATORS.sub("", value).upper()
    if len(number) == 15 and number.isdigit():
        return _date_shaped("19" + number[6:12])
    if len(number) != 18 or not number[:17].isdigit() or not _date_shaped(number[6:14]):
        return False
    if len(value) == len(number):
        return True
    # Imported here: standards.identifiers imports this module (mask_id) on its own import.
    from standards.identifiers.iso7064 import mod11_2_check_char

    return mod11_2_check_char(number[:17]) == number[17]


def find_citizen_ids(text: str) -> Iterator[re.Match[str]]:
    """Every place in ``text`` holding something that can be a citizen ID."""
    return (m for m in CITIZEN_ID_PATTERN.finditer(text) if could_be_citizen_id(m.group(0)))


def contains_citizen_id(text: str) -> bool:
    """Whether free text carries something that can be a citizen ID (for leak checks)."""
    return next(find_citizen_ids(text), None) is not None


def _mask_match(match: re.Match[str]) -> str:
    value = match.group(0)
    return mask_id(value) if could_be_citizen_id(value) else value


def mask_text(text: str) -> str:
    """Mask every citizen ID number that appears inside free text (log lines, messages)."""
    return CITIZEN_ID_PATTERN.sub(_mask_match, text)
