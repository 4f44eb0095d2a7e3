"""The mapping file as data: pydantic models of its YAML, and a loader that keeps codes as text.

A mapping file is written by a department engineer and reviewed by the data bureau, so
two YAML habits that silently change data are switched off here:

- plain scalars are never turned into numbers, booleans or dates: ``01`` stays the
  department code ``"01"`` (YAML 1.1 would read it as the integer 1) and ``no`` stays
  ``"no"``. Only ``null``/``~``/empty mean no value. The record model converts text to
  numbers where the standard field is a number.
- a key given twice in one mapping is an error, not "the last one wins".

Field entries are checked entry by entry (:func:`parse_entry`) rather than as one big
union, so an error names the entry and the option that is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from standards.safe_yaml import StrictSafeLoader

Problems = list[tuple[str, str]]

ValueType = Literal["int", "str", "bool", "decimal"]
ENCODINGS = ("utf-8", "gbk", "gb18030")
_ENCODING_ALIASES = {
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",  # a BOM is honoured whatever is declared
    "utf-8": "utf-8",
    "gbk": "gbk",
    "gb18030": "gb18030",
    "cp936": "gbk",
    "gb2312": "gbk",
}


def encoding_name(value: str) -> str:
    """The canonical name of a supported payload encoding; ValueError naming the choices.

    Shared by a mapping's ``encoding`` and a drop stream's, so a typo is found when the
    configuration loads rather than by the first file read.
    """
    name = _ENCODING_ALIASES.get(value.strip().lower())
    if name is None:
        raise ValueError(f"encoding {value!r} is not supported; use one of {', '.join(ENCODINGS)}")
    return name


def _formats(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class FieldSpec(BaseModel):
    """One standard field from one source value (or a constant)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    from_: str | None = Field(default=None, alias="from", min_length=1)
    const: Any = None
    default: Any = None
    transforms: list[str] = Field(default_factory=list)
    code_table: str | None = Field(default=None, min_length=1)
    date: list[str] | None = Field(default=None, min_length=1)
    datetime: list[str] | None = Field(default=None, min_length=1)
    type: ValueType | None = None
    split: str | None = Field(default=None, min_length=1)

    _normalise_formats = field_validator("date", "datetime", mode="before")(_formats)

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = self.model_fields_set
        if self.from_ is None and "const" not in given:
            raise ValueError("give 'from' (a source column) or 'const' (a fixed value)")
        if self.from_ is not None and "const" in given:
            raise ValueError("'from' and 'const' exclude each other")
        if self.date is not None and self.datetime is not None:
            raise ValueError("'date' and 'datetime' exclude each other")
        if self.code_table is not None and (self.date is not None or self.datetime is not None):
            raise ValueError("'code_table' cannot be combined with 'date' or 'datetime'")
        if self.type is not None and (self.date is not None or self.datetime is not None):
            raise ValueError("'type' cannot be combined with 'date' or 'datetime'")
        if self.split is not None and (
            self.code_table or self.type or self.date is not None or self.datetime is not None
        ):
            raise ValueError("'split' cannot be combined with code_table, type, date or datetime")
        return self

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set

    @property
    def is_const(self) -> bool:
        return self.from_ is None


class RowsSpec(BaseModel):
    """A list field built from child rows: one entry per row under ``rows``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: str = Field(min_length=1)
    fields: dict[str, Any] | None = None
    value: Any = None

    @model_validator(mode="after")
    def _fields_or_value(self) -> RowsSpec:
        if (self.fields is None) == (self.value is None):
            raise ValueError(
                "give 'fields' (entries with several fields) or 'value' (a list of plain values)"
            )
        return self


class ColumnsSpec(BaseModel):
    """A list field built from columns of the same row, one entry per item listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_columns: list[dict[str, Any]] = Field(min_length=1)


class MappingSpec(BaseModel):
    """The top level of a mapping file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["case", "item", "material", "license"]
    description: str | None = None
    timezone: str = "+08:00"
    encoding: str = "utf-8"
    code_tables: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    fields: dict[str, Any] = Field(min_length=1)

    @field_validator("encoding", mode="before")
    @classmethod
    def _encoding(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return encoding_name(value)

    @field_validator("code_tables", mode="before")
    @classmethod
    def _codes_as_text(cls, value: Any) -> Any:
        """Tables built in Python may use numbers; a code is text either way."""
        if not isinstance(value, Mapping):
            return value
        return {
            name: {_text(k): _text(v) for k, v in table.items()}
            if isinstance(table, Mapping)
            else table
            for name, table in value.items()
        }


def _text(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    return value


def errors_of(exc: ValidationError, path: str) -> Problems:
    """pydantic errors as (path, message) pairs under ``path``."""
    out: Problems = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) if p != "from_" else "from" for p in err["loc"])
        where = ".".join(p for p in (path, loc) if p)
        message = err["msg"].removeprefix("Value error, ")
        out.append((where, message))
    return out


def parse_entry(
    raw: Any, path: str, problems: Problems
) -> FieldSpec | RowsSpec | ColumnsSpec | None:
    """One entry of ``fields``: a mapping of options, or a plain value meaning ``const``."""
    if not isinstance(raw, Mapping):
        if isinstance(raw, list):
            problems.append((path, "expected a mapping of options or a constant, got a list"))
            return None
        return FieldSpec(const=raw)
    model: type[FieldSpec] | type[RowsSpec] | type[ColumnsSpec]
    if "rows" in raw:
        model = RowsSpec
    elif "from_columns" in raw:
        model = ColumnsSpec
    else:
        model = FieldSpec
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        problems.extend(errors_of(exc, path))
        return None


class _MappingLoader(StrictSafeLoader):
    """The configuration loader (no aliases, bounded nesting) keeping scalars as text
    (except null) and collecting duplicate keys, reported with every other problem."""

    duplicates: list[tuple[int, str]]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                self.duplicates.append((key_node.start_mark.line + 1, str(key)))
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(self, node, deep=deep)


_MappingLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str, name: str | None = None) -> tuple[Any, list[tuple[int, str]]]:
    """The document, and the (line, key) of every key given twice."""
    loader = _MappingLoader(text, name)
    loader.duplicates = []
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()
