"""SQL fragments that differ between SQLite and PostgreSQL, so suites stay dialect-free.

Every check in the quality suites is SQL the database executes; the few places where the
two dialects disagree (JSON access, character classes, string search) are spelled here
once. Literals that end up in SQL text (dates, region prefixes, code lists) are
validated or quoted here too: suites never paste untrusted text into a query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from standards.identifiers import USCC_ALPHABET
from tongyuan.libraries.base import HUB_TIMEZONE

_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_JSON_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote(value: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def in_list(values: Iterable[str]) -> str:
    """``('a', 'b', …)`` for an IN predicate; never empty (an empty list matches nothing)."""
    quoted = [quote(v) for v in values]
    return "(" + ", ".join(quoted or ["NULL"]) + ")"


def date_literal(day: date) -> str:
    """A date both dialects compare correctly with a DATE column (ISO text)."""
    return quote(day.isoformat())


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


@dataclass(frozen=True, slots=True)
class Dialect:
    """The SQL spelling of one database ("sqlite" or "postgresql")."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in ("sqlite", "postgresql"):
            raise ValueError(f"quality checks run on sqlite or postgresql, not {self.name!r}")

    def json_text(self, column: str, key: str) -> str:
        """One top-level JSON member as text (NULL when absent)."""
        if not _JSON_KEY.match(key):
            raise ValueError(f"not a plain JSON member name: {key!r}")
        if self.name == "sqlite":
            return f"CAST(json_extract({_ident(column)}, '$.{key}') AS TEXT)"
        return f"({_ident(column)} ->> '{key}')"

    def blank_to_null(self, expr: str) -> str:
        """NULL for missing, empty or whitespace-only text: "filled" means some content."""
        return f"NULLIF(TRIM(CAST({expr} AS TEXT)), '')"

    def has_non_digit(self, expr: str) -> str:
        """True when the text holds any character other than 0-9."""
        if self.name == "sqlite":
            return f"({expr} GLOB '*[^0-9]*')"
        return f"({expr} ~ '[^0-9]')"

    def has_char_outside(self, expr: str, chars: str) -> str:
        """True when the text holds a character not in ``chars`` (letters and digits only)."""
        if not chars.isalnum() or not chars.isascii():
            raise ValueError(f"character set must be ASCII letters and digits, got {chars!r}")
        if self.name == "sqlite":
            return f"({expr} GLOB '*[^{chars}]*')"
        return f"({expr} ~ '[^{chars}]')"

    def position(self, needle: str, haystack: str) -> str:
        """1-based position of ``needle`` in ``haystack``, 0 when absent."""
        if self.name == "sqlite":
            return f"instr({haystack}, {needle})"
        return f"strpos({haystack}, {needle})"

    def uscc_invalid(self, column: str) -> str:
        """GB 32100-2015 in SQL: wrong length, a character outside the set, or a wrong check.

        check = 31 − (Σ value·weight mod 31), 31 → 0; a character's value is its index in
        the 31-character set, found with instr/strpos, so the whole check runs in the
        database over any number of rows. Characters outside the set are found with one
        character-class match rather than a lookup per position.
        """
        col = _ident(column)
        alphabet = quote(USCC_ALPHABET)
        values = [
            f"({self.position(f'substr({col}, {i + 1}, 1)', alphabet)} - 1)" for i in range(17)
        ]
        terms = " + ".join(f"{v} * {w}" for v, w in zip(values, _USCC_WEIGHTS, strict=True))
        bad_char = self.has_char_outside(col, USCC_ALPHABET)
        check = f"substr({alphabet}, ((31 - (({terms}) % 31)) % 31) + 1, 1)"
        return f"(length({col}) <> 18 OR {bad_char} OR substr({col}, 18, 1) <> {check})"

    def local_day_of(self, column: str) -> str:
        """The hub-local (Beijing, UTC+8 all year) day of a stored UTC timestamp: the day
        a case's events and deadlines are judged by (``tongyuan.libraries.base.local_date``)."""
        if self.name == "sqlite":
            # Whole seconds only: SQLite rounds fractions to milliseconds, and would put
            # 23:59:59.9996 on the next day.
            return f"date(substr({_ident(column)}, 1, 19), '+8 hours')"
        return f"CAST(({_ident(column)} AT TIME ZONE 'Asia/Shanghai') AS DATE)"

    def happened_by(self, column: str, day: date) -> str:
        """``column`` (a stored UTC timestamp) is before the end of the hub-local ``day``.

        The same as ``local_day_of(column) <= day`` for every timestamp the hub stores, but
        compared with one literal instead of a date function per row: over a million
        cases and their events the function calls were most of the timeliness suite's
        time. On SQLite the hub stores ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC), which sorts
        as text; NULL is never by the day.
        """
        end = datetime.combine(day + timedelta(days=1), time(), HUB_TIMEZONE).astimezone(UTC)
        if self.name == "sqlite":
            return f"{_ident(column)} < {quote(end.strftime('%Y-%m-%d %H:%M:%S'))}"
        return f"{_ident(column)} < TIMESTAMPTZ {quote(end.strftime('%Y-%m-%d %H:%M:%S+00'))}"

    def day_of(self, column: str) -> str:
        """The date part of a stored timestamp (UTC on both backends)."""
        if self.name == "sqlite":
            return f"date(substr({_ident(column)}, 1, 19))"  # whole seconds, as above
        return f"CAST({_ident(column)} AS DATE)"
