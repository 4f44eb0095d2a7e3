"""行政区划代码 structure checks (GB/T 2260, extended to 12 digits by the platforms).

Structure is checked against the standard's numbering plan, not against the shipped table:
divisions are created and merged every year, so an unknown but well-formed county is
normal. Only the province must be one we know; ``known_only`` asks for an exact entry.
"""

from __future__ import annotations

from functools import lru_cache

from standards.codes.regions import REGIONS, RegionLevel
from standards.identifiers.errors import InvalidIdentifier
from standards.identifiers.normalize import normalize_code

# City part (digits 3–4): 01–20 and 51–70 cities, 21–50 prefectures/leagues,
# 90 province-administered county-level units; 00 is the province itself.
_CITY_PARTS = frozenset([f"{n:02d}" for n in range(1, 71)] + ["90"])


def is_known_province(prefix2: str) -> bool:
    """Whether two digits name a province-level division in the loaded table."""
    return prefix2 + "0000" in REGIONS


def _bad(code: str, why: str) -> InvalidIdentifier:
    return InvalidIdentifier("region.format", f"region code {code!r}: {why}")


@lru_cache(maxsize=1 << 16)
def validate_region_code(code: str, *, known_only: bool = False) -> RegionLevel:
    """Check a 6- or 12-digit division code and return the level its structure implies.

    Cached: the same few hundred codes recur on every record of a batch.
    """
    norm = normalize_code(code)
    if len(norm) not in (6, 12) or not (norm.isascii() and norm.isdigit()):
        raise _bad(norm[:24], f"must be 6 or 12 digits, got {len(norm)} characters")
    if not is_known_province(norm[:2]):
        raise _bad(norm, f"{norm[:2]!r} is not a province-level division")
    city, county = norm[2:4], norm[4:6]
    if city == "00":
        if county != "00":
            raise _bad(norm, "a county part needs a city part (digits 3–4 are 00)")
    elif city not in _CITY_PARTS:
        raise _bad(norm, f"city part {city!r} is outside 01–70 and 90")
    level = _level_of_base(city, county)
    if len(norm) == 12:
        township, village = norm[6:9], norm[9:12]
        if township == "000":
            if village != "000":
                raise _bad(norm, "a village part needs a township part (digits 7–9 are 000)")
        else:
            if level is RegionLevel.PROVINCE:
                raise _bad(norm, "a township cannot sit directly under a province")
            level = RegionLevel.TOWNSHIP if village == "000" else RegionLevel.VILLAGE
    if known_only and norm not in REGIONS:
        raise InvalidIdentifier("region.unknown", f"region code {norm!r} is not in the table")
    return level


def _level_of_base(city: str, county: str) -> RegionLevel:
    if city == "00":
        return RegionLevel.PROVINCE
    if county == "00":
        return RegionLevel.CITY
    return RegionLevel.COUNTY
