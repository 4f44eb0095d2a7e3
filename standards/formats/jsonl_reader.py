"""Reader for the JSON Lines exchange format: one record object per line, with ``kind``.

A malformed line does not stop the file: it is yielded as a :class:`RawRecord` with a
``json.malformed`` problem (and its line number), so the good lines load and the bad one is
quarantined where it can be seen. A line that is not UTF-8, or anything beyond the limits,
refuses the whole file like in XML: those say the file as a whole is not what it claims.
A value JSON can carry but XML cannot (``"\u000b"``, ``"\u0000"``) is a
``schema.xml_char`` problem of its record, naming the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from standards.formats.errors import UnreadableInput, UnsafeInput
from standards.formats.limits import ParseLimits
from standards.formats.raw import RawRecord
from standards.records import SourceLocation
from standards.validation import Finding
from standards.validation.xml_chars import json_text_may_hold, xml_char_findings


class _DuplicateKey(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"duplicate key {key!r}")
            seen.add(key)
    return obj


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def iter_jsonl_records(
    path: str | Path, limits: ParseLimits, kind: str | None = None
) -> Iterator[RawRecord]:
    """Yield the records of one JSON Lines file; raise on the first file-level error."""
    file = str(path)
    size = os.stat(path).st_size
    if size > limits.max_file_bytes:
        raise UnsafeInput(
            file,
            f"file is {size} bytes, over the limit of {limits.max_file_bytes} bytes",
            rule="xml.unsafe",
        )
    decoder = json.JSONDecoder(
        object_pairs_hook=_object_without_duplicates, parse_constant=_reject_constant
    )
    total = 0
    index = 0
    with open(path, "rb") as fh:
        line_no = 0
        while True:
            raw = fh.readline(limits.max_record_bytes + 1)
            if not raw:
                break
            line_no += 1
            total += len(raw)
            if total > limits.max_file_bytes:
                raise UnsafeInput(
                    file, f"file grew over the limit of {limits.max_file_bytes} bytes", line_no
                )
            if len(raw) > limits.max_record_bytes:
                raise UnsafeInput(
                    file, f"line longer than {limits.max_record_bytes} bytes", line_no
                )
            if line_no == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UnreadableInput(
                    file,
                    "xml.encoding",
                    f"not valid UTF-8 (byte {exc.start + 1} of the line); "
                    "the standard requires UTF-8",
                    line_no,
                ) from None
            index += 1
            if index > limits.max_records:
                raise UnsafeInput(file, f"more than {limits.max_records} records in one file")
            location = SourceLocation(file, index, line_no)
            try:
                obj = decoder.decode(text)
            except (ValueError, RecursionError) as exc:
                yield _bad_line(kind, location, _json_error_text(exc))
                continue
            if not isinstance(obj, dict):
                yield _bad_line(kind, location, f"a {type(obj).__name__} instead of an object")
                continue
            _check_nesting(obj, limits, file, line_no)
            record_kind = obj.pop("kind", None)
            if record_kind is None:
                record_kind = kind
            if not isinstance(record_kind, str) or (kind is not None and record_kind != kind):
                expected = f"{kind!r}" if kind else "a record kind"
                yield _bad_line(kind, location, f'"kind" is {record_kind!r}, expected {expected}')
                continue
            problems = xml_char_findings(obj) if json_text_may_hold(text) else ()
            yield RawRecord(record_kind, location, obj, tuple(problems), chars_checked=True)


def _json_error_text(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def _bad_line(kind: str | None, location: SourceLocation, what: str) -> RawRecord:
    problem = Finding("json.malformed", f"line {location.line} is not a valid record: {what}")
    return RawRecord(kind or "", location, {}, (problem,))


def _check_nesting(obj: Any, limits: ParseLimits, file: str, line: int) -> None:
    """Apply the XML depth and text limits to JSON too (the record object is level 2)."""
    stack: list[tuple[Any, int]] = [(obj, 2)]
    chars_unchecked = limits.max_text_bytes // 4
    while stack:
        value, depth = stack.pop()
        if depth > limits.max_depth:
            raise UnsafeInput(file, f"values nested deeper than {limits.max_depth} levels", line)
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif (
                isinstance(child, str)
                and len(child) > chars_unchecked
                and len(child.encode("utf-8")) > limits.max_text_bytes
            ):
                raise UnsafeInput(
                    file, f"a text value is over the limit of {limits.max_text_bytes} bytes", line
                )
