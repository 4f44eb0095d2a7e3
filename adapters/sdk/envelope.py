"""What a source yields: one record, or the reasons it could not become one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from standards.records import SourceLocation, StandardRecord
from standards.validation import Finding, Severity


@dataclass(slots=True)
class Envelope:
    """One source row on its way to the hub.

    ``raw`` is the row as the department system gave it (kept for quarantine and replay);
    ``record`` is the standard record the mapping produced, or None when mapping failed,
    in which case ``findings`` say which field broke which rule. A source never drops a
    row it cannot map: it yields it with its findings and the hub quarantines it.
    """

    stream: str
    location: SourceLocation
    raw: dict[str, Any]
    record: StandardRecord | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.record is not None and not any(
            f.severity is Severity.ERROR for f in self.findings
        )
