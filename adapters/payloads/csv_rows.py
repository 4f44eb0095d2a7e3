"""CSV rows from a department's export, in UTF-8 or the GBK family.

The file is read as bytes, line by line, and each line decoded on its own, so a line
that is not valid in the declared encoding costs that row only: it is yielded as a
:class:`PayloadProblem` (``mapping.encoding``) with its exact bytes, and the next row is
read normally. Decoding uses ``surrogateescape`` so the CSV parser still sees the row's
shape (quotes, delimiters) and the problem can name the columns holding the bad bytes.

A row with the wrong number of fields, or broken quoting, is a ``payload.malformed``
problem. Only a file that cannot be used at all — no header, a header that is not in the
declared encoding, duplicate column names, anything beyond the limits — raises.

A UTF-8 byte order mark is honoured whatever encoding is declared: Excel's "CSV UTF-8"
writes one, and no GBK file starts with those three bytes by accident.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

from adapters.payloads.problems import PayloadProblem, UnreadablePayload
from standards.formats.errors import UnsafeInput
from standards.formats.limits import ParseLimits
from standards.records import SourceLocation

CsvRow = tuple[dict[str, str] | PayloadProblem, SourceLocation]

_ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",
    "gbk": "gbk",
    "gb2312": "gbk",
    "cp936": "gbk",
    "gb18030": "gb18030",
}
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def csv_encoding(name: str) -> str:
    """The codec for a declared encoding; ValueError naming the supported ones."""
    codec = _ENCODINGS.get(name.strip().lower())
    if codec is None:
        raise ValueError(f"CSV encoding {name!r} is not supported; use utf-8, gbk or gb18030")
    return codec


class _Lines:
    """Decoded physical lines for the csv module, remembering the bytes of the record."""

    def __init__(self, fh: object, file: str, encoding: str, limits: ParseLimits) -> None:
        self.fh = fh
        self.file = file
        self.encoding = encoding
        self.limits = limits
        self.line_no = 0
        self.total = 0
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.bad = False  # a line of the current record did not decode

    def __iter__(self) -> Iterator[str]:
        readline = self.fh.readline  # type: ignore[attr-defined]
        limit = self.limits.max_record_bytes
        encoding = self.encoding
        while True:
            raw: bytes = readline(limit + 1)
            if not raw:
                return
            self.line_no += 1
            self.total += len(raw)
            if self.total > self.limits.max_file_bytes:
                raise UnsafeInput(
                    self.file,
                    f"file grew over the limit of {self.limits.max_file_bytes} bytes",
                    self.line_no,
                )
            if len(raw) > limit:
                raise UnsafeInput(self.file, f"line longer than {limit} bytes", self.line_no)
            self.pending.append(raw)
            self.pending_bytes += len(raw)
            if self.pending_bytes > limit:
                raise UnsafeInput(
                    self.file,
                    f"a record spans more than {limit} bytes (an unclosed quote?)",
                    self.line_no,
                )
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError:
                self.bad = True
                yield raw.decode(encoding, "surrogateescape")

    def take(self) -> tuple[bytes, int, bool]:
        """The bytes and first line of the record just parsed; starts the next one."""
        data = b"".join(self.pending)
        first = self.line_no - len(self.pending) + 1
        bad = self.bad
        self.pending = []
        self.pending_bytes = 0
        self.bad = False
        return data, first, bad


def iter_csv_rows(
    path: str | Path,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    limits: ParseLimits | None = None,
    source: str | None = None,
) -> Iterator[CsvRow]:
    """Yield ``(row, location)`` per data row: a dict keyed by the header, or a problem.

    ``source`` is the stable name locations carry (a remote path); defaults to ``path``.
    Values are returned exactly as in the file (no trimming): the mapping's transforms
    decide what to clean.
    """
    limits = limits or ParseLimits()
    file = source or str(path)
    codec = csv_encoding(encoding)
    if len(delimiter) != 1:
        raise ValueError(f"the CSV delimiter must be one character, got {delimiter!r}")
    size = os.stat(path).st_size
    if size > limits.max_file_bytes:
        raise UnsafeInput(
            file, f"file is {size} bytes, over the limit of {limits.max_file_bytes} bytes"
        )
    with open(path, "rb") as fh:
        head = fh.read(3)
        if head.startswith(_UTF16_BOMS):
            raise UnreadablePayload(
                file, "mapping.encoding", "file is UTF-16 (byte order mark); save it as UTF-8", 1
            )
        if head == _UTF8_BOM:
            codec = "utf-8"
        else:
            fh.seek(0)
        yield from _rows(_Lines(fh, file, codec, limits), file, codec, delimiter, limits)


def _rows(
    lines: _Lines, file: str, codec: str, delimiter: str, limits: ParseLimits
) -> Iterator[CsvRow]:
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    index = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            data, first, _ = lines.take()
            if header is None:
                raise UnreadablePayload(
                    file, "payload.malformed", f"the header row is not valid CSV: {exc}", first
                ) from None
            index += 1
            _count(index, limits, file)
            yield (
                PayloadProblem.from_bytes(
                    "payload.malformed",
                    f"{file}, line {first}: not valid CSV: {exc}",
                    data,
                    codec,
                ),
                SourceLocation(file, index, first),
            )
            continue
        data, first, bad = lines.take()
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # a blank line
        if header is None:
            header = _header(fields, bad, file, codec, first)
            width = len(header)
            continue
        index += 1
        _count(index, limits, file)
        location = SourceLocation(file, index, first)
        if len(fields) != width:
            yield (
                PayloadProblem.from_bytes(
                    "payload.malformed",
                    f"{file}, line {first}: {len(fields)} fields, the header has {width}",
                    data,
                    codec,
                ),
                location,
            )
            continue
        if bad:
            yield _encoding_problem(header, fields, data, codec, file, first), location
            continue
        yield dict(zip(header, fields, strict=True)), location


def _header(fields: list[str], bad: bool, file: str, codec: str, line: int) -> list[str]:
    if bad:
        data = "".join(fields).encode(codec, "surrogateescape")
        raise UnreadablePayload(
            file,
            "mapping.encoding",
            f"the header row is not valid {codec}{_guess(data, codec)}",
            line,
        )
    names = [name.strip().lstrip("\ufeff") for name in fields]
    empty = [str(position + 1) for position, name in enumerate(names) if not name]
    seen: set[str] = set()
    twice: set[str] = set()
    for name in names:
        (twice if name in seen else seen).add(name)
    problems = []
    if empty:
        problems.append(f"column(s) {', '.join(empty)} have no name")
    if twice:
        problems.append(f"column name(s) {', '.join(sorted(twice))} appear more than once")
    if problems:
        raise UnreadablePayload(file, "payload.malformed", "; ".join(problems), line)
    return names


def _encoding_problem(
    header: list[str], fields: list[str], data: bytes, codec: str, file: str, line: int
) -> PayloadProblem:
    columns = [name for name, value in zip(header, fields, strict=True) if _undecodable(value)]
    return PayloadProblem.from_bytes(
        "mapping.encoding",
        f"{file}, line {line}: bytes that are not valid {codec} in column(s) "
        f"{', '.join(columns)}{_guess(data, codec)}",
        data,
        codec,
    )


def _undecodable(value: str) -> bool:
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _guess(data: bytes, codec: str) -> str:
    """A hint when the bytes are clearly another encoding of the family we support."""
    for other in ("gbk", "gb18030") if codec == "utf-8" else ("utf-8",):
        try:
            data.decode(other)
        except UnicodeDecodeError:
            continue
        return f" (they read as {other.upper()}: is the file {other.upper()}-encoded?)"
    return ""


def _count(index: int, limits: ParseLimits, file: str) -> None:
    if index > limits.max_records:
        raise UnsafeInput(file, f"more than {limits.max_records} rows in one file")
