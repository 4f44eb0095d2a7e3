"""Rows from a department's own XML export (not the standard exchange format).

The safety rules are those of :mod:`standards.formats.xml_reader`, whose parser options,
DOCTYPE check, XInclude refusal and error mapping are reused here: no DTD (a file with a
DOCTYPE is refused even if harmless), no entities, no network, no XInclude, and byte,
depth, text and record limits enforced while reading. What differs is the shape:

- records are the elements named ``record_tag`` wherever they are in the tree (the
  namespace is ignored unless the tag is given as ``{namespace}name``); a record nested
  in another record is part of the outer one;
- each record becomes a nested dict: child elements by local name, attributes as
  ``"@name"`` keys, a child repeated under one parent as a list, the text of an element
  that also has attributes or children as ``"#text"``; a leaf element is its text
  (``""`` when empty);
- GBK and GB18030 files are read when their XML declaration says so, as departments'
  systems often write them; UTF-16 and other encodings are refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from lxml import etree

from standards.formats.errors import UnreadableInput, UnsafeInput
from standards.formats.limits import ParseLimits
from standards.formats.xml_feed import CHUNK, feed_records, first_element, refuse_xinclude
from standards.formats.xml_reader import _SAFE_PARSER_OPTIONS, _map_syntax_error
from standards.records import SourceLocation

XmlRow = tuple[dict[str, Any], SourceLocation]

_DECLARATION = re.compile(rb"^<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ENCODINGS = frozenset({"utf-8", "utf8", "gbk", "gb2312", "gb18030", "cp936"})
_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_TAG = re.compile(r"^(\{[^}]*\})?[^\W\d][\w.\-]*$")


def iter_xml_rows(
    path: str | Path | bytes,
    *,
    record_tag: str,
    limits: ParseLimits | None = None,
    source: str | None = None,
) -> Iterator[XmlRow]:
    """Yield ``(row, location)`` per ``record_tag`` element; raise on file-level problems.

    ``UnsafeInput`` for anything refused outright, ``UnreadableInput`` for a file that is
    not well-formed XML (records before the broken place have been yielded by then).
    """
    limits = limits or ParseLimits()
    if not _TAG.match(record_tag):
        raise ValueError(f"record_tag {record_tag!r} is not an element name")
    if isinstance(path, bytes):
        file = source or "payload"
        size = len(path)
    else:
        file = source or str(path)
        size = os.stat(path).st_size
    if size > limits.max_file_bytes:
        raise UnsafeInput(
            file, f"file is {size} bytes, over the limit of {limits.max_file_bytes} bytes"
        )
    fh: IO[bytes]
    with BytesIO(path) if isinstance(path, bytes) else open(path, "rb") as fh:
        etree.clear_error_log()
        _check_prolog(fh, file, limits)
        fh.seek(0)
        etree.clear_error_log()
        yield from _ForeignStream(fh, file, record_tag, limits).rows()


def _check_prolog(fh: IO[bytes], file: str, limits: ParseLimits) -> None:
    """Encoding declaration, then up to the root start tag: no DOCTYPE, no XInclude."""
    head = fh.read(CHUNK)
    if not head.strip():
        raise UnreadableInput(file, "xml.malformed", "file is empty")
    if head.startswith(_BOMS):
        raise UnreadableInput(
            file, "xml.encoding", "file is UTF-16 or UTF-32; use UTF-8, GBK or GB18030", 1
        )
    declaration = _DECLARATION.match(head.removeprefix(b"\xef\xbb\xbf"))
    if declaration:
        encoding = _ENCODING.search(declaration.group(0))
        if encoding and encoding.group(1).decode("ascii").lower() not in _ENCODINGS:
            raise UnreadableInput(
                file,
                "xml.encoding",
                f"encoding declared as {encoding.group(1).decode('ascii')!r}; "
                "use UTF-8, GBK or GB18030",
                1,
            )
    parser = etree.XMLPullParser(events=("start",), **_SAFE_PARSER_OPTIONS)
    first_element(fh, head, parser, file, limits, lambda exc: _syntax_error(exc, file))


def _syntax_error(exc: etree.XMLSyntaxError, file: str) -> UnreadableInput | UnsafeInput:
    error = _map_syntax_error(exc, file)
    if error.rule == "xml.encoding":
        # the shared mapping speaks of UTF-8 only; this reader also accepts the GBK family
        return UnreadableInput(
            file,
            "xml.encoding",
            error.message.replace("not valid UTF-8", "not valid in the declared encoding"),
            error.line,
        )
    return error


def _local(tag: str) -> str:
    return tag.rpartition("}")[2] if tag[0] == "{" else tag


class _ForeignStream:
    """The streaming pass: one ``end`` event per record, converted then removed."""

    def __init__(self, fh: IO[bytes], file: str, record_tag: str, limits: ParseLimits) -> None:
        self.fh = fh
        self.file = file
        self.limits = limits
        self.index = 0
        self.text_chars_unchecked = limits.max_text_bytes // 4
        self.match = record_tag if record_tag.startswith("{") else "{*}" + record_tag
        self.local = _local(record_tag)
        self.namespace = record_tag[1 : record_tag.index("}")] if record_tag[0] == "{" else None
        self.parser = etree.XMLPullParser(events=("end",), tag=self.match, **_SAFE_PARSER_OPTIONS)

    def rows(self) -> Iterator[XmlRow]:
        yield from feed_records(
            self, lambda exc: _syntax_error(exc, self.file), f"<{self.local}> record"
        )
        try:
            self.parser.close()
        except etree.XMLSyntaxError as exc:
            yield from self.drain()
            raise _syntax_error(exc, self.file) from None
        yield from self.drain()

    def _is_record(self, elem: Any) -> bool:
        tag = elem.tag
        if not isinstance(tag, str) or _local(tag) != self.local:
            return False
        return self.namespace is None or tag.startswith("{" + self.namespace + "}")

    def drain(self) -> Iterator[XmlRow]:
        for _, elem in self.parser.read_events():
            depth = 1
            nested = False
            for ancestor in elem.iterancestors():
                depth += 1
                if self._is_record(ancestor):
                    nested = True
            if nested:
                continue  # part of the enclosing record, converted with it
            self.index += 1
            if self.index > self.limits.max_records:
                raise UnsafeInput(
                    self.file, f"more than {self.limits.max_records} records in one file"
                )
            refuse_xinclude(elem, self.file)
            row = self._convert(elem, depth)
            yield row, SourceLocation(self.file, self.index, elem.sourceline)
            self._forget(elem)

    @staticmethod
    def _forget(elem: Any) -> None:
        """Drop the record and everything before it, at every level, so memory stays flat."""
        elem.clear()
        node = elem
        parent = node.getparent()
        while parent is not None:
            while node.getprevious() is not None:
                del parent[0]
            node = parent
            parent = node.getparent()
        parent = elem.getparent()
        if parent is not None:
            parent.remove(elem)

    def _convert(self, elem: Any, depth: int) -> dict[str, Any]:
        if depth > self.limits.max_depth:
            raise UnsafeInput(
                self.file,
                f"elements nested deeper than {self.limits.max_depth} levels",
                elem.sourceline,
            )
        out: dict[str, Any] = {}
        for name, value in elem.attrib.items():
            out["@" + _local(name)] = value
        has_children = False
        for child in elem:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments and processing instructions
            has_children = True
            if tag[0] == "{":
                refuse_xinclude(child, self.file)
            key = _local(tag)
            if len(child) or child.attrib:
                value: Any = self._convert(child, depth + 1)
            else:
                value = child.text
                if value is None:
                    value = ""
                elif len(value) > self.text_chars_unchecked:
                    self._check_text(value, child)
            if key in out:
                previous = out[key]
                if isinstance(previous, _Repeated):
                    previous.append(value)
                else:
                    out[key] = _Repeated((previous, value))
            else:
                out[key] = value
        text = elem.text
        if text and not text.isspace():
            if len(text) > self.text_chars_unchecked:
                self._check_text(text, elem)
            if has_children or out:
                out["#text"] = text.strip() if has_children else text
            else:
                out["#text"] = text
        return out

    def _check_text(self, text: str, elem: Any) -> None:
        size = len(text.encode("utf-8"))
        if size > self.limits.max_text_bytes:
            raise UnsafeInput(
                self.file,
                f"text of <{_local(elem.tag)}> is {size} bytes, over the limit of "
                f"{self.limits.max_text_bytes} bytes",
                elem.sourceline,
            )


class _Repeated(list):  # type: ignore[type-arg]
    """The values of a child element repeated under one parent, in document order."""
