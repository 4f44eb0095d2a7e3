"""Checking exchange files against the standard, file by file, record by record.

Used by ``tongyuan validate`` and by the loaders, so a file is judged the same way
whether an engineer checks it by hand or the hub ingests it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from standards.formats import (
    ParseLimits,
    RawRecord,
    UnreadableInput,
    UnsafeInput,
    iter_raw_records,
    to_record,
)
from standards.records import SourceLocation, StandardRecord
from standards.validation import CheckOptions, Finding, Severity
from standards.validation.batch import BatchUniqueness
from standards.validation.record_checks import check_record

RECORD_SUFFIXES = (".xml", ".jsonl", ".ndjson")


@dataclass(frozen=True, slots=True)
class RecordError:
    """One problem: where (file, record, line, field), which rule, what."""

    file: str
    record: int | None
    line: int | None
    rule: str
    field: str | None
    message: str
    severity: str = Severity.ERROR.value

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "record": self.record,
            "line": self.line,
            "rule": self.rule,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
        }


@dataclass(slots=True)
class CheckedRecord:
    """A record after every check: ``record`` is None when it did not even parse."""

    raw: RawRecord
    record: StandardRecord | None
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return self.record is not None and not any(
            f.severity is Severity.ERROR for f in self.findings
        )


@dataclass(slots=True)
class ValidationReport:
    """Everything ``validate`` found in a set of files."""

    files: int = 0
    records: int = 0
    invalid_records: int = 0
    unreadable_files: int = 0
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordError] = field(default_factory=list)
    by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        """0 all valid, 1 invalid records, 2 a file unreadable or unsafe."""
        if self.unreadable_files:
            return 2
        return 1 if self.errors else 0

    def rule_counts(self) -> Counter[str]:
        return Counter(e.rule for e in self.errors)

    def as_dict(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "files": self.files,
            "records": self.records,
            "invalid_records": self.invalid_records,
            "unreadable_files": self.unreadable_files,
            "records_by_kind": dict(self.by_kind),
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
        }


def discover_files(paths: Iterable[Path]) -> list[Path]:
    """Record files under the given paths, in a stable order.

    Folders are searched recursively for exchange files; symlinks are not followed, so a
    drop folder cannot point the validator elsewhere. Named files are taken as given.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.suffix.lower() in RECORD_SUFFIXES and p.is_file() and not p.is_symlink()
            )
        else:
            found.append(path)
    return found


def check_file(
    path: Path,
    *,
    options: CheckOptions,
    uniqueness: BatchUniqueness,
    limits: ParseLimits | None = None,
    file_label: str | None = None,
) -> Iterator[CheckedRecord]:
    """Parse and check one file. File-level problems raise UnsafeInput / UnreadableInput.

    Material manifests are checked against files in the manifest's own folder.
    """
    base_dir = path.parent
    for raw in iter_raw_records(path, limits=limits or ParseLimits()):
        if file_label is not None:
            raw.location = SourceLocation(file_label, raw.location.record, raw.location.line)
        record, findings = to_record(raw)
        if record is not None:
            findings = findings + check_record(record, options, base_dir=base_dir)
            findings += uniqueness.check(record, raw.location)
        yield CheckedRecord(raw, record, findings)


def validate_paths(
    paths: Iterable[Path],
    *,
    options: CheckOptions | None = None,
    limits: ParseLimits | None = None,
    relative_to: Path | None = None,
    on_file: Callable[[Path, int], None] | None = None,
) -> ValidationReport:
    """Check every record file under ``paths``; one bad file or record never stops the rest."""
    options = options or CheckOptions()
    report = ValidationReport()
    uniqueness = BatchUniqueness()
    for path in discover_files(paths):
        name = display_name(path, relative_to)
        report.files += 1
        count = 0
        try:
            for checked in check_file(
                path, options=options, uniqueness=uniqueness, limits=limits, file_label=name
            ):
                count += 1
                report.records += 1
                report.by_kind[checked.raw.kind] += 1
                loc = checked.raw.location
                if not checked.ok:
                    report.invalid_records += 1
                for f in checked.findings:
                    err = RecordError(
                        name, loc.record, loc.line, f.rule, f.field, f.message, f.severity.value
                    )
                    (report.errors if f.severity is Severity.ERROR else report.warnings).append(err)
        except (UnsafeInput, UnreadableInput) as exc:
            report.unreadable_files += 1
            report.errors.append(
                RecordError(name, None, getattr(exc, "line", None), exc.rule, None, exc.message)
            )
        except OSError as exc:
            report.unreadable_files += 1
            report.errors.append(
                RecordError(
                    name, None, None, "xml.malformed", None, f"cannot read file: {exc.strerror}"
                )
            )
        if on_file is not None:
            on_file(path, count)
    return report


def display_name(path: Path, relative_to: Path | None) -> str:
    """The name reports use for a file: relative to the dataset root when possible."""
    if relative_to is not None:
        try:
            return path.resolve().relative_to(relative_to.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)
