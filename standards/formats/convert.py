"""Validation of raw records into the standard models, with errors as findings."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from standards.formats.layout import PERSONAL_ID_FIELDS
from standards.formats.raw import RawRecord
from standards.privacy import mask_id, mask_text
from standards.records import RECORD_KINDS, StandardRecord
from standards.validation import Finding, Severity

_MAX_ECHO = 80
_RULE_OF_ERROR = {
    "missing": "schema.required",
    "enum": "schema.enum",
    "extra_forbidden": "schema.unknown_field",
}


def to_record(raw: RawRecord) -> tuple[StandardRecord | None, list[Finding]]:
    """Validate one raw record into its model; the record is None when any error remains.

    Field paths are dotted with 0-based list positions, as pydantic counts them
    (``events.2.state`` is the third event).
    """
    findings = list(raw.problems)
    model = RECORD_KINDS.get(raw.kind)
    if model is None:
        if not findings:
            findings.append(
                Finding(
                    "schema.enum",
                    f"unknown record kind {raw.kind!r}; expected one of "
                    f"{', '.join(sorted(RECORD_KINDS))}",
                    "kind",
                )
            )
        return None, findings
    if not raw.data and findings:
        return None, findings  # nothing was read for this record (a bad line, a stray element)
    try:
        record = model.model_validate(raw.data)
    except ValidationError as exc:
        findings.extend(_finding(error) for error in exc.errors(include_url=False))
        return None, findings
    if any(f.severity is Severity.ERROR for f in findings):
        return None, findings
    return record, findings


def _finding(error: ErrorDetails) -> Finding:
    loc = error["loc"]
    field = ".".join(str(part) for part in loc) or None
    rule = _RULE_OF_ERROR.get(error["type"], "schema.type")
    name = field or "record"
    if rule == "schema.required":
        return Finding(rule, f"{name}: required field is missing", field)
    if rule == "schema.unknown_field":
        return Finding(rule, f"{name}: field is not defined by the standard", field)
    value = _echo(error.get("input"), personal=any(part in PERSONAL_ID_FIELDS for part in loc))
    return Finding(rule, f"{name}: {error['msg']} (got {value})", field)


def _echo(value: Any, *, personal: bool) -> str:
    """The bad value as a message may show it: scalars only, shortened, IDs masked."""
    if isinstance(value, dict | list | tuple):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    if value is None:
        return "nothing"
    text = str(value)
    if personal:
        return repr(mask_id(text))
    if len(text) > _MAX_ECHO:
        text = text[:_MAX_ECHO] + "…"
    return repr(mask_text(text))
