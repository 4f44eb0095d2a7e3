"""统一社会信用代码 checks (GB 32100-2015)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from standards.identifiers import (
    USCC_ALPHABET,
    InvalidIdentifier,
    uscc_check_char,
    validate_uscc,
)

VALID = ["91110000600037341L", "91110108551385082Q", "91350100M000100Y43"]


def rule_of(value: str) -> str:
    with pytest.raises(InvalidIdentifier) as info:
        validate_uscc(value)
    return info.value.rule


@pytest.mark.parametrize("code", VALID)
def test_published_valid_codes(code: str) -> None:
    assert validate_uscc(code) == code
    assert uscc_check_char(code[:17]) == code[17]


def test_weights_are_powers_of_three_mod_31() -> None:
    from standards.identifiers.uscc import USCC_WEIGHTS

    assert USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_registered_code_failing_its_check_is_reported_as_check_only() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        validate_uscc("91350211M0000XUF46")
    assert info.value.rule == "uscc.check"
    assert info.value.is_check_only


@pytest.mark.parametrize(
    "raw",
    [
        " 91110000600037341l ",
        "9111-0000-6000-3734-1L",
        "９１１１００００６０００３７３４１Ｌ",
        "911100 00600037341L",
    ],
)
def test_normalised_before_checking(raw: str) -> None:
    assert validate_uscc(raw) == "91110000600037341L"


def test_letter_leading_codes_are_valid() -> None:
    # N… (farmers' co-operatives) and Y… (trade unions): leading letters are normal.
    for head in ("N2", "Y1", "A1", "G1"):
        first17 = head + "440300" + "MA5D12345"
        code = first17 + uscc_check_char(first17)
        assert validate_uscc(code) == code


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("91110000600037341", "uscc.length"),
        ("91110000600037341LL", "uscc.length"),
        ("", "uscc.length"),
        ("91110000600037341I", "uscc.charset"),
        ("9111000060003734OL", "uscc.charset"),
        ("9Z110000600037341L", "uscc.charset"),
        ("91110000S00037341L", "uscc.charset"),
        ("91110000V00037341L", "uscc.charset"),
        ("91110000600037341*", "uscc.charset"),
        ("911A0000600037341L", "uscc.region"),
        ("9111000M600037341L", "uscc.region"),
        ("91110000600037341M", "uscc.check"),
        ("91110108551385082P", "uscc.check"),
    ],
)
def test_invalid_codes(value: str, rule: str) -> None:
    assert rule_of(value) == rule


def test_region_part_need_not_be_a_known_division() -> None:
    first17 = "91" + "999999" + "MA5D12345"
    code = first17 + uscc_check_char(first17)
    assert validate_uscc(code) == code


def test_citizen_id_typed_into_uscc_field_is_not_echoed() -> None:
    number = "11010519491231002X"
    with pytest.raises(InvalidIdentifier) as info:
        validate_uscc(number)
    assert number not in str(info.value)


DIGITS = "0123456789"
uscc_bodies = st.tuples(
    st.text(USCC_ALPHABET, min_size=2, max_size=2),
    st.text(DIGITS, min_size=6, max_size=6),
    st.text(USCC_ALPHABET, min_size=9, max_size=9),
).map("".join)


@given(uscc_bodies)
def test_any_body_with_computed_check_validates(first17: str) -> None:
    code = first17 + uscc_check_char(first17)
    assert validate_uscc(code) == code
    assert validate_uscc(code.lower()) == code


@given(uscc_bodies, st.data())
def test_every_single_substitution_breaks_the_check(first17: str, data: st.DataObject) -> None:
    code = first17 + uscc_check_char(first17)
    pos = data.draw(st.integers(0, 17))
    other = data.draw(st.sampled_from(USCC_ALPHABET).filter(lambda c: c != code[pos]))
    mutated = code[:pos] + other + code[pos + 1 :]
    assert uscc_check_char(mutated[:17]) != mutated[17]
    assert rule_of(mutated) in ("uscc.check", "uscc.region")
