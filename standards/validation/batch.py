"""Checks across the records of one batch: natural keys and serials must be unique."""

from __future__ import annotations

from standards.records import Case, License, Material, SourceLocation, StandardRecord
from standards.validation.findings import Finding


class BatchUniqueness:
    """Remembers keys seen so far and reports a record that repeats one.

    The first occurrence is kept as the valid one; later ones are the findings, naming
    where the first was seen so an engineer can compare the two.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, tuple[object, ...]], SourceLocation] = {}

    def _check(
        self, rule: str, field: str, key: tuple[object, ...], where: SourceLocation, what: str
    ) -> Finding | None:
        slot = (rule, key)
        first = self._seen.get(slot)
        if first is None:
            self._seen[slot] = where
            return None
        return Finding(rule, f"{what} already used by record {first}", field)

    def check(self, record: StandardRecord, where: SourceLocation) -> list[Finding]:
        """Findings for keys of ``record`` already seen in this batch."""
        found: list[Finding | None] = []
        if isinstance(record, Case):
            found.append(
                self._check(
                    "case.key.duplicate",
                    "dept_case_no",
                    record.key(),
                    where,
                    "source system and case number",
                )
            )
            if record.serial is not None:
                found.append(
                    self._check(
                        "case.serial.duplicate", "serial", (record.serial,), where, "unified serial"
                    )
                )
        elif isinstance(record, Material):
            found.append(
                self._check(
                    "material.key.duplicate", "material_id", record.key(), where, "material id"
                )
            )
        elif isinstance(record, License):
            found.append(
                self._check(
                    "license.key.duplicate", "identifier", record.key(), where, "license identifier"
                )
            )
        return [f for f in found if f is not None]
