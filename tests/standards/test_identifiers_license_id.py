"""电子证照标识 (GB/T 36904): build, parse, MOD 37,36 check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from standards.identifiers import (
    LICENSE_OID_PREFIX,
    USCC_ALPHABET,
    InvalidIdentifier,
    LicenseIdentifier,
    build_license_identifier,
    mod37_36_check_char,
    parse_license_identifier,
)

TYPE = "11100000000013338W001"
ISSUER = "11440300007542418W"
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def rule_of(value: str) -> str:
    with pytest.raises(InvalidIdentifier) as info:
        parse_license_identifier(value)
    return info.value.rule


def test_build_uses_prefix_and_mod37_36_over_joined_segments() -> None:
    built = build_license_identifier(TYPE, ISSUER, "4403001234567", "001")
    check = mod37_36_check_char(TYPE + ISSUER + "4403001234567" + "001")
    assert built == f"{LICENSE_OID_PREFIX}.{TYPE}.{ISSUER}.4403001234567.001.{check}"
    parsed = parse_license_identifier(built)
    assert parsed == LicenseIdentifier(TYPE, ISSUER, "4403001234567", "001", check)
    assert parsed.value == built == str(parsed)


def test_region_code_as_issuer_and_lower_case_hex_serial() -> None:
    built = build_license_identifier(TYPE, "440300", "9f3a0c7d2e", "002")
    parsed = parse_license_identifier(built)
    assert parsed.issuer_code == "440300"
    assert parsed.serial == "9f3a0c7d2e"  # case of the serial is kept
    # The check is case-insensitive: upper-casing the serial keeps it valid.
    assert parse_license_identifier(built.upper()).check == parsed.check


def test_parse_normalises_spaces_and_full_width() -> None:
    built = build_license_identifier(TYPE, ISSUER, "ABC1234", "001")
    assert parse_license_identifier(" " + built.replace(".", "．") + "\n").value == built


@pytest.mark.parametrize(
    ("type_code", "issuer", "serial", "version"),
    [
        (TYPE[:-1], ISSUER, "ABC1234", "001"),  # 20-char type code
        (TYPE + "1", ISSUER, "ABC1234", "001"),
        (TYPE[:-1] + "*", ISSUER, "ABC1234", "001"),
        (TYPE, ISSUER[:-1], "ABC1234", "001"),  # 17-char issuer
        (TYPE, "11440300007542418I", "ABC1234", "001"),  # I not in the USCC alphabet
        (TYPE, "4403A0", "ABC1234", "001"),
        (TYPE, ISSUER, "ABC123", "001"),  # serial too short
        (TYPE, ISSUER, "A" * 33, "001"),
        (TYPE, ISSUER, "ABC/1234", "001"),
        (TYPE, ISSUER, "ABC1234", "01"),
        (TYPE, ISSUER, "ABC1234", "0A1"),
    ],
)
def test_build_rejects_bad_segments(type_code: str, issuer: str, serial: str, version: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        build_license_identifier(type_code, issuer, serial, version)
    assert info.value.rule == "license_id.format"


GOOD = build_license_identifier(TYPE, ISSUER, "4403001234567", "001")


@pytest.mark.parametrize(
    "value",
    [
        GOOD.replace(LICENSE_OID_PREFIX, "1.2.156.3005.3"),
        GOOD[len(LICENSE_OID_PREFIX) + 1 :],
        GOOD + ".X",
        GOOD.rsplit(".", 1)[0],  # check segment missing
        GOOD[:-1] + "AB",  # two-character check
        GOOD[:-1] + "*",
        GOOD.replace(".001.", ".1.", 1),
        "",
    ],
)
def test_parse_rejects_bad_structure(value: str) -> None:
    assert rule_of(value) == "license_id.format"


def test_parse_rejects_wrong_check() -> None:
    wrong = "0" if GOOD[-1] != "0" else "1"
    assert rule_of(GOOD[:-1] + wrong) == "license_id.check"


segments = st.tuples(
    st.text(ALNUM, min_size=21, max_size=21),
    st.one_of(
        st.text(USCC_ALPHABET, min_size=18, max_size=18),
        st.text("0123456789", min_size=6, max_size=6),
    ),
    st.text(ALNUM + ALNUM.lower(), min_size=7, max_size=32),
    st.text("0123456789", min_size=3, max_size=3),
)


@given(segments)
def test_build_parse_round_trip(parts: tuple[str, str, str, str]) -> None:
    built = build_license_identifier(*parts)
    parsed = parse_license_identifier(built)
    assert (parsed.type_code, parsed.issuer_code, parsed.serial, parsed.version) == parts
    assert parsed.value == built


def _pools(parts: tuple[str, str, str, str]) -> list[str]:
    """For each position after the prefix: characters that keep the structure valid."""
    type_code, issuer, serial, version = parts
    issuer_pool = USCC_ALPHABET if len(issuer) == 18 else "0123456789"
    return (
        [ALNUM] * len(type_code) + ["."]
        + [issuer_pool] * len(issuer) + ["."]
        + [ALNUM] * len(serial) + ["."]
        + ["0123456789"] * len(version) + ["."]
        + [ALNUM]
    )  # fmt: skip


@given(segments, st.data())
def test_single_substitution_in_any_segment_breaks_the_check(
    parts: tuple[str, str, str, str], data: st.DataObject
) -> None:
    built = build_license_identifier(*parts)
    head = len(LICENSE_OID_PREFIX) + 1
    pools = _pools(parts)
    assert len(pools) == len(built) - head
    pos = data.draw(st.sampled_from([i for i, p in enumerate(pools) if p != "."]))
    ch = built[head + pos].upper()
    other = data.draw(st.sampled_from(pools[pos]).filter(lambda c: c != ch))
    mutated = built[: head + pos] + other + built[head + pos + 1 :]
    assert rule_of(mutated) == "license_id.check"
