"""Checks across the records of one batch: natural keys and serials must be unique.

An item's key is its 实施编码: the same code twice in one delivery, with different
content, leaves it to the order of the records which one the library keeps (and stores
the other as a version valid for no time at all), so the later one is refused instead.
"""

from __future__ import annotations

from standards.records import Case, Item, License, Material, SourceLocation, StandardRecord
from standards.validation.findings import Finding

# rule -> (field, what the key is), for the messages.
_KEY_RULES: dict[str, tuple[str, str]] = {
    "case.key.duplicate": ("dept_case_no", "source system and case number"),
    "case.serial.duplicate": ("serial", "unified serial"),
    "material.key.duplicate": ("material_id", "material id"),
    "license.key.duplicate": ("identifier", "license identifier"),
    "item.key.duplicate": ("impl_code", "implementation code"),
}

UniqueKey = tuple[str, str]  # (rule, key text)


def unique_keys(record: StandardRecord) -> tuple[UniqueKey, ...]:
    """The keys of ``record`` that must be unique in a batch, as plain strings.

    Plain strings keep millions of remembered keys cheap, and let a worker process that
    checked the record hand its keys back to the process that tracks the batch.
    """
    if isinstance(record, Case):
        keys: tuple[UniqueKey, ...] = (
            ("case.key.duplicate", f"{record.source_system}\x1f{record.dept_case_no}"),
        )
        if record.serial is not None:
            keys += (("case.serial.duplicate", record.serial),)
        return keys
    if isinstance(record, Material):
        return (("material.key.duplicate", record.material_id),)
    if isinstance(record, License):
        return (("license.key.duplicate", record.identifier),)
    if isinstance(record, Item):
        return (("item.key.duplicate", record.impl_code),)
    return ()


class BatchUniqueness:
    """Remembers keys seen so far and reports a record that repeats one.

    The first occurrence is kept as the valid one; later ones are the findings, naming
    where the first was seen so an engineer can compare the two.
    """

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, SourceLocation]] = {rule: {} for rule in _KEY_RULES}

    def check_keys(self, keys: tuple[UniqueKey, ...], where: SourceLocation) -> list[Finding]:
        """Findings for keys already seen in this batch; remembers the new ones."""
        found: list[Finding] = []
        for rule, key in keys:
            first = self._seen[rule].setdefault(key, where)
            if first is not where:
                field, what = _KEY_RULES[rule]
                found.append(Finding(rule, f"{what} already used by record {first}", field))
        return found

    def forget_file(self, file: str) -> None:
        """Forget the keys records of ``file`` brought: the file was rolled back, so a
        later record with one of them is not a duplicate of anything stored."""
        for seen in self._seen.values():
            for key in [k for k, where in seen.items() if where.file == file]:
                del seen[key]

    def check(self, record: StandardRecord, where: SourceLocation) -> list[Finding]:
        """Findings for keys of ``record`` already seen in this batch."""
        return self.check_keys(unique_keys(record), where)
