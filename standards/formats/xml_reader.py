"""Streaming, safe reader for the XML exchange format.

Two passes over the start of the file and one streaming pass:

1. the first bytes are checked for a BOM or an encoding declaration other than UTF-8;
2. a throw-away pull parser reads up to the root start tag, refusing any DOCTYPE (a file
   with a DTD is refused even if the DTD is harmless: no DTD is ever needed) and naming
   the record kind from the root element;
3. the main pull parser reports only record ``end`` events (libxml2 does the rest in C),
   each record becomes a dict in one tight loop over its children, and is then removed
   from the tree so memory stays flat however long the file is.

The file is fed in chunks by this module rather than by lxml, so the byte limits are
enforced while reading and not after the damage is done.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from lxml import etree

from standards.formats.errors import UnreadableInput, UnsafeInput
from standards.formats.layout import (
    FORMAT_VERSION,
    KIND_OF_ROOT,
    LIST_ITEM_TAG,
    ROOT_OF_KIND,
)
from standards.formats.limits import ParseLimits
from standards.formats.raw import RawRecord
from standards.formats.xml_feed import CHUNK, feed_records, first_element, refuse_xinclude
from standards.privacy import mask_text
from standards.records import SourceLocation
from standards.validation import Finding

_SAFE_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}
_DECLARATION = re.compile(rb"^<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_UTF8_NAMES = frozenset({"utf-8", "utf8"})
_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
_E = etree.ErrorTypes
_ENCODING_ERRORS = frozenset({_E.ERR_INVALID_ENCODING, _E.ERR_UNSUPPORTED_ENCODING})
_ENTITY_ERRORS = frozenset(
    code
    for name in (
        "ERR_UNDECLARED_ENTITY",
        "WAR_UNDECLARED_ENTITY",
        "ERR_ENTITY_LOOP",
        "ERR_ENTITY_PE_INTERNAL",
        "ERR_ENTITY_BOUNDARY",
        "ERR_ENTITY_NOT_FINISHED",
        "ERR_UNPARSED_ENTITY",
        "ERR_EXT_ENTITY_STANDALONE",
        "ERR_ENTITY_IS_EXTERNAL",
        "ERR_ENTITY_IS_PARAMETER",
        "ERR_ENTITYREF_NO_NAME",
        "ERR_ENTITYREF_SEMICOL_MISSING",
        "ERR_PEREF_AT_EOF",
        "ERR_PEREF_IN_PROLOG",
        "ERR_PEREF_IN_EPILOG",
        "ERR_PEREF_IN_INT_SUBSET",
        "ERR_PEREF_NO_NAME",
        "ERR_PEREF_SEMICOL_MISSING",
        "ERR_DOCTYPE_NOT_FINISHED",
        "ERR_ENTITY_AMPLIFICATION",
    )
    if (code := getattr(_E, name, None)) is not None
)
_LIMIT_ERRORS = frozenset(
    code
    for name in ("ERR_RESOURCE_LIMIT", "ERR_NAME_TOO_LONG")
    if (code := getattr(_E, name, None)) is not None
)


def iter_xml_records(
    path: str | Path, limits: ParseLimits, kind: str | None = None
) -> Iterator[RawRecord]:
    """Yield the records of one XML exchange file; raise on the first file-level error."""
    file = str(path)
    size = os.stat(path).st_size
    if size > limits.max_file_bytes:
        raise UnsafeInput(
            file, f"file is {size} bytes, over the limit of {limits.max_file_bytes} bytes"
        )
    with open(path, "rb") as fh:
        etree.clear_error_log()
        root_tag = read_root(fh, file, limits)
        file_kind = KIND_OF_ROOT.get(root_tag)
        if file_kind is None:
            expected = ", ".join(f"<{r}>" for r in KIND_OF_ROOT)
            raise UnreadableInput(
                file, "xml.malformed", f"unknown root element <{root_tag}>; expected {expected}", 1
            )
        if kind is not None and file_kind != kind:
            raise UnreadableInput(
                file,
                "xml.malformed",
                f"root element <{root_tag}> holds {file_kind} records; "
                f"expected <{ROOT_OF_KIND.get(kind, kind)}>",
            )
        fh.seek(0)
        etree.clear_error_log()
        yield from XmlStream(fh, file, file_kind, limits).records()


def read_root(fh: Any, file: str, limits: ParseLimits) -> str:
    """Check the declaration and prolog, return the root element's tag."""
    head = fh.read(CHUNK)
    if not head.strip():
        raise UnreadableInput(file, "xml.malformed", "file is empty")
    for bom, name in _BOMS.items():
        if head.startswith(bom):
            raise UnreadableInput(
                file,
                "xml.encoding",
                f"file starts with a {name} byte order mark; the standard requires UTF-8",
                1,
            )
    declaration = _DECLARATION.match(head.removeprefix(b"\xef\xbb\xbf"))
    if declaration:
        encoding = _ENCODING.search(declaration.group(0))
        if encoding and encoding.group(1).decode("ascii").lower() not in _UTF8_NAMES:
            raise UnreadableInput(
                file,
                "xml.encoding",
                f"encoding declared as {encoding.group(1).decode('ascii')!r}; "
                "the standard requires UTF-8",
                1,
            )
    parser = etree.XMLPullParser(events=("start",), encoding="utf-8", **_SAFE_PARSER_OPTIONS)
    root = first_element(fh, head, parser, file, limits, lambda exc: _map_syntax_error(exc, file))
    return _tag_name(root.tag)


def _tag_name(tag: Any) -> str:
    return tag if isinstance(tag, str) else repr(tag)


def _map_syntax_error(
    exc: etree.XMLSyntaxError, file: str, line_offset: int = 0
) -> UnreadableInput | UnsafeInput:
    """Turn a libxml2 error into ours, keeping its line; entities and limits are unsafe."""
    code, message, line = exc.code, exc.msg, exc.lineno or None
    if not line:
        # A feed parser can raise a generic "no element found" at close; the last error
        # logged (the log is cleared when a file is opened) says what and where.
        errors = [e for e in exc.error_log if e.level >= etree.ErrorLevels.ERROR]
        if errors:
            code, message, line = errors[-1].type, errors[-1].message, errors[-1].line or None
    if line is not None:
        line += line_offset
    detail = mask_text(str(message).splitlines()[0] if message else "syntax error")
    if code in _ENTITY_ERRORS or "entity" in detail.lower():
        return UnsafeInput(file, f"entity references are not allowed: {detail}", line)
    if code in _LIMIT_ERRORS or "huge" in detail.lower() or "depth" in detail.lower():
        return UnsafeInput(file, f"parser limit exceeded: {detail}", line)
    if code in _ENCODING_ERRORS or "encoding" in detail.lower():
        return UnreadableInput(file, "xml.encoding", f"not valid UTF-8: {detail}", line)
    return UnreadableInput(file, "xml.malformed", f"malformed XML: {detail}", line)


class XmlStream:
    """The streaming pass over one file whose root and kind are already known."""

    def __init__(
        self, fh: Any, file: str, kind: str, limits: ParseLimits, line_offset: int = 0
    ) -> None:
        # line_offset: lines before the first byte fed (a segment of a larger file).
        self.line_offset = line_offset
        self.fh = fh
        self.file = file
        self.kind = kind
        self.limits = limits
        self.root: Any = None
        self.index = 0
        # A text over a quarter of the byte limit in characters may be over it in bytes.
        self.text_chars_unchecked = limits.max_text_bytes // 4
        self.parser = etree.XMLPullParser(
            events=("end",), tag=kind, encoding="utf-8", **_SAFE_PARSER_OPTIONS
        )

    def records(self) -> Iterator[RawRecord]:
        yield from feed_records(
            self, lambda exc: _map_syntax_error(exc, self.file, self.line_offset), "record"
        )
        error = None
        document_root = None
        try:
            document_root = self.parser.close()
        except etree.XMLSyntaxError as exc:
            error = exc
        yield from self.drain()
        if error is not None:
            raise _map_syntax_error(error, self.file, self.line_offset) from None
        if self.root is None:
            self.root = document_root
        if self.root is not None:
            yield from self._strays(self.root, None)

    def drain(self) -> Iterator[RawRecord]:
        root = self.root
        for _, elem in self.parser.read_events():
            parent = elem.getparent()
            if parent is not root:
                if root is not None or parent.getparent() is not None:
                    continue  # a record tag nested in a stray element: reported with it
                self.root = root = parent
                version = root.get("version")
                if version is not None and version != FORMAT_VERSION:
                    raise UnreadableInput(
                        self.file,
                        "xml.malformed",
                        f"format version {version!r} is not supported (expected "
                        f"{FORMAT_VERSION!r})",
                        root.sourceline,
                    )
            if elem.getprevious() is not None:
                yield from self._strays(root, elem)
            self._count()
            line = self._ln(elem.sourceline)
            text = elem.text
            problems: list[Finding] = []
            if text and not text.isspace():
                problems.append(self._text_problem(elem, line))
            data = self._fields(elem, 3, problems, "")
            # libxml2 refuses characters XML cannot carry (raw or as references): the
            # file is malformed, so a record read here never holds one.
            yield RawRecord(
                self.kind,
                SourceLocation(self.file, self.index, line),
                data,
                tuple(problems),
                chars_checked=True,
            )
            elem.clear()
            root.remove(elem)

    def _ln(self, line: int | None) -> int | None:
        return None if line is None else line + self.line_offset

    def _count(self) -> None:
        self.index += 1
        if self.index > self.limits.max_records:
            raise UnsafeInput(self.file, f"more than {self.limits.max_records} records in one file")

    def _strays(self, root: Any, stop: Any) -> Iterator[RawRecord]:
        """Report elements under the root that are not records, then drop them."""
        for stray in list(root):
            if stray is stop:
                break
            refuse_xinclude(stray, self.file, self.line_offset)
            for inner in stray.iter():
                refuse_xinclude(inner, self.file, self.line_offset)
            self._count()
            tag = _tag_name(stray.tag)
            problem = Finding(
                "xml.schema",
                f"unexpected element <{tag}> at line {self._ln(stray.sourceline)}; "
                f"<{root.tag}> holds only <{self.kind}> elements",
            )
            yield RawRecord(
                self.kind,
                SourceLocation(self.file, self.index, self._ln(stray.sourceline)),
                {},
                (problem,),
            )
            root.remove(stray)

    def _fields(self, elem: Any, depth: int, problems: list[Finding], path: str) -> dict[str, Any]:
        """The hot path: one dict per element, one loop over its children."""
        if depth > self.limits.max_depth:
            self._too_deep(elem)
        data: dict[str, Any] = {}
        for child in elem:
            tag = child.tag
            if tag[0] == "{":
                refuse_xinclude(child, self.file, self.line_offset)
            if len(child):
                item_tag = LIST_ITEM_TAG.get(tag)
                if item_tag is None:
                    value: Any = self._fields(child, depth + 1, problems, f"{path}{tag}.")
                else:
                    value = self._list(child, item_tag, depth + 1, problems, f"{path}{tag}")
            else:
                value = child.text
                if value is None:
                    value = [] if tag in LIST_ITEM_TAG else ""
                elif len(value) > self.text_chars_unchecked:
                    self._check_text(value, child)
            if tag in data:
                previous = data[tag]
                if isinstance(previous, _Repeated):
                    previous.append(value)
                else:
                    data[tag] = _Repeated((previous, value))
            else:
                data[tag] = value
        text = elem.text
        if depth > 3 and text and not text.isspace():
            problems.append(self._text_problem(elem, self._ln(elem.sourceline), path.rstrip(".")))
        return data

    def _list(
        self, elem: Any, item_tag: str, depth: int, problems: list[Finding], path: str
    ) -> list[Any]:
        if depth > self.limits.max_depth:
            self._too_deep(elem)
        values: list[Any] = []
        for position, child in enumerate(elem):
            if child.tag != item_tag:
                problems.append(
                    Finding(
                        "schema.unknown_field",
                        f"unexpected element <{_tag_name(child.tag)}> in <{elem.tag}> at line "
                        f"{self._ln(child.sourceline)}; expected <{item_tag}>",
                        f"{path}.{position}",
                    )
                )
                continue
            if len(child):
                values.append(self._fields(child, depth + 1, problems, f"{path}.{position}."))
            else:
                text = child.text
                if text is not None and len(text) > self.text_chars_unchecked:
                    self._check_text(text, child)
                values.append("" if text is None else text)
        return values

    def _too_deep(self, elem: Any) -> NoReturn:
        raise UnsafeInput(
            self.file,
            f"elements nested deeper than {self.limits.max_depth} levels",
            self._ln(elem.sourceline),
        )

    def _check_text(self, text: str, elem: Any) -> None:
        size = len(text.encode("utf-8"))
        if size > self.limits.max_text_bytes:
            raise UnsafeInput(
                self.file,
                f"text of <{elem.tag}> is {size} bytes, over the limit of "
                f"{self.limits.max_text_bytes} bytes",
                self._ln(elem.sourceline),
            )

    def _text_problem(self, elem: Any, line: int | None, field: str | None = None) -> Finding:
        return Finding(
            "schema.unknown_field",
            f"text directly inside <{elem.tag}> at line {line}; only its child elements "
            "carry values",
            field or None,
        )


class _Repeated(list):  # type: ignore[type-arg]
    """A list made from a repeated child element (not a declared list field).

    Kept a list so validation reports the field as the wrong type instead of one of the
    values winning silently.
    """
