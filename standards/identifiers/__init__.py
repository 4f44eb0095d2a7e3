"""Identifier checks of the standard (DESIGN.md §3).

Every check normalises first (:func:`normalize_code`) and raises
:class:`InvalidIdentifier` with a rule id from ``standards.validation.rules``.
"""

from standards.codes.regions import RegionLevel
from standards.identifiers.case_serial import (
    CaseSerial,
    InMemorySerialAllocator,
    SerialAllocator,
    format_case_serial,
    parse_case_serial,
)
from standards.identifiers.citizen_id import (
    CitizenId,
    citizen_id_check_char,
    upgrade_legacy_citizen_id,
    validate_citizen_id,
)
from standards.identifiers.errors import InvalidIdentifier
from standards.identifiers.iso7064 import (
    mod11_2_check_char,
    mod37_36_check_char,
    mod37_36_is_valid,
)
from standards.identifiers.item_codes import (
    BasicCode,
    HandlingCode,
    ImplCode,
    make_impl_code,
    parse_basic_code,
    parse_handling_code,
    parse_impl_code,
)
from standards.identifiers.license_id import (
    LICENSE_OID_PREFIX,
    LicenseIdentifier,
    build_license_identifier,
    parse_license_identifier,
)
from standards.identifiers.normalize import normalize_code
from standards.identifiers.region_code import validate_region_code
from standards.identifiers.uscc import USCC_ALPHABET, uscc_check_char, validate_uscc

__all__ = [
    "LICENSE_OID_PREFIX",
    "USCC_ALPHABET",
    "BasicCode",
    "CaseSerial",
    "CitizenId",
    "HandlingCode",
    "ImplCode",
    "InMemorySerialAllocator",
    "InvalidIdentifier",
    "LicenseIdentifier",
    "RegionLevel",
    "SerialAllocator",
    "build_license_identifier",
    "citizen_id_check_char",
    "format_case_serial",
    "make_impl_code",
    "mod11_2_check_char",
    "mod37_36_check_char",
    "mod37_36_is_valid",
    "normalize_code",
    "parse_basic_code",
    "parse_case_serial",
    "parse_handling_code",
    "parse_impl_code",
    "parse_license_identifier",
    "upgrade_legacy_citizen_id",
    "uscc_check_char",
    "validate_citizen_id",
    "validate_region_code",
    "validate_uscc",
]
