"""公民身份号码 checks (GB 11643-1999), including 15-digit legacy numbers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from standards.identifiers import (
    CitizenId,
    InvalidIdentifier,
    citizen_id_check_char,
    upgrade_legacy_citizen_id,
    validate_citizen_id,
)

TODAY = date(2025, 6, 1)


def make(region: str, ymd: str, seq: str) -> str:
    first17 = region + ymd + seq
    return first17 + citizen_id_check_char(first17)


def rule_of(value: str, today: date = TODAY) -> tuple[str, str]:
    with pytest.raises(InvalidIdentifier) as info:
        validate_citizen_id(value, today=today)
    return info.value.rule, str(info.value)


def test_published_vectors() -> None:
    a = validate_citizen_id("11010519491231002X", today=TODAY)
    assert a == CitizenId("11010519491231002X", "110105", date(1949, 12, 31), "F", False)
    b = validate_citizen_id("360426199101010071", today=TODAY)
    assert b == CitizenId("360426199101010071", "360426", date(1991, 1, 1), "M", False)


def test_default_today_is_the_real_today() -> None:
    assert validate_citizen_id("360426199101010071").birth_date == date(1991, 1, 1)
    tomorrow = date.today() + timedelta(days=1)
    with pytest.raises(InvalidIdentifier) as info:
        validate_citizen_id(make("440305", tomorrow.strftime("%Y%m%d"), "123"))
    assert info.value.rule == "citizen_id.birth_date"


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002x",
        " 110105 1949 1231 002X ",
        "110105-19491231-002x",
        "１１０１０５１９４９１２３１００２Ｘ",
    ],
)
def test_normalised_before_checking(raw: str) -> None:
    assert validate_citizen_id(raw, today=TODAY).number == "11010519491231002X"


def test_repr_and_masked_never_show_the_number() -> None:
    cid = validate_citizen_id("11010519491231002X", today=TODAY)
    assert "11010519491231002X" not in repr(cid)
    assert cid.masked == "1101**********002X"


def test_legacy_15_digit_number() -> None:
    cid = validate_citizen_id("110105491231002", today=TODAY)
    assert cid.legacy
    assert cid.birth_date == date(1949, 12, 31)
    assert cid.sex == "F"
    assert cid.region_code == "110105"
    assert upgrade_legacy_citizen_id("110105491231002") == "11010519491231002X"
    assert validate_citizen_id("360426910101007", today=TODAY).sex == "M"


def test_upgrade_refuses_invalid_legacy_numbers() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        upgrade_legacy_citizen_id("110105490230002")
    assert info.value.rule == "citizen_id.birth_date"
    with pytest.raises(InvalidIdentifier) as info:
        upgrade_legacy_citizen_id("11010519491231002X")
    assert info.value.rule == "citizen_id.length"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("1101051949123100", "citizen_id.length"),
        ("11010519491231002X1", "citizen_id.length"),
        ("", "citizen_id.length"),
        ("11010519491231002A", "citizen_id.charset"),
        ("1101051949123100X2", "citizen_id.charset"),
        ("11010519491231O02X", "citizen_id.charset"),
        ("11010549123100X", "citizen_id.charset"),
        ("990105" + "19491231" + "0021", "citizen_id.region"),  # no province 99
        ("000000" + "19491231" + "0021", "citizen_id.region"),
        ("11010519491231002Y", "citizen_id.charset"),
        ("110105194912310021", "citizen_id.check"),
        ("360426199101010072", "citizen_id.check"),
    ],
)
def test_invalid_numbers(value: str, rule: str) -> None:
    got, message = rule_of(value)
    assert got == rule
    assert value not in message or len(value) < 15


@pytest.mark.parametrize(
    "ymd",
    ["19990230", "20230229", "19991301", "19990001", "19990100", "18691231", "20250602"],
)
def test_impossible_early_or_future_birth_dates(ymd: str) -> None:
    number = make("440305", ymd, "123")
    got, message = rule_of(number)
    assert got == "citizen_id.birth_date"
    assert number not in message
    assert "4403**********" in message


def test_leap_day_and_boundaries_are_valid() -> None:
    assert validate_citizen_id(make("440305", "20000229", "123"), today=TODAY)
    assert validate_citizen_id(make("440305", "18700101", "123"), today=TODAY)
    assert validate_citizen_id(make("440305", "20250601", "123"), today=TODAY)


def test_unknown_county_in_known_province_is_accepted() -> None:
    # County codes are renumbered; only the province must exist.
    assert validate_citizen_id(make("449999", "19800101", "001"), today=TODAY)


@st.composite
def citizen_numbers(draw: st.DrawFn) -> tuple[str, date, str]:
    province = draw(st.sampled_from(["11", "31", "36", "44", "62", "65", "81"]))
    region = province + draw(st.text("0123456789", min_size=4, max_size=4))
    born = draw(st.dates(date(1870, 1, 1), TODAY))
    seq = draw(st.text("0123456789", min_size=3, max_size=3))
    return make(region, born.strftime("%Y%m%d"), seq), born, seq


@given(citizen_numbers())
def test_any_valid_body_with_computed_check_validates(case: tuple[str, date, str]) -> None:
    number, born, seq = case
    cid = validate_citizen_id(number.lower(), today=TODAY)
    assert cid.number == number
    assert cid.birth_date == born
    assert cid.sex == ("M" if int(seq[2]) % 2 else "F")


@given(citizen_numbers(), st.data())
def test_changing_one_digit_is_caught_and_never_echoed(
    case: tuple[str, date, str], data: st.DataObject
) -> None:
    number = case[0]
    pos = data.draw(st.integers(0, 17))
    alphabet = "0123456789X" if pos == 17 else "0123456789"
    other = data.draw(st.sampled_from(alphabet).filter(lambda c: c != number[pos]))
    mutated = number[:pos] + other + number[pos + 1 :]
    with pytest.raises(InvalidIdentifier) as info:
        validate_citizen_id(mutated, today=TODAY)
    assert info.value.rule in ("citizen_id.check", "citizen_id.birth_date", "citizen_id.region")
    assert mutated not in str(info.value)
    assert number not in str(info.value)
