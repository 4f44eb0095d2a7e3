"""Text XML 1.0 cannot carry: control characters, U+FFFE/U+FFFF, lone surrogates.

Every record the hub stores is delivered again as XML (item sync, exports), and XML 1.0
has no way to write these characters, not even as a character reference. A value that
holds one must be refused where it comes in, naming the field, instead of being stored
and then breaking every later delivery that tries to write it. JSON can carry them
(``"\\u000b"``, ``"\\u0000"``), and so can a department's database or CSV file: a soft
line break pasted from Word is U+000B.

Two ways in, by cost: :func:`json_text_may_hold` looks at the text a JSON Lines reader
already has (substring searches, well under a microsecond for a typical line) and
:func:`xml_char_findings` walks a value only then; :func:`check_xml_chars` walks a
record whose source text was never seen (an adapter's mapped row, a merged item, a
replayed payload).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from standards.validation.findings import Finding

RULE = "schema.xml_char"

# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
# A lone surrogate is what Python keeps of an unpaired "\ud800" escape.
XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def json_text_may_hold(text: str) -> bool:
    """Whether decoded JSON text can hold a character XML cannot carry.

    Strict JSON refuses raw control characters inside strings, and UTF-8 decoding
    refuses raw surrogates, so such a character can only arrive as a backslash escape or
    as a raw U+FFFE/U+FFFF. Three substring searches run at memory speed; a regular
    expression over the line measured ten times slower. A hit is only a hint (an escaped
    quote is a backslash too): :func:`xml_char_findings` decides.
    """
    return "\\" in text or "\ufffe" in text or "\uffff" in text


def describe(char: str) -> str:
    """``U+000B`` for a character, as an engineer looks it up."""
    return f"U+{ord(char):04X}"


def _finding(path: str, text: str, first: re.Match[str], *, name: bool = False) -> Finding:
    count = len(XML_UNSAFE.findall(text))
    more = f" ({count} such characters)" if count > 1 else ""
    what = "a field name" if name else "the value"
    return Finding(
        RULE,
        f"{path or 'record'}: {what} holds {describe(first.group())} at position "
        f"{first.start() + 1}{more}, a character XML 1.0 cannot carry (control characters "
        "other than tab, line feed and carriage return, U+FFFE, U+FFFF, lone surrogates); "
        "remove it or replace it with a line break",
        path or None,
    )


def xml_char_findings(value: Any, path: str = "") -> list[Finding]:
    """One finding per string in ``value`` (plain data or a model) holding such a character.

    ``path`` is dotted with 0-based list positions, as pydantic names fields
    (``events.2.note``), so the finding points at the same field as a schema error would.
    """
    out: list[Finding] = []
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, str):
            hit = XML_UNSAFE.search(current)
            if hit is not None:
                out.append(_finding(where, current, hit))
            continue
        if isinstance(current, BaseModel):
            current = current.__dict__
        if isinstance(current, Mapping):
            for key, child in current.items():
                child_path = f"{where}.{key}" if where else str(key)
                if isinstance(key, str):
                    hit = XML_UNSAFE.search(key)
                    if hit is not None:
                        out.append(_finding(where, key, hit, name=True))
                        child_path = f"{where}.{XML_UNSAFE.sub('?', key)}" if where else "?"
                stack.append((child, child_path))
        elif isinstance(current, list | tuple):
            stack.extend(
                (child, f"{where}.{i}" if where else str(i)) for i, child in enumerate(current)
            )
    out.sort(key=lambda f: f.field or "")
    return out


def check_xml_chars(record: BaseModel) -> list[Finding]:
    """Findings for every field of ``record`` that XML cannot carry.

    The fast path is the common one: no string of the record holds such a character, and
    the walk keeps no paths. Only on a hit is the record walked again to name the fields.
    """
    stack: list[Any] = [record]
    search = XML_UNSAFE.search
    while stack:
        current = stack.pop()
        for child in current.__dict__.values():
            cls = child.__class__
            if cls is str:
                if search(child) is not None:
                    return xml_char_findings(record)
            elif cls is list:
                for entry in child:
                    if entry.__class__ is str:
                        if search(entry) is not None:
                            return xml_char_findings(record)
                    elif isinstance(entry, BaseModel):
                        stack.append(entry)
            elif isinstance(child, BaseModel):
                stack.append(child)
    return []
