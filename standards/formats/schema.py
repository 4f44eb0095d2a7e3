"""Whole-file XSD validation, for partners checking their exports and for tests.

Not used on the ingest path: the streaming reader plus model validation gives the same
answers per record, faster, and keeps going past a bad record.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from standards.formats.errors import UnreadableInput, UnsafeInput
from standards.formats.layout import KIND_OF_ROOT, ROOT_OF_KIND
from standards.formats.limits import ParseLimits
from standards.formats.xml_reader import iter_xml_records

_XSD_DIR = Path(__file__).with_name("xsd")


def xsd_path(kind: str) -> Path:
    """Path of the shipped XSD for a record kind (``item``, ``case``, ``material``, ``license``)."""
    try:
        root = ROOT_OF_KIND[kind]
    except KeyError:
        raise ValueError(
            f"unknown record kind {kind!r}; expected one of {', '.join(ROOT_OF_KIND)}"
        ) from None
    return _XSD_DIR / f"{root}.xsd"


@cache
def _schema(kind: str) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(xsd_path(kind)), parser))


def validate_file_against_xsd(path: str | Path, limits: ParseLimits | None = None) -> list[str]:
    """Validate a whole XML exchange file against the XSD of its kind; [] when valid.

    The file first goes through the safe streaming reader (no DTD, no entities, limits),
    so a hostile file is refused with the same errors as on ingest before libxml2's
    validator, which needs the whole tree, ever sees it. Errors read ``line N: message``.
    """
    path = Path(path)
    limits = limits or ParseLimits()
    try:
        for _ in iter_xml_records(path, limits):
            pass
    except (UnsafeInput, UnreadableInput) as exc:
        return [str(exc)]
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    tree = etree.parse(str(path), parser)
    kind = KIND_OF_ROOT[tree.getroot().tag]
    schema = _schema(kind)
    if schema.validate(tree):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]
