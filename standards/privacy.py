"""Masking of personal identifiers for anything a person or a log will read."""

from __future__ import annotations

import re

_KEEP_HEAD = 4
_KEEP_TAIL = 4

# 18-digit (last may be X) and 15-digit citizen ID numbers, not embedded in longer digit runs.
CITIZEN_ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")


def mask_id(value: str | None) -> str:
    """Mask an identifier as ``4403**********1234``: the region prefix and last 4 stay.

    Short values are fully starred: too little is left to hide anything otherwise.
    """
    if not value:
        return ""
    if len(value) <= _KEEP_HEAD + _KEEP_TAIL:
        return "*" * len(value)
    return value[:_KEEP_HEAD] + "*" * (len(value) - _KEEP_HEAD - _KEEP_TAIL) + value[-_KEEP_TAIL:]


def mask_text(text: str) -> str:
    """Mask every citizen ID number that appears inside free text (log lines, messages)."""
    return CITIZEN_ID_PATTERN.sub(lambda m: mask_id(m.group(0)), text)
