"""事项编码: 基本编码, 实施编码 and 业务办理项编码."""

from __future__ import annotations

import pytest

from standards.codes.enums import ExerciseLevel, ItemType
from standards.identifiers import (
    InvalidIdentifier,
    make_impl_code,
    parse_basic_code,
    parse_handling_code,
    parse_impl_code,
    validate_uscc,
)

USCC = "11440300007542418W"
USCC_FAILING_CHECK = "91350211M0000XUF46"


def rule_of(fn, value: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidIdentifier) as info:
        fn(value)
    return info.value.rule


def test_basic_code_parts() -> None:
    basic = parse_basic_code("000120123004")
    assert basic.prefix == "00"
    assert basic.item_type is ItemType.LICENSING
    assert (basic.main, basic.sub) == ("20123", "004")
    local = parse_basic_code("442000100000")
    assert local.prefix == "44" and local.item_type is ItemType.PUBLIC_SERVICE
    assert parse_basic_code(" 0001-20123-004 ").code == "000120123004"


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("00012012300", "basic_code.format"),
        ("0001201230045", "basic_code.format"),
        ("00012012300A", "basic_code.format"),
        ("990120123004", "basic_code.format"),  # prefix neither 00 nor a province
        ("001120123004", "basic_code.item_type"),
        ("000020123004", "basic_code.item_type"),
        ("009920123004", "basic_code.item_type"),
    ],
)
def test_bad_basic_codes(code: str, rule: str) -> None:
    assert rule_of(parse_basic_code, code) == rule


def test_impl_code_parts_and_make() -> None:
    code = make_impl_code(USCC, ExerciseLevel.COUNTY, "000120123004")
    assert code == USCC + "4" + "000120123004"
    impl = parse_impl_code(code)
    assert impl.authority_uscc == USCC
    assert impl.level is ExerciseLevel.COUNTY
    assert impl.basic.item_type is ItemType.LICENSING
    assert make_impl_code(USCC.lower(), 4, "0001-20123-004") == code
    assert make_impl_code(USCC, "4", "000120123004") == code


def test_impl_code_accepts_authority_code_that_fails_its_check() -> None:
    impl = parse_impl_code(USCC_FAILING_CHECK + "6" + "440700100001")
    assert impl.level is ExerciseLevel.VILLAGE
    with pytest.raises(InvalidIdentifier):
        validate_uscc(impl.authority_uscc)


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        (USCC + "4" + "00012012300", "impl_code.format"),  # 30 chars
        (USCC + "4" + "0001201230040", "impl_code.format"),
        ("11440300007542418I" + "4" + "000120123004", "impl_code.format"),  # I in USCC
        (USCC + "0" + "000120123004", "impl_code.level"),
        (USCC + "7" + "000120123004", "impl_code.level"),
        (USCC + "A" + "000120123004", "impl_code.level"),
        (USCC + "4" + "001120123004", "impl_code.format"),  # bad item type inside
        (USCC + "4" + "99012012300A", "impl_code.format"),
    ],
)
def test_bad_impl_codes(code: str, rule: str) -> None:
    assert rule_of(parse_impl_code, code) == rule


def test_make_impl_code_rejects_bad_parts() -> None:
    assert rule_of(lambda lv: make_impl_code(USCC, lv, "000120123004"), "9") == "impl_code.level"
    assert rule_of(lambda b: make_impl_code(USCC, 4, b), "0011") == "impl_code.format"


def test_handling_code() -> None:
    handling = parse_handling_code(USCC + "4" + "000120123004" + "01")
    assert handling.seq == "01"
    assert handling.impl.code == USCC + "4000120123004"
    assert handling.impl.basic.main == "20123"


@pytest.mark.parametrize(
    "code",
    [
        USCC + "4" + "000120123004" + "1",
        USCC + "4" + "000120123004" + "011",
        USCC + "4" + "000120123004" + "0A",
        USCC + "9" + "000120123004" + "01",  # bad level is still a handling-code error
        USCC + "4" + "001120123004" + "01",
    ],
)
def test_bad_handling_codes(code: str) -> None:
    assert rule_of(parse_handling_code, code) == "handling_code.format"
