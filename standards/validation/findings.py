"""A finding: one rule one record broke, with where."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """``error`` rejects the record (quarantine); ``warning`` is reported but the record loads."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule. ``field`` is a dotted path into the record (``applicant.id_number``)."""

    rule: str
    message: str
    field: str | None = None
    severity: Severity = Severity.ERROR

    def as_dict(self) -> dict[str, str | None]:
        return {
            "rule": self.rule,
            "field": self.field,
            "message": self.message,
            "severity": self.severity.value,
        }
