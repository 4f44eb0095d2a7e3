"""How the record kinds are laid out in XML: root and record element names, list fields."""

from __future__ import annotations

from standards.records import RECORD_KINDS

FORMAT_VERSION = "1"

# kind -> root element; the record element is the kind itself.
ROOT_OF_KIND: dict[str, str] = {kind: f"{kind}s" for kind in RECORD_KINDS}
KIND_OF_ROOT: dict[str, str] = {root: kind for kind, root in ROOT_OF_KIND.items()}

# List fields are wrapped in a container named after the field, one child per entry.
# Knowing them lets a container with a single entry still read back as a list.
LIST_ITEM_TAG: dict[str, str] = {
    "fees": "fee",
    "materials": "material",
    "events": "event",
    "material_ids": "material_id",
}

# Fields whose values are personal identifiers: never echoed unmasked in messages.
PERSONAL_ID_FIELDS = frozenset({"id_number", "holder_id", "holder_id_number"})

XINCLUDE_NAMESPACES = frozenset(
    {"http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude"}
)


def format_of_suffix(suffix: str) -> str:
    """``xml`` or ``jsonl`` for a file suffix; ValueError for anything else."""
    suffix = suffix.lower()
    if suffix == ".xml":
        return "xml"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ValueError(f"unknown exchange file type {suffix!r}: expected .xml, .jsonl or .ndjson")
