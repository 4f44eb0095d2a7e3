"""Configuration every drop-folder source shares (the folder itself is the transport's)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from adapters.builtin.drop_folder import unsafe_name_reason
from adapters.mapping.spec import encoding_name
from adapters.sdk import AdapterConfig

DEFAULT_PATTERNS = ("*.xml", "*.jsonl", "*.ndjson")

Kind = Literal["case", "item", "material", "license"]


class DropStreamConfig(AdapterConfig):
    """One stream of a drop folder: which files belong to it and how to read them.

    Files already in the standard exchange format need only ``kind``; department files
    (CSV, foreign XML, JSON Lines) need a ``mapping`` (its ``kind`` is the stream's).
    """

    patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_PATTERNS), min_length=1)
    kind: Kind | None = None
    mapping: str | None = None
    format: Literal["auto", "xml", "jsonl", "csv"] = "auto"
    record_tag: str | None = None
    encoding: str | None = None

    @field_validator("patterns")
    @classmethod
    def _plain_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not pattern or "/" in pattern or "\\" in pattern or "\x00" in pattern:
                raise ValueError(f"a pattern matches names inside the folder only: {pattern!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        # Checked on load: a typo would otherwise surface only when a file is read.
        return None if value is None else encoding_name(value)

    @model_validator(mode="after")
    def _kind_or_mapping(self) -> DropStreamConfig:
        if self.kind is None and self.mapping is None:
            raise ValueError(
                "give kind (files in the standard format) or mapping (department files)"
            )
        return self


class DropConfig(AdapterConfig):
    """Settings every drop-folder source has (the folder itself is the transport's)."""

    streams: dict[str, DropStreamConfig] = Field(default_factory=dict)
    staging_dir: str | None = None
    manifest: Literal["optional", "required"] = "optional"
    acknowledge: Literal["move", "marker"] = "move"
    done_dir: str = "done"
    settle_seconds: float = Field(default=2.0, ge=0, le=3600)
    max_file_bytes: int = Field(default=2 * 1024**3, gt=0)

    @field_validator("done_dir")
    @classmethod
    def _plain_done_dir(cls, value: str) -> str:
        if unsafe_name_reason(value) is not None:
            raise ValueError(f"done_dir is a folder name inside the drop folder: {value!r}")
        return value
