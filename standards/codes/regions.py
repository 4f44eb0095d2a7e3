"""GB/T 2260 administrative division codes (行政区划代码).

The shipped table (``regions.csv``) covers every province-level division and the cities and
districts Tongyuan's topologies and test vectors use. Deployments add their own divisions
by pointing ``TONGYUAN_REGIONS_FILE`` at a CSV with the same two columns; the level and
parent of a code follow from its structure, so only code and name are needed.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path


class RegionLevel(IntEnum):
    """Level of a division, as encoded in the structure of its code."""

    PROVINCE = 1
    CITY = 2
    COUNTY = 3
    TOWNSHIP = 4
    VILLAGE = 5


@dataclass(frozen=True, slots=True)
class Region:
    """One administrative division."""

    code: str
    name: str
    level: RegionLevel
    parent: str | None


def level_of(code: str) -> RegionLevel:
    """Level implied by the code's structure (6 or 12 digits); raises ValueError if malformed."""
    if not code.isascii() or not code.isdigit() or len(code) not in (6, 12):
        raise ValueError(f"region code must be 6 or 12 digits, got {code!r}")
    if len(code) == 12 and code[6:] != "000000":
        return RegionLevel.VILLAGE if code[9:] != "000" else RegionLevel.TOWNSHIP
    base = code[:6]
    if base[2:] == "0000":
        return RegionLevel.PROVINCE
    if base[4:] == "00":
        return RegionLevel.CITY
    return RegionLevel.COUNTY


def parent_of(code: str) -> str | None:
    """The code of the enclosing division implied by structure (None for a province)."""
    level = level_of(code)
    if level is RegionLevel.VILLAGE:
        return code[:9] + "000"
    if level is RegionLevel.TOWNSHIP:
        return code[:6]
    if level is RegionLevel.COUNTY:
        # Province-administered county units (city part 90) hang directly off the province.
        return code[:2] + "0000" if code[2:4] == "90" else code[:4] + "00"
    if level is RegionLevel.CITY:
        return code[:2] + "0000"
    return None


def _rows() -> list[tuple[str, str]]:
    text = resources.files("standards.codes").joinpath("regions.csv").read_text("utf-8")
    rows = [(r["code"], r["name"]) for r in csv.DictReader(text.splitlines())]
    extra = os.environ.get("TONGYUAN_REGIONS_FILE")
    if extra:
        with Path(extra).open(encoding="utf-8", newline="") as fh:
            rows += [(r["code"].strip(), r["name"].strip()) for r in csv.DictReader(fh)]
    return rows


@lru_cache(maxsize=1)
def _table() -> dict[str, Region]:
    return {code: Region(code, name, level_of(code), parent_of(code)) for code, name in _rows()}


class _Regions:
    """Read-only mapping view over the loaded table (loaded lazily, once)."""

    def __getitem__(self, code: str) -> Region:
        return _table()[code]

    def __contains__(self, code: object) -> bool:
        return code in _table()

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(_table().values())

    def __len__(self) -> int:
        return len(_table())

    def children(self, code: str) -> list[Region]:
        """Known divisions directly below ``code``."""
        return [r for r in _table().values() if r.parent == code]


REGIONS = _Regions()


def lookup_region(code: str) -> Region | None:
    """The division with this code, or None when it is not in the loaded table."""
    return _table().get(code)
