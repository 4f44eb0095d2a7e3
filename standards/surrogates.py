"""Lone surrogates: text Python holds but no UTF-8 store can keep.

JSON may escape half of a UTF-16 pair on its own (``"\\udcb0"``), and ``json.loads``
accepts it; a file name that is not UTF-8 comes out of the file system with its bytes as
surrogates (``surrogateescape``). Such a string cannot be encoded as UTF-8, so the
database, the encryption of a quarantined payload and its keyed hash all fail on it — a
whole batch lost over one value. The hub finds them where rows come in (naming the
field) and stores what it must keep with each one escaped as the six characters
``\\udcb0``, readable and still telling which code unit was there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (a pair in JSON decodes to one character,
    so any surrogate left in a Python string is a lone one)."""
    return not text.isascii() and SURROGATE.search(text) is not None


def escape_text(text: str) -> str:
    """``text`` with each lone surrogate written as ``\\udcb0`` (six characters)."""
    return SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def escape_surrogates(value: Any, renamed: list[tuple[str, str]] | None = None) -> Any:
    """A copy of plain data (dicts, lists, strings) with every lone surrogate escaped, in
    keys and values; other values are returned as they are.

    A key whose escaped form is another key of the same mapping (``"\udcb0"`` beside a
    key written ``"\\udcb0"``) would overwrite that key's value; it is stored as
    ``\udcb0 (lone surrogate)`` instead, so both values are kept. Each such renaming is
    appended to ``renamed`` as ``(field path, stored key)`` for the finding to say so.
    """
    return _escaped(value, "", renamed if renamed is not None else [])


def _escaped(value: Any, path: str, renamed: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        return escape_text(value) if has_surrogate(value) else value
    if isinstance(value, Mapping):
        taken = {k for k in value if not (isinstance(k, str) and has_surrogate(k))}
        out: dict[Any, Any] = {}
        for key, child in value.items():
            name = key
            if isinstance(key, str) and has_surrogate(key):
                name = _free_key(escape_text(key), taken)
                if name != escape_text(key):
                    renamed.append((_joined(path, escape_text(key)), name))
                taken.add(name)
            out[name] = _escaped(child, _joined(path, str(name)), renamed)
        return out
    if isinstance(value, list | tuple):
        return [_escaped(v, _joined(path, str(i)), renamed) for i, v in enumerate(value)]
    return value


def _free_key(escaped: str, taken: set[Any]) -> str:
    """``escaped``, or when the mapping already has that key, a marked name it has not."""
    if escaped not in taken:
        return escaped
    name, n = f"{escaped} (lone surrogate)", 2
    while name in taken:
        name, n = f"{escaped} (lone surrogate {n})", n + 1
    return name


def _joined(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def first_surrogate(value: Any, path: str = "") -> tuple[str, str] | None:
    """``(field path, surrogate)`` of the first lone surrogate in ``value``, or None.

    The path is dotted with 0-based list positions (``events.2.note``), as findings name
    fields; a surrogate in a key names the key's place with the surrogate escaped.
    """
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, str):
            hit = SURROGATE.search(current)
            if hit is not None:
                return where or "(the value)", hit.group()
        elif isinstance(current, Mapping):
            children: list[tuple[Any, str]] = []
            for key, child in current.items():
                name = str(key)
                child_path = f"{where}.{name}" if where else name
                if isinstance(key, str) and has_surrogate(key):
                    return escape_text(child_path), SURROGATE.search(key).group()  # type: ignore[union-attr]
                children.append((child, child_path))
            stack.extend(reversed(children))
        elif isinstance(current, list | tuple):
            stack.extend(
                (child, f"{where}.{i}" if where else str(i))
                for i, child in reversed(list(enumerate(current)))
            )
    return None


def describe_surrogate(char: str) -> str:
    """``U+DCB0`` for a surrogate, as an engineer looks it up (and as XML char findings say)."""
    return f"U+{ord(char):04X}"


__all__ = [
    "SURROGATE",
    "describe_surrogate",
    "escape_surrogates",
    "escape_text",
    "first_surrogate",
    "has_surrogate",
]
