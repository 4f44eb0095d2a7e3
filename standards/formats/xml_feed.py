"""Feeding an XML file to a pull parser within the limits: shared by every XML reader.

The standard exchange format (:mod:`standards.formats.xml_reader`) and mapped foreign XML
(:mod:`adapters.payloads.foreign_xml`) parse differently but must refuse hostile files
alike: no DOCTYPE (so no entities), no XInclude, no file over its byte limit, no record
over its own. The loops that enforce this live here once, so a fix reaches both readers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol, TypeVar

from lxml import etree

from standards.formats.errors import UnreadableInput, UnsafeInput
from standards.formats.layout import XINCLUDE_NAMESPACES
from standards.formats.limits import ParseLimits

CHUNK = 1 << 16

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
# Turns a libxml2 error into the reader's own (with its wording and line numbers).
MapError = Callable[[etree.XMLSyntaxError], Exception]


def first_element(
    fh: IO[bytes], head: bytes, parser: Any, file: str, limits: ParseLimits, map_error: MapError
) -> Any:
    """The document's first element (``parser`` reports ``start`` events), fed from
    ``head`` then ``fh``; a DOCTYPE or an XInclude element before it is refused."""
    fed = 0
    chunk = head
    while chunk:
        fed += len(chunk)
        error = None
        try:
            parser.feed(chunk)
        except etree.XMLSyntaxError as exc:
            error = exc
        for _, elem in parser.read_events():
            docinfo = elem.getroottree().docinfo
            if docinfo.internalDTD is not None or docinfo.doctype:
                raise UnsafeInput(
                    file,
                    "a DOCTYPE declaration is not allowed (no DTD, no entities)",
                    line_of_doctype(head),
                )
            refuse_xinclude(elem, file)
            return elem
        if error is not None:
            raise map_error(error) from None
        if fed > limits.max_record_bytes:
            raise UnsafeInput(file, f"no root element within the first {fed} bytes")
        chunk = fh.read(CHUNK)
    try:
        parser.close()
    except etree.XMLSyntaxError as exc:
        raise map_error(exc) from None
    raise UnreadableInput(file, "xml.malformed", "no root element")


class FedStream(Protocol[T_co]):
    """A reader's streaming pass, as :func:`feed_records` drives it."""

    fh: IO[bytes]
    parser: Any
    file: str
    limits: ParseLimits
    index: int  # records ended so far

    def drain(self) -> Iterator[T_co]:
        """What the parser's pending events make (records, rows)."""
        ...


def feed_records(stream: FedStream[T], map_error: MapError, unended: str) -> Iterator[T]:
    """Feed the whole file in chunks, yielding what ``stream.drain()`` gives after each.

    When no record ends within ``limits.max_record_bytes`` the file is refused, with
    ``unended`` (the missing record's description, e.g. ``"record"``) in the message. The
    caller closes the parser: what the end of a document means differs between readers.
    """
    fh, parser, file, limits = stream.fh, stream.parser, stream.file, stream.limits
    fed = 0
    record_ended_at = 0
    while True:
        chunk = fh.read(CHUNK)
        if not chunk:
            return
        fed += len(chunk)
        if fed > limits.max_file_bytes:
            raise UnsafeInput(file, f"file grew over the limit of {limits.max_file_bytes} bytes")
        error = None
        try:
            parser.feed(chunk)
        except etree.XMLSyntaxError as exc:
            error = exc
        before = stream.index
        yield from stream.drain()
        if error is not None:
            raise map_error(error) from None
        if stream.index != before:
            record_ended_at = fed
        elif fed - record_ended_at > limits.max_record_bytes:
            raise UnsafeInput(
                file,
                f"no {unended} ended within {fed - record_ended_at} bytes "
                f"(limit {limits.max_record_bytes} bytes per record)",
            )


def line_of_doctype(head: bytes) -> int | None:
    position = head.find(b"<!DOCTYPE")
    return head.count(b"\n", 0, position) + 1 if position >= 0 else None


def refuse_xinclude(elem: Any, file: str, line_offset: int = 0) -> None:
    tag = elem.tag
    if isinstance(tag, str) and tag.startswith("{"):
        namespace = tag[1 : tag.index("}")]
        if namespace in XINCLUDE_NAMESPACES:
            line = elem.sourceline
            raise UnsafeInput(
                file, "XInclude is not allowed", None if line is None else line + line_offset
            )
