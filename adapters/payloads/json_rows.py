"""JSON rows: JSON Lines files, and JSON documents holding an array of rows (HTTP pages).

JSON Lines are read line by line: a line that is not a JSON object, or not UTF-8, is
yielded as a :class:`PayloadProblem` with its line number, and the next line is read
normally. A JSON document (``records_path`` given) is one unit: if it does not parse,
the page as a whole is unreadable and :class:`UnreadableInput` says where; entries of its
array that are not objects are problems of their own.

Both refuse duplicate keys (which value would win is undefined across parsers), the
non-standard constants ``NaN``/``Infinity``, and anything beyond the limits. A row holding
a lone surrogate escape (``"\\udcb0"``: half of a UTF-16 pair, which ``json.loads``
accepts but no UTF-8 store can keep) is a ``mapping.encoding`` problem naming the field,
in a key or a value, mapped or not; the rest of the payload is read normally.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import IO, Any, NoReturn

from adapters.payloads.problems import PayloadProblem
from standards.formats.errors import UnreadableInput, UnsafeInput
from standards.formats.limits import ParseLimits
from standards.records import SourceLocation
from standards.surrogates import (
    describe_surrogate,
    escape_surrogates,
    escape_text,
    first_surrogate,
)

JsonRow = tuple[dict[str, Any] | PayloadProblem, SourceLocation]


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"key {key!r} appears twice in one object")
            seen.add(key)
    return obj


def _constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)

# A surrogate reaches decoded JSON only through an escape (raw surrogate bytes are not
# UTF-8); lines without one skip the walk. A hit is a hint (a valid pair matches too).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _surrogate_message(where: str, row: dict[str, Any]) -> tuple[str, str] | None:
    """The message and field of a row's first lone surrogate, or None."""
    hit = first_surrogate(row)
    if hit is None:
        return None
    field, char = hit
    return (
        f"{where}: field {field} holds {describe_surrogate(char)}, a lone surrogate escape "
        "(half of a UTF-16 pair, not a character): the sender's JSON is not text it can "
        "mean; fix the export (the rest of the payload is read)",
        field,
    )


def surrogate_problem(row: dict[str, Any], where: str) -> PayloadProblem | None:
    """A problem standing in for a parsed row (an array entry, an HTTP page's object)
    that holds a lone surrogate, its payload kept with each one written as ``\\udcb0``;
    None for a row without any. ``where`` names the row (``file, item 3``)."""
    found = _surrogate_message(where, row)
    if found is None:
        return None
    message, field = found
    renamed: list[tuple[str, str]] = []
    kept = escape_surrogates(row, renamed)
    return PayloadProblem("mapping.encoding", message + _renamed_text(renamed), kept, field)


def _renamed_text(renamed: list[tuple[str, str]]) -> str:
    """What the finding says of keys stored under another name (their escaped name was
    already a key of the row, whose value is kept too)."""
    if not renamed:
        return ""
    keys = "; ".join(f'key {path} is kept as "{name}"' for path, name in renamed)
    return f"; {keys}: its escaped name is another key of the row"


def iter_json_rows(
    path_or_bytes: str | Path | bytes,
    *,
    records_path: str | None = None,
    limits: ParseLimits | None = None,
    source: str | None = None,
) -> Iterator[JsonRow]:
    """Yield ``(row, location)`` per object: a dict, or a problem in the row's place.

    ``records_path`` None reads JSON Lines; otherwise the payload is one JSON document and
    the rows are the array at that dotted path (``data.items``; ``""`` for a document that
    is itself an array). ``source`` names the payload in locations (a URL without its
    secrets, a remote path); it defaults to the path, or ``"payload"`` for bytes.
    """
    limits = limits or ParseLimits()
    if isinstance(path_or_bytes, bytes):
        file = source or "payload"
        size = len(path_or_bytes)
    else:
        file = source or str(path_or_bytes)
        size = os.stat(path_or_bytes).st_size
    if size > limits.max_file_bytes:
        raise UnsafeInput(
            file, f"payload is {size} bytes, over the limit of {limits.max_file_bytes} bytes"
        )
    if records_path is None:
        if isinstance(path_or_bytes, bytes):
            yield from _lines(BytesIO(path_or_bytes), file, limits)
        else:
            with open(path_or_bytes, "rb") as fh:
                yield from _lines(fh, file, limits)
        return
    document = read_json_document(path_or_bytes, limits=limits, source=file)
    rows = records_at(document, records_path, file)
    for index, row in enumerate(rows, start=1):
        if index > limits.max_records:
            raise UnsafeInput(file, f"more than {limits.max_records} records in one payload")
        location = SourceLocation(file, index)
        if isinstance(row, dict):
            where = f"{file}, {records_path or 'document'}[{index - 1}]"
            yield surrogate_problem(row, where) or row, location
        else:
            yield _not_an_object(row, file, records_path, index), location


def _not_an_object(row: Any, file: str, records_path: str, index: int) -> PayloadProblem:
    """The problem standing in for an array entry that is no object, kept as JSON text.

    A lone surrogate in it is written back as the escape it arrived as (``\\udcb0``), so
    the text can be stored; the rule stays payload.malformed (the entry's shape is wrong
    first, as for a JSON line that is no object) and the message names the character.
    """
    where = f"{records_path}[{index - 1}]" if records_path else f"[{index - 1}]"
    message = f"{file}: {where} is {_json_type(row)}, not an object"
    text = json.dumps(row, ensure_ascii=False)
    hit = first_surrogate(row)
    if hit is not None:
        text = escape_text(text)  # JSON's own escape: the entry as the sender wrote it
        message += f"; it also holds {describe_surrogate(hit[1])}, a lone surrogate escape"
    return PayloadProblem.from_bytes("payload.malformed", message, text.encode("utf-8"))


def read_json_document(
    path_or_bytes: str | Path | bytes,
    *,
    limits: ParseLimits | None = None,
    source: str | None = None,
) -> Any:
    """One whole JSON document, parsed safely (for a page's rows and its next-page link)."""
    limits = limits or ParseLimits()
    if isinstance(path_or_bytes, bytes):
        file = source or "payload"
        data = path_or_bytes
    else:
        file = source or str(path_or_bytes)
        size = os.stat(path_or_bytes).st_size
        if size > limits.max_file_bytes:
            raise UnsafeInput(
                file, f"payload is {size} bytes, over the limit of {limits.max_file_bytes} bytes"
            )
        data = Path(path_or_bytes).read_bytes()
    if len(data) > limits.max_file_bytes:
        raise UnsafeInput(
            file, f"payload is {len(data)} bytes, over the limit of {limits.max_file_bytes} bytes"
        )
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UnreadableInput(
            file, "json.malformed", "not valid UTF-8 (JSON is UTF-8)", line
        ) from None
    try:
        document = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise UnreadableInput(
            file, "json.malformed", f"not valid JSON: {exc.msg} at column {exc.colno}", exc.lineno
        ) from None
    except (ValueError, RecursionError) as exc:
        what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise UnreadableInput(file, "json.malformed", f"not valid JSON: {what}") from None
    check_nesting(document, limits, file, None, depth=1)
    return document


def records_at(document: Any, records_path: str, file: str) -> list[Any]:
    """The array at a dotted path of a document; UnreadableInput if it is not there."""
    value = document
    walked: list[str] = []
    for part in [p for p in records_path.split(".") if p] if records_path else []:
        if not isinstance(value, dict) or part not in value:
            at = ".".join(walked) or "the top level"
            raise UnreadableInput(
                file,
                "json.malformed",
                f"no {part!r} in {at} (records_path {records_path!r})",
            )
        value = value[part]
        walked.append(part)
    if value is None:
        return []  # an API's way of saying "no rows on this page"
    if not isinstance(value, list):
        at = records_path or "the document"
        raise UnreadableInput(
            file, "json.malformed", f"{at} is {_json_type(value)}, expected an array of rows"
        )
    return value


def _lines(fh: IO[bytes], file: str, limits: ParseLimits) -> Iterator[JsonRow]:
    total = 0
    index = 0
    line_no = 0
    limit = limits.max_record_bytes
    while True:
        raw = fh.readline(limit + 1)
        if not raw:
            return
        line_no += 1
        total += len(raw)
        if total > limits.max_file_bytes:
            raise UnsafeInput(
                file, f"payload grew over the limit of {limits.max_file_bytes} bytes", line_no
            )
        if len(raw) > limit:
            raise UnsafeInput(file, f"line longer than {limit} bytes", line_no)
        if line_no == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if not raw.strip():
            continue
        index += 1
        if index > limits.max_records:
            raise UnsafeInput(file, f"more than {limits.max_records} records in one payload")
        location = SourceLocation(file, index, line_no)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield (
                PayloadProblem.from_bytes(
                    "mapping.encoding",
                    f"{file}, line {line_no}: not valid UTF-8 (byte {exc.start + 1} of the "
                    "line); JSON Lines are UTF-8",
                    raw,
                ),
                location,
            )
            continue
        try:
            obj = _DECODER.decode(text)
        except (ValueError, RecursionError) as exc:
            yield (
                PayloadProblem.from_bytes(
                    "payload.malformed",
                    f"{file}, line {line_no}: not a valid JSON object: {_error_text(exc)}",
                    raw,
                ),
                location,
            )
            continue
        if not isinstance(obj, dict):
            yield (
                PayloadProblem.from_bytes(
                    "payload.malformed",
                    f"{file}, line {line_no}: {_json_type(obj)}, not a JSON object",
                    raw,
                ),
                location,
            )
            continue
        check_nesting(obj, limits, file, line_no)
        if _SURROGATE_ESCAPE.search(text) is not None:
            found = _surrogate_message(f"{file}, line {line_no}", obj)
            if found is not None:
                message, field = found
                yield (
                    PayloadProblem.from_bytes("mapping.encoding", message, raw, field=field),
                    location,
                )
                continue
        yield obj, location


def check_nesting(
    value: Any, limits: ParseLimits, file: str, line: int | None, depth: int = 2
) -> None:
    """The XML depth and text limits, applied to JSON (a row object is level 2)."""
    stack: list[tuple[Any, int]] = [(value, depth)]
    chars_unchecked = limits.max_text_bytes // 4
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            if level > limits.max_depth:
                raise UnsafeInput(
                    file, f"values nested deeper than {limits.max_depth} levels", line
                )
            children = item.values() if isinstance(item, dict) else item
            stack.extend(
                (child, level + 1)
                for child in children
                if isinstance(child, dict | list)
                or (isinstance(child, str) and len(child) > chars_unchecked)
            )
        elif len(item.encode("utf-8")) > limits.max_text_bytes:
            raise UnsafeInput(
                file, f"a text value is over the limit of {limits.max_text_bytes} bytes", line
            )


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def _json_type(value: Any) -> str:
    """The JSON type of a value with its article (messages read "is an array")."""
    return ("an " if isinstance(value, list | dict) else "a ") + _type_name(value)


def _type_name(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return "object"
