"""Standard record models: what every adapter yields and every library stores.

Models check *shape* (types, required fields, enumerations, lengths). Rules that need the
identifier algorithms or several fields at once live in :mod:`standards.validation`, so a
record with a wrong check digit still parses and can be reported field by field.
"""

from standards.records.base import SourceLocation, StandardRecord
from standards.records.case import Applicant, Case, CaseEvent
from standards.records.item import Fee, Item, RequiredMaterial
from standards.records.license import License
from standards.records.material import Material

RECORD_KINDS: dict[str, type[StandardRecord]] = {
    "item": Item,
    "case": Case,
    "material": Material,
    "license": License,
}

__all__ = [
    "RECORD_KINDS",
    "Applicant",
    "Case",
    "CaseEvent",
    "Fee",
    "Item",
    "License",
    "Material",
    "RequiredMaterial",
    "SourceLocation",
    "StandardRecord",
]
