"""Limits every exchange-file reader enforces, so hostile input cannot exhaust the hub."""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class ParseLimits:
    """Upper bounds for one file; exceeding any of them refuses the file (``UnsafeInput``).

    ``max_record_bytes`` bounds the bytes one record (or one JSON line) may span. It is what
    keeps memory flat: a reader holds at most one record, so without it a single element
    (or a line with no newline) as big as the file would be held whole.
    """

    max_file_bytes: int = 2 * GiB
    max_depth: int = 16
    max_records: int = 5_000_000
    max_text_bytes: int = 1 * MiB
    max_record_bytes: int = 32 * MiB
