"""行政区划代码 structure checks (GB/T 2260, 6 and 12 digits)."""

from __future__ import annotations

import pytest

from standards.identifiers import InvalidIdentifier, RegionLevel, validate_region_code


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("440000", RegionLevel.PROVINCE),
        ("440300", RegionLevel.CITY),
        ("440305", RegionLevel.COUNTY),
        ("620102", RegionLevel.COUNTY),
        ("810000", RegionLevel.PROVINCE),
        ("152500", RegionLevel.CITY),  # prefecture/league range 21–50
        ("445100", RegionLevel.CITY),  # 51–70 city range
        ("429004", RegionLevel.COUNTY),  # province-administered county unit (90)
        ("429000", RegionLevel.CITY),
        ("440305000000", RegionLevel.COUNTY),
        ("440305001000", RegionLevel.TOWNSHIP),
        ("440305001002", RegionLevel.VILLAGE),
        ("441900003000", RegionLevel.TOWNSHIP),  # Dongguan: towns directly under the city
        (" 4403-05 ", RegionLevel.COUNTY),
        ("４４０３０５", RegionLevel.COUNTY),
    ],
)
def test_valid_structures(code: str, level: RegionLevel) -> None:
    assert validate_region_code(code) is level


@pytest.mark.parametrize(
    "code",
    [
        "44030",  # 5 digits
        "4403051",
        "44030500100",  # 11 digits
        "44030A",
        "",
        "990000",  # no province 99
        "000000",
        "100000",
        "440005",  # county without a city part
        "447100",  # city part 71–89 unused
        "448900",
        "449100",
        "440000001000",  # township directly under a province
        "440305000001",  # village without a township
    ],
)
def test_malformed_codes(code: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        validate_region_code(code)
    assert info.value.rule == "region.format"


def test_known_only_requires_an_entry_in_the_table() -> None:
    assert validate_region_code("440305", known_only=True) is RegionLevel.COUNTY
    assert validate_region_code("440399") is RegionLevel.COUNTY
    with pytest.raises(InvalidIdentifier) as info:
        validate_region_code("440399", known_only=True)
    assert info.value.rule == "region.unknown"


def test_known_only_still_reports_format_first() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        validate_region_code("447100", known_only=True)
    assert info.value.rule == "region.format"
