"""公民身份号码 (citizen ID number), GB 11643-1999, and the 15-digit numbers before it.

Every message here masks the number: these are personal data and error messages end up
in logs, quarantine tables and reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from standards.identifiers.errors import InvalidIdentifier
from standards.identifiers.iso7064 import mod11_2_check_char
from standards.identifiers.normalize import normalize_code
from standards.identifiers.region_code import is_known_province
from standards.privacy import mask_id

EARLIEST_BIRTH_DATE = date(1870, 1, 1)
_CHECK_SET = frozenset("0123456789X")


@dataclass(frozen=True, slots=True)
class CitizenId:
    """A checked citizen ID number; ``repr`` masks the number so it is safe to log.

    ``number`` is the normalised number as given: 15 digits for a legacy number
    (``legacy=True``); use :func:`upgrade_legacy_citizen_id` for the 18-digit form.
    """

    number: str = field(repr=False)
    region_code: str
    birth_date: date
    sex: Literal["M", "F"]
    legacy: bool

    def __repr__(self) -> str:
        return (
            f"CitizenId(number={mask_id(self.number)!r}, region_code={self.region_code!r}, "
            f"sex={self.sex!r}, legacy={self.legacy!r})"
        )

    @property
    def masked(self) -> str:
        """The number as it may appear in logs and reports."""
        return mask_id(self.number)


def citizen_id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    return mod11_2_check_char(first17)


def _birth_date(number: str, ymd: str, today: date) -> date:
    try:
        born = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8]))
    except ValueError:
        raise InvalidIdentifier(
            "citizen_id.birth_date",
            # The date itself is not echoed: with the masked number it would narrow the
            # person down to a handful of candidates.
            f"citizen ID {mask_id(number)}: the birth date part is not a real calendar date",
        ) from None
    if born > today:
        raise InvalidIdentifier(
            "citizen_id.birth_date",
            f"citizen ID {mask_id(number)}: the birth date part is after {today}",
        )
    if born < EARLIEST_BIRTH_DATE:
        raise InvalidIdentifier(
            "citizen_id.birth_date",
            f"citizen ID {mask_id(number)}: the birth date part is before {EARLIEST_BIRTH_DATE}",
        )
    return born


def validate_citizen_id(value: str, *, today: date | None = None) -> CitizenId:
    """Check an 18-digit (or legacy 15-digit) citizen ID number.

    Order: length, charset, province, birth date, check — so ``citizen_id.check`` means
    only the last character disagrees. Only the province is required to be known: county
    codes are renumbered over the decades while the numbers issued under them stay valid.
    """
    number = normalize_code(value)
    n = len(number)
    if n not in (18, 15):
        raise InvalidIdentifier(
            "citizen_id.length",
            f"citizen ID must be 18 (or legacy 15) characters, got {n}: {mask_id(number)}",
        )
    body = number[:17] if n == 18 else number
    if not (body.isascii() and body.isdigit()) or (n == 18 and number[17] not in _CHECK_SET):
        raise InvalidIdentifier(
            "citizen_id.charset",
            f"citizen ID {mask_id(number)}: only digits are allowed, and X as the 18th",
        )
    if not is_known_province(number[:2]):
        raise InvalidIdentifier(
            "citizen_id.region",
            f"citizen ID {mask_id(number)}: {number[:2]!r} is not a province code",
        )
    ymd = number[6:14] if n == 18 else "19" + number[6:12]
    born = _birth_date(number, ymd, today or date.today())
    if n == 18:
        expected = mod11_2_check_char(body)
        if number[17] != expected:
            raise InvalidIdentifier(
                "citizen_id.check",
                f"citizen ID {mask_id(number)}: check character is wrong",
            )
        sex_digit = number[16]
    else:
        sex_digit = number[14]
    return CitizenId(
        number=number,
        region_code=number[:6],
        birth_date=born,
        sex="M" if int(sex_digit) % 2 else "F",
        legacy=n == 15,
    )


def upgrade_legacy_citizen_id(id15: str) -> str:
    """The 18-digit number for a 15-digit one: century 19 inserted, check appended.

    The legacy number is validated first, so garbage is not silently given a valid check.
    """
    number = normalize_code(id15)
    if len(number) != 15:
        raise InvalidIdentifier(
            "citizen_id.length",
            f"legacy citizen ID must be 15 digits, got {len(number)}: {mask_id(number)}",
        )
    validate_citizen_id(number)
    first17 = number[:6] + "19" + number[6:]
    return first17 + mod11_2_check_char(first17)
