"""Entry point for reading exchange files of any supported format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from standards.formats.jsonl_reader import iter_jsonl_records
from standards.formats.layout import format_of_suffix
from standards.formats.limits import ParseLimits
from standards.formats.raw import RawRecord
from standards.formats.xml_reader import iter_xml_records

_DEFAULT_LIMITS = ParseLimits()


def iter_raw_records(
    path: str | Path, *, limits: ParseLimits = _DEFAULT_LIMITS, kind: str | None = None
) -> Iterator[RawRecord]:
    """Stream the records of an exchange file, choosing the format by its extension.

    Records are yielded as they are read; a file-level problem (``UnsafeInput``,
    ``UnreadableInput``) is raised after every record before it has been yielded, so a
    caller can keep or discard the partial batch knowingly. ``kind`` makes a file of
    another record kind an error instead of a surprise.
    """
    path = Path(path)
    if format_of_suffix(path.suffix) == "xml":
        return iter_xml_records(path, limits, kind)
    return iter_jsonl_records(path, limits, kind)
