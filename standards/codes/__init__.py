"""Code tables from the national standards (see DESIGN.md §3)."""

from standards.codes.enums import (
    CaseState,
    ExerciseLevel,
    IdType,
    ItemType,
    LicenseStatus,
    ReviewStatus,
)
from standards.codes.regions import REGIONS, Region, RegionLevel, lookup_region

__all__ = [
    "REGIONS",
    "CaseState",
    "ExerciseLevel",
    "IdType",
    "ItemType",
    "LicenseStatus",
    "Region",
    "RegionLevel",
    "ReviewStatus",
    "lookup_region",
]
