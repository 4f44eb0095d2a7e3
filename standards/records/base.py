"""Common base for standard records."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a record came from, so every error and quarantine entry can point back to it."""

    file: str
    record: int  # 1-based index of the record within its file
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}#{self.record}"
        return f"{where} (line {self.line})" if self.line is not None else where


class StandardRecord(BaseModel):
    """A record in the standard form.

    ``kind`` names the record kind in exchange files and libraries; ``primary_key`` names
    the fields that identify one record, the natural key every upsert uses.
    """

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        use_enum_values=False,
        validate_default=False,
    )

    kind: ClassVar[str]
    primary_key: ClassVar[tuple[str, ...]]

    def key(self) -> tuple[Any, ...]:
        """The natural key of this record."""
        return tuple(getattr(self, name) for name in self.primary_key)

    def canonical_json(self) -> str:
        """A stable serialisation: equal content gives equal text, whatever the field order."""
        return json.dumps(
            self.model_dump(mode="json", exclude_none=True),
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        )

    def content_hash(self) -> str:
        """sha256 of the canonical JSON: change detection compares these, not fields."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()
