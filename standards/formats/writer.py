"""Writers for the exchange formats (XML and JSON Lines)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from lxml import etree

from standards.formats.layout import FORMAT_VERSION, LIST_ITEM_TAG, ROOT_OF_KIND, format_of_suffix
from standards.records import StandardRecord
from standards.validation import Finding
from standards.validation.xml_chars import xml_char_findings


class UnwritableRecord(ValueError):
    """One record XML cannot carry (a control character in a field, say).

    ``position`` is 1-based among the records given; ``findings`` name the fields and the
    rule, so whoever delivers can report the record and go on with the others.
    """

    def __init__(
        self, position: int, record: StandardRecord, findings: list[Finding], reason: str
    ) -> None:
        self.position = position
        self.record = record
        self.findings = findings
        fields = ", ".join(f.field or "record" for f in findings) or "unknown field"
        super().__init__(
            f"record {position} ({record.kind} {record.key()}) cannot be written as XML "
            f"(field {fields}): {findings[0].message if findings else reason}"
        )


OnUnwritable = Callable[[UnwritableRecord], None]


def write_records(
    path: str | Path,
    records: Iterable[StandardRecord],
    *,
    kind: str | None = None,
    on_unwritable: OnUnwritable | None = None,
) -> int:
    """Write records of one kind to ``path`` (format by extension); return how many.

    The file appears under its name only once complete (written beside it, then renamed),
    so a reader never picks up half a file. ``kind`` is needed only to write an empty XML
    file, whose root element must still say what it holds.

    A record XML cannot carry raises :class:`UnwritableRecord`, naming it and its fields;
    with ``on_unwritable`` it is handed to that callback instead and left out of the file,
    so one bad record does not cost a whole delivery. The count returned is of the
    records written.
    """
    path = Path(path)
    fmt = format_of_suffix(path.suffix)
    iterator = iter(records)
    first = next(iterator, None)
    if first is not None:
        if kind is not None and first.kind != kind:
            raise ValueError(f"record 1 is a {first.kind}, expected {kind}")
        kind = first.kind
        iterator = chain((first,), iterator)
    elif kind is None and fmt == "xml":
        raise ValueError("no records to write and no kind given: the XML root would be unknown")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if fmt == "xml":
            assert kind is not None
            count = _write_xml(tmp, kind, _same_kind(iterator, kind), on_unwritable)
        else:
            count = _write_jsonl(tmp, _same_kind(iterator, kind))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def _same_kind(records: Iterator[StandardRecord], kind: str | None) -> Iterator[StandardRecord]:
    for position, record in enumerate(records, 1):
        if record.kind != kind:
            raise ValueError(
                f"record {position} is a {record.kind}, but this file holds {kind} records"
            )
        yield record


def _write_jsonl(path: Path, records: Iterator[StandardRecord]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for record in records:
            line = {"kind": record.kind, **record.model_dump(mode="json", exclude_none=True)}
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            count += 1
    return count


def _write_xml(
    path: Path, kind: str, records: Iterator[StandardRecord], on_unwritable: OnUnwritable | None
) -> int:
    count = 0
    with etree.xmlfile(str(path), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(ROOT_OF_KIND[kind], version=FORMAT_VERSION):
            xf.write("\n")
            for position, record in enumerate(records, 1):
                element = etree.Element(kind)
                try:
                    # The element is filled whole before anything of it is written, so a
                    # refused record leaves nothing behind in the file.
                    _fill(element, record.model_dump(mode="json", exclude_none=True))
                except ValueError as exc:
                    refused = UnwritableRecord(
                        position, record, xml_char_findings(record), str(exc)
                    )
                    if on_unwritable is None:
                        raise refused from None
                    on_unwritable(refused)
                    continue
                xf.write(element, pretty_print=True)
                count += 1
    return count


def _fill(parent: Any, data: dict[str, Any]) -> None:
    sub = etree.SubElement
    for name, value in data.items():
        if isinstance(value, list):
            if not value:
                continue  # an empty list is the default; omitted like None
            container = sub(parent, name)
            item_tag = LIST_ITEM_TAG[name]
            for item in value:
                child = sub(container, item_tag)
                if isinstance(item, dict):
                    _fill(child, item)
                else:
                    child.text = _text(item)
        elif isinstance(value, dict):
            _fill(sub(parent, name), value)
        else:
            sub(parent, name).text = _text(value)


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)
