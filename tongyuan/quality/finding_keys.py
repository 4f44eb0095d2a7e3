"""The record key of a sync finding: both values whole in SQL, cut in Python after masking.

A finding's key names the item, the element, both systems and both values
(``… location：440305=南山区… ≠ 4403…=…``). Values run long (legal bases), so each is cut
to :data:`FINDING_VALUE_CHARS` for display. Cutting in SQL happened before masking: an ID
starting near the cut kept its first 17 digits, which masking cannot recognise, and the
18th is a check digit anyone can compute, so the whole 公民身份号码 was published. The
query therefore returns each value whole between two private-use marks, and
:func:`shown_key` masks the whole key first, then cuts each marked value.
"""

from __future__ import annotations

import re

from standards.privacy import mask_text
from tongyuan.quality.sql import Dialect, quote

# Longest value text a finding's record key shows of each side (legal bases run long).
FINDING_VALUE_CHARS = 40
ELLIPSIS = "…"
# Around each value in a finding's key; removed from the values themselves, so that a
# value cannot end its own mark early.
VALUE_START = "\ue000"
VALUE_END = "\ue001"
_MARKED_VALUE = re.compile(f"{VALUE_START}([^{VALUE_START}{VALUE_END}]*){VALUE_END}")
_MARKS = re.compile(f"[{VALUE_START}{VALUE_END}]")


def finding_value(dialect: Dialect, column: str) -> str:
    """SQL: a finding's stored JSON value as whole text between the value marks (a scalar
    as itself, anything else as JSON, NULL as 空)."""
    if dialect.name == "sqlite":
        text = f"CAST(json_extract({column}, '$') AS TEXT)"
    else:
        text = f"(jsonb_build_array({column}) ->> 0)"
    unmarked = f"replace(replace({text}, {quote(VALUE_START)}, ''), {quote(VALUE_END)}, '')"
    return f"({quote(VALUE_START)} || COALESCE({unmarked}, '（空）') || {quote(VALUE_END)})"


def _cut(match: re.Match[str]) -> str:
    value = match.group(1)
    if len(value) <= FINDING_VALUE_CHARS:
        return value
    return value[:FINDING_VALUE_CHARS] + ELLIPSIS


def shown_key(key: str) -> str:
    """A failing record's key as stored and shown: personal IDs masked, then each marked
    finding value cut to :data:`FINDING_VALUE_CHARS` characters with an ellipsis.

    Masking first sees every ID whole; cutting the masked text afterwards only drops
    characters (an ID across the cut shows ``1101****…`` at most). Keys of the other
    populations carry no marks and are only masked.
    """
    masked = mask_text(key)
    return _MARKS.sub("", _MARKED_VALUE.sub(_cut, masked))
