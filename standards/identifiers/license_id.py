"""电子证照标识 (e-license identifier), GB/T 36904-2018.

``1.2.156.3005.2.<type code 21>.<issuer 18-char USCC or 6-digit region>.<serial>.<version>.<check>``
with an ISO 7064 MOD 37,36 check over the four middle segments joined. Serials are kept
in the case they were issued in (some provinces use lower-case hex); the check is computed
over the upper-cased text, so case never changes validity.
"""

from __future__ import annotations

from dataclasses import dataclass

from standards.identifiers.errors import InvalidIdentifier
from standards.identifiers.iso7064 import ALPHANUMERIC, mod37_36_check_char
from standards.identifiers.normalize import shown, squeeze_code
from standards.identifiers.uscc import USCC_ALPHABET

LICENSE_OID_PREFIX = "1.2.156.3005.2"
TYPE_CODE_LENGTH = 21
SERIAL_MIN, SERIAL_MAX = 7, 32
VERSION_LENGTH = 3

_PREFIX_DOT = LICENSE_OID_PREFIX + "."
_UPPER_ALNUM = frozenset(ALPHANUMERIC)
_SERIAL_CHARS = frozenset(ALPHANUMERIC + ALPHANUMERIC.lower())
_USCC_CHARS = frozenset(USCC_ALPHABET)
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class LicenseIdentifier:
    """The segments of an e-license identifier."""

    type_code: str
    issuer_code: str
    serial: str
    version: str
    check: str

    @property
    def value(self) -> str:
        """The identifier as one dotted string."""
        return ".".join(
            (
                LICENSE_OID_PREFIX,
                self.type_code,
                self.issuer_code,
                self.serial,
                self.version,
                self.check,
            )
        )

    def __str__(self) -> str:
        return self.value


def _fail(msg: str) -> InvalidIdentifier:
    return InvalidIdentifier("license_id.format", msg)


def _check_segments(type_code: str, issuer: str, serial: str, version: str) -> None:
    if len(type_code) != TYPE_CODE_LENGTH or not _UPPER_ALNUM.issuperset(type_code):
        raise _fail(
            f"license type code must be {TYPE_CODE_LENGTH} characters of 0-9/A-Z, "
            f"got {shown(type_code)}"
        )
    if len(issuer) == 18:
        if not _USCC_CHARS.issuperset(issuer):
            raise _fail(f"issuer code {shown(issuer)} has characters outside the USCC alphabet")
    elif len(issuer) != 6 or not _DIGITS.issuperset(issuer):
        raise _fail(
            f"issuer code must be an 18-character USCC or a 6-digit region code, "
            f"got {shown(issuer)}"
        )
    if not SERIAL_MIN <= len(serial) <= SERIAL_MAX or not _SERIAL_CHARS.issuperset(serial):
        raise _fail(
            f"license serial must be {SERIAL_MIN}–{SERIAL_MAX} characters of 0-9/A-Z/a-z, "
            f"got {shown(serial)}"
        )
    if len(version) != VERSION_LENGTH or not _DIGITS.issuperset(version):
        raise _fail(f"license version must be {VERSION_LENGTH} digits, got {shown(version)}")


def license_check_char(type_code: str, issuer_code: str, serial: str, version: str) -> str:
    """The MOD 37,36 check character over the joined segments."""
    return mod37_36_check_char(type_code + issuer_code + serial + version)


def build_license_identifier(type_code: str, issuer_code: str, serial: str, version: str) -> str:
    """Compose an identifier from its segments; raises ``license_id.format`` on bad ones."""
    type_code = squeeze_code(type_code).upper()
    issuer_code = squeeze_code(issuer_code).upper()
    serial = squeeze_code(serial)
    version = squeeze_code(version)
    _check_segments(type_code, issuer_code, serial, version)
    check = license_check_char(type_code, issuer_code, serial, version)
    return LicenseIdentifier(type_code, issuer_code, serial, version, check).value


def parse_license_identifier(value: str) -> LicenseIdentifier:
    """Split and verify an identifier; ``license_id.format`` or ``license_id.check``."""
    text = squeeze_code(value)
    if not text.startswith(_PREFIX_DOT):
        raise _fail(f"e-license identifier must start with {_PREFIX_DOT!r}: {shown(text)}")
    parts = text[len(_PREFIX_DOT) :].split(".")
    if len(parts) != 5:
        raise _fail(
            f"e-license identifier needs 5 segments after the prefix, got {len(parts)}: "
            f"{shown(text)}"
        )
    type_code, issuer, serial, version, check = parts
    type_code, issuer, check = type_code.upper(), issuer.upper(), check.upper()
    _check_segments(type_code, issuer, serial, version)
    if len(check) != 1 or check not in _UPPER_ALNUM:
        raise _fail(f"check segment must be one character of 0-9/A-Z, got {shown(check)}")
    expected = license_check_char(type_code, issuer, serial, version)
    if check != expected:
        raise InvalidIdentifier(
            "license_id.check",
            f"e-license identifier {shown(text)}: check character is {check!r}, "
            f"expected {expected!r}",
        )
    return LicenseIdentifier(type_code, issuer, serial, version, check)
