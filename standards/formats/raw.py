"""Records as read from a file, before validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from standards.records import SourceLocation
from standards.validation import Finding


@dataclass(slots=True)
class RawRecord:
    """One record as parsed: plain Python values, not yet checked against the model.

    ``problems`` holds what the reader found wrong with this one record while the rest of
    the file stays readable (a malformed JSON line, an unexpected element between records,
    a list entry with the wrong element name). :func:`~standards.formats.to_record` reports
    them with the validation findings, so a consumer that only calls ``to_record`` still
    quarantines the record instead of losing it.

    ``chars_checked`` says the reader has already refused text XML cannot carry (the XML
    parser does; the JSON Lines reader looks at its line), so
    :func:`~standards.validation.record_checks.check_record` need not walk the record
    again: that walk costs more than the reader's look at text it already holds.
    """

    kind: str
    location: SourceLocation
    data: dict[str, Any]
    problems: tuple[Finding, ...] = ()
    chars_checked: bool = False
