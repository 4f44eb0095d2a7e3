"""What a payload reader yields instead of a row it could not read, and its file-level error.

A reader never skips a bad row silently: it yields a :class:`PayloadProblem` in the row's
place, with the row's location. The adapter turns it into an :class:`Envelope` with no
record (``problem.envelope(stream, location)``), so the hub quarantines it with the bytes
as they arrived — exact (base64) and readable (undecodable bytes shown as ``\\xNN``).
Messages name the file, line and column but never quote the content: a row that cannot be
read may still hold a personal ID number.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from adapters.sdk.envelope import Envelope
from standards.formats.errors import UnreadableInput
from standards.privacy import mask_text
from standards.records import SourceLocation
from standards.validation import Finding

RAW_TEXT = "_raw_text"
RAW_BYTES = "_raw_bytes_base64"
RAW_PROBLEM = "_payload_problem"


@dataclass(frozen=True, slots=True)
class PayloadProblem:
    """One row (CSV record, JSON line, array entry) that could not be read.

    ``rule`` is ``payload.malformed`` (wrong shape) or ``mapping.encoding`` (bytes not in
    the declared encoding); ``raw`` is what :attr:`Envelope.raw` keeps for quarantine.
    """

    rule: str
    message: str
    raw: dict[str, Any] = field(default_factory=dict)
    field: str | None = None

    @classmethod
    def from_bytes(
        cls,
        rule: str,
        message: str,
        data: bytes,
        encoding: str = "utf-8",
        extra: dict[str, Any] | None = None,
        field: str | None = None,
    ) -> PayloadProblem:
        """A problem keeping ``data`` exactly (base64) and readably (bad bytes as ``\\xNN``)."""
        raw: dict[str, Any] = {
            RAW_PROBLEM: rule,
            RAW_TEXT: data.decode(encoding, "backslashreplace"),
            RAW_BYTES: base64.b64encode(data).decode("ascii"),
        }
        if extra:
            raw.update(extra)
        return cls(rule, mask_text(message), raw, field)

    def finding(self) -> Finding:
        return Finding(self.rule, self.message, self.field)

    def envelope(self, stream: str, location: SourceLocation) -> Envelope:
        """The envelope a source yields for this row: no record, one finding, raw kept."""
        return Envelope(stream, location, dict(self.raw), None, [self.finding()])


class UnreadablePayload(UnreadableInput):
    """A whole payload the reader cannot use (no header row, not the declared encoding).

    A subclass of :class:`UnreadableInput` so callers handling the exchange formats'
    file-level errors handle these too; ``rule`` is one of the adapter payload rules.
    """

    def __init__(self, file: str, rule: str, message: str, line: int | None = None) -> None:
        if rule not in ("payload.malformed", "mapping.encoding"):
            raise ValueError(f"not a payload rule: {rule}")
        # UnreadableInput only admits the exchange formats' rules; skip its check.
        super(UnreadableInput, self).__init__(file, rule, mask_text(message), line)
