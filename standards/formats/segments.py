"""Splitting one large XML exchange file into segments that separate processes can parse.

A file is cut only where a record element starts at the top level, and only when the body
holds no CDATA section, comment or processing instruction (the only places where text
that looks like a start tag is not one). Each segment after the first is parsed as if it
were its own document: a bare root start tag, the segment's bytes, and the closing root
tag — so the same safe reader, with the same limits, reads every segment.

A cut in the wrong place cannot go unnoticed: the segment before it would end inside an
open element and fail to parse. Callers treat any segment failure by reading the whole
file in one piece, so results never depend on how the file was cut.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from standards.formats.layout import KIND_OF_ROOT, ROOT_OF_KIND
from standards.formats.limits import ParseLimits
from standards.formats.raw import RawRecord
from standards.formats.xml_reader import XmlStream, iter_xml_records, read_root

MIN_SEGMENT_BYTES = 1 << 20
_ROOT_START = re.compile(rb"<(%s)[\s>/]" % b"|".join(r.encode() for r in KIND_OF_ROOT))
_HAZARDS = (b"<![CDATA[", b"<!--", b"<?")


@dataclass(frozen=True, slots=True)
class XmlSegment:
    """Bytes ``start``–``end`` of ``path``; ``first_line`` is the file line at ``start``."""

    path: str
    kind: str
    index: int
    start: int
    end: int
    first_line: int
    is_last: bool

    @property
    def is_first(self) -> bool:
        return self.index == 0


def plan_xml_segments(
    path: str | Path, parts: int, *, min_bytes: int | None = None
) -> list[XmlSegment] | None:
    """Up to ``parts`` segments of at least about ``min_bytes`` (default
    :data:`MIN_SEGMENT_BYTES`), cut at top-level record starts, or None if not splittable.

    None means: read the file in one piece (too small to repay, an unusual layout, or
    content where a tag-like text might not be a tag).

    The file is read in blocks, never mapped: a mapping of a gigabyte file counts every
    page scanned in the process's resident memory.
    """
    path = str(path)
    size = os.stat(path).st_size
    if min_bytes is None:
        min_bytes = MIN_SEGMENT_BYTES
    if parts < 2 or size < 2 * min_bytes:
        return None
    with open(path, "rb") as fh:
        head = fh.read(min(size, 1 << 16))
        root = _ROOT_START.search(head)
        if root is None:
            return None
        kind = KIND_OF_ROOT[root.group(1).decode()]
        body_start = head.find(b">", root.start()) + 1
        if body_start <= 0:
            return None
        record_start = re.compile(rb"<%s[\s>]" % kind.encode())
        parts = min(parts, max(2, size // min_bytes))
        cuts = [0]
        for k in range(1, parts):
            found = _search_from(fh, record_start, max(cuts[-1] + 1, size * k // parts))
            if found is None:
                break
            cuts.append(found)
        if len(cuts) < 2 or cuts[1] <= body_start:
            return None
        cuts.append(size)
        lines = _scan(fh, body_start, cuts)
    if lines is None:
        return None
    segments = []
    line = 1
    last = len(cuts) - 2
    for i in range(len(cuts) - 1):
        segments.append(XmlSegment(path, kind, i, cuts[i], cuts[i + 1], line, i == last))
        line += lines[i]
    return segments


_BLOCK = 4 << 20
_OVERLAP = 64  # longer than any pattern searched across a block boundary


def _search_from(fh: BinaryIO, pattern: re.Pattern[bytes], start: int) -> int | None:
    """Offset of the first match of ``pattern`` at or after ``start``."""
    pos = start
    carry = b""
    while True:
        fh.seek(pos)
        block = fh.read(_BLOCK)
        if not block:
            return None
        window = carry + block
        found = pattern.search(window)
        if found is not None:
            return pos - len(carry) + found.start()
        carry = window[-_OVERLAP:]
        pos += len(block)


def _scan(fh: BinaryIO, body_start: int, cuts: list[int]) -> list[int] | None:
    """Newlines per segment, or None when the body holds a CDATA section, a comment or a
    processing instruction anywhere (text that looks like a tag might not be one)."""
    counts = [0] * (len(cuts) - 1)
    fh.seek(0)
    pos = 0
    carry = b""
    segment = 0
    while True:
        block = fh.read(_BLOCK)
        if not block:
            return counts
        window = carry + block
        offset = pos - len(carry)  # file offset of window[0]
        for hazard in _HAZARDS:
            found = window.find(hazard, max(0, body_start - offset))
            if found != -1:
                return None
        end = pos + len(block)
        start = pos
        while segment < len(counts) and cuts[segment + 1] <= end:
            counts[segment] += block.count(b"\n", start - pos, cuts[segment + 1] - pos)
            start = cuts[segment + 1]
            segment += 1
        if segment < len(counts):
            counts[segment] += block.count(b"\n", start - pos)
        carry = window[-_OVERLAP:]
        pos = end


class _SegmentFile:
    """A read()-able view: synthetic root start, the segment's bytes, synthetic root end."""

    def __init__(self, segment: XmlSegment) -> None:
        root = ROOT_OF_KIND[segment.kind].encode()
        self._fh = open(segment.path, "rb")  # noqa: SIM115 - closed by close()
        self._fh.seek(segment.start)
        self._left = segment.end - segment.start
        self._head = b"" if segment.is_first else b"<" + root + b">"
        self._tail = b"</" + root + b">" if not segment.is_last else b""

    def read(self, n: int) -> bytes:
        if self._head:
            out, self._head = self._head, b""
            return out
        if self._left > 0:
            chunk = self._fh.read(min(n, self._left))
            self._left -= len(chunk)
            if chunk:
                return chunk
            self._left = 0
        out, self._tail = self._tail, b""
        return out

    def close(self) -> None:
        self._fh.close()


def iter_xml_segment(segment: XmlSegment, limits: ParseLimits) -> Iterator[RawRecord]:
    """The records of one segment; ``record`` indexes count from 1 within the segment.

    The first segment goes through the full prolog checks (declaration, DOCTYPE refusal,
    root element); later ones start at a record boundary inside the checked document.
    """
    if segment.is_first and segment.is_last:
        yield from iter_xml_records(segment.path, limits, segment.kind)
        return
    if segment.is_first:
        with open(segment.path, "rb") as fh:
            read_root(fh, segment.path, limits)  # declaration, DOCTYPE refusal, root
    etree.clear_error_log()  # errors of an earlier parse in this process are not ours
    view = _SegmentFile(segment)
    try:
        # Later segments begin with a synthetic root start tag that adds no line.
        stream = XmlStream(view, segment.path, segment.kind, limits, segment.first_line - 1)
        yield from stream.records()
    finally:
        view.close()
