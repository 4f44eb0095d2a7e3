"""mask_text masks what can be a citizen ID and leaves authorities' codes readable."""

from __future__ import annotations

import pytest

from standards.identifiers import citizen_id_check_char, uscc_check_char
from standards.privacy import contains_citizen_id, could_be_citizen_id, mask_text

VALID_ID = "11010519491231002X"  # GB 11643's own example
DEPT_USCC = "114403000040578006"  # 深圳市市场监督管理局, all digits
LICENSE_ID = f"1.2.156.3005.2.{DEPT_USCC}001.{DEPT_USCC}.ee40e3190e2cae59374e0e7e71925a00.001.4"


def test_all_digit_usccs_and_the_license_identifiers_holding_them_are_left_as_they_are() -> None:
    assert uscc_check_char(DEPT_USCC[:17]) == DEPT_USCC[17]
    assert mask_text(DEPT_USCC) == DEPT_USCC
    assert mask_text(LICENSE_ID) == LICENSE_ID
    assert mask_text(f"部门 {DEPT_USCC} 的事项") == f"部门 {DEPT_USCC} 的事项"
    assert not contains_citizen_id(LICENSE_ID)


def test_a_citizen_id_is_masked_wherever_it_stands() -> None:
    assert mask_text(VALID_ID) == "1101**********002X"
    assert mask_text(f"申请人{VALID_ID}补交") == "申请人1101**********002X补交"
    assert mask_text(VALID_ID.lower()) == "1101**********002x"
    assert mask_text("110105491231002") == "1101*******1002"  # legacy 15 digits
    assert contains_citizen_id(f"x {VALID_ID} y")


@pytest.mark.parametrize(
    "number",
    [
        "440301199001011230",  # check character wrong (quarantined as citizen_id.check)
        "440305198502300019",  # 30 February (quarantined as citizen_id.birth_date)
    ],
)
def test_a_mistyped_id_is_still_a_persons_number_and_masked(number: str) -> None:
    assert mask_text(f"证件 {number}") == f"证件 {number[:4]}{'*' * 10}{number[-4:]}"


@pytest.mark.parametrize(
    "number",
    [
        "440305198513010019",  # month 13
        "440305180001010019",  # year 1800
        "440305198501320019",  # day 32
        "440305198501000019",  # day 00
    ],
)
def test_no_birth_date_in_its_place_is_no_citizen_id(number: str) -> None:
    assert not could_be_citizen_id(number)
    assert mask_text(number) == number


def test_an_id_written_in_groups_is_masked_when_its_check_character_is_right() -> None:
    first17 = "44030519850312001"
    number = first17 + citizen_id_check_char(first17)
    grouped = f"{number[:6]} {number[6:14]} {number[14:]}"
    assert mask_text(f"身份证:{grouped}") == f"身份证:4403{'*' * 12}{number[-4:]}"
    hyphens = grouped.replace(" ", "-")
    assert mask_text(hyphens) == f"4403{'*' * 12}{number[-4:]}"
    # Grouped digits with a wrong check character are something else (a phone number,
    # a reference): left alone.
    wrong = hyphens[:-1] + ("0" if hyphens[-1] != "0" else "1")
    assert mask_text(wrong) == wrong
    # Two separators in a row, or groups of other sizes, are not the 6-8-4 form.
    assert mask_text(f"{number[:6]}  {number[6:]}") == f"{number[:6]}  {number[6:]}"
    assert mask_text("4403 0519 8503 1200") == "4403 0519 8503 1200"


def test_longer_digit_runs_are_not_cut_into_ids() -> None:
    assert mask_text("1" + VALID_ID) == "1" + VALID_ID
    assert mask_text(VALID_ID + "7") == VALID_ID + "7"
