"""The mapping engine: a department row in, a standard record (or findings) out.

``Mapping.load`` checks the whole file against the record model of its kind before any
row is read, and reports every problem at once with its path. It then compiles the file
into small closures — one per field, holding its column name, transforms and converter —
and those into one generated function (:mod:`adapters.mapping.codegen`) that ``map``
calls per row: it runs once per row on streams of millions. The closures stay the
reference (``build(row, reference=True)``); tests hold the two equal.

``map`` never raises for bad data. A value that cannot be mapped becomes a finding
(``mapping.missing`` / ``mapping.date`` / ``mapping.code`` / ``mapping.type``) whose
``field`` is the standard field path and whose message names the source column; when
every field mapped, the record is validated by the model's own validator, and a record
that fails goes through :func:`standards.formats.to_record`, so model errors read (and
are masked) exactly as for exchange files, with the source column added.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
import types
import typing
import weakref
from collections.abc import Callable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from adapters.mapping import dates
from adapters.mapping.codegen import compile_build
from adapters.mapping.spec import (
    ColumnsSpec,
    FieldSpec,
    MappingSpec,
    Problems,
    RowsSpec,
    errors_of,
    load_yaml,
    parse_entry,
)
from adapters.mapping.transforms import TRANSFORMS, chain
from adapters.sdk.errors import ConfigError
from standards.formats.convert import to_record
from standards.formats.layout import PERSONAL_ID_FIELDS
from standards.formats.raw import RawRecord
from standards.privacy import mask_id, mask_text
from standards.records import RECORD_KINDS, SourceLocation, StandardRecord
from standards.safe_yaml import MAX_BYTES, problem_and_line
from standards.validation import Finding

_MAX_ECHO = 60
_ABSENT = object()
_DEFAULT = object()
_INDEX = re.compile(r"\.\d+(?=\.|$)")
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on", "是", "真"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off", "否", "假"})


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """Child rows a source row must carry under ``name`` for a list field.

    ``target`` is the standard list field they build (``events``); ``columns`` are the
    child-row columns the mapping reads, so a SQL adapter knows what to select.
    """

    name: str
    target: str
    columns: frozenset[str]


class _Failure(Exception):
    """Raised by a compiled field; caught by its group and turned into a finding."""

    __slots__ = ("rule", "text")

    def __init__(self, rule: str, text: str) -> None:
        self.rule = rule
        self.text = text


Getter = Callable[[AbcMapping[str, Any]], Any]
Builder = Callable[[AbcMapping[str, Any], list[Finding], str, str], Any]


# What each compiled closure does, as data, for :mod:`adapters.mapping.codegen` to turn
# into straight-line code. A closure without a plan is called as it is by the generated
# code, so every path keeps the closures' behaviour (they are the reference).


@dataclass(frozen=True, slots=True)
class GetterPlan:
    column: str
    transforms: tuple[Callable[[Any], Any], ...]
    convert: Callable[[Any], Any] | None
    as_text: bool  # convert is _as_text: applied before the transforms (see _getter)
    default: Any


@dataclass(frozen=True, slots=True)
class DatetimePlan:
    zone: tzinfo  # naive values get this zone


@dataclass(frozen=True, slots=True)
class CodePlan:
    table: dict[str, str | None]


@dataclass(frozen=True, slots=True)
class ConstPlan:
    value: Any


@dataclass(frozen=True, slots=True)
class GroupPlan:
    scalars: tuple[tuple[str, Getter, str], ...]
    composites: tuple[tuple[str, Builder], ...]


@dataclass(frozen=True, slots=True)
class NestedPlan:
    head: str
    builder: Builder


@dataclass(frozen=True, slots=True)
class RowsPlan:
    rows: str
    leaf: str
    item: Builder | None  # the group builder of one row; None for a list of plain values


PLANS: weakref.WeakKeyDictionary[Callable[..., Any], Any] = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------- model introspection


@dataclass(frozen=True, slots=True)
class _Target:
    """What a standard field holds: a scalar type, a nested model, or a list of either."""

    scalar: Any = None  # the type of a scalar field (or of a list's items)
    model: type[BaseModel] | None = None
    is_list: bool = False
    required: bool = False


def _describe(model: type[BaseModel], name: str) -> _Target | None:
    info = model.model_fields.get(name)
    if info is None:
        return None
    annotation = info.annotation
    annotation = _strip_optional(annotation)
    is_list = False
    if typing.get_origin(annotation) is list:
        is_list = True
        (annotation,) = typing.get_args(annotation) or (Any,)
        annotation = _strip_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _Target(model=annotation, is_list=is_list, required=info.is_required())
    return _Target(scalar=annotation, is_list=is_list, required=info.is_required())


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _unknown(model: type[BaseModel], name: str) -> str:
    known = list(model.model_fields)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{name!r} is not a field of {model.__name__}{hint} (fields: {', '.join(known)})"


def _is_str_like(scalar: Any) -> bool:
    return scalar is str or (isinstance(scalar, type) and issubclass(scalar, str))


# ---------------------------------------------------------------- messages


def _echo(value: Any, personal: bool) -> str:
    """A source value as a message may show it: shortened, personal IDs masked."""
    if value is None:
        return "nothing"
    if isinstance(value, AbcMapping | list | tuple):
        return "a mapping" if isinstance(value, AbcMapping) else "a list"
    text = str(value)
    if personal:
        return repr(mask_id(text))
    if len(text) > _MAX_ECHO:
        text = text[:_MAX_ECHO] + "…"
    return repr(mask_text(text))


# ---------------------------------------------------------------- compiling one field


class _Compiler:
    """Turns a checked :class:`MappingSpec` into closures, collecting every problem."""

    def __init__(self, spec: MappingSpec, problems: Problems) -> None:
        self.spec = spec
        self.problems = problems
        self.zone: tzinfo = dates.parse_timezone("+08:00")
        try:
            self.zone = dates.parse_timezone(spec.timezone)
        except ValueError as exc:
            problems.append(("timezone", str(exc)))
        self.columns: set[str] = set()
        self.children: dict[str, ChildSpec] = {}
        # standard field path without list positions -> where its value comes from
        self.sources: dict[str, str] = {}
        # from_columns list path -> (the entries a row keeps, each entry's own sources):
        # list position 2 of a row is not entry 3 when an empty entry was skipped, and
        # entries map the same field from different columns or constants.
        self.from_columns: dict[
            str, tuple[Callable[[AbcMapping[str, Any]], list[int]], list[dict[str, str]]]
        ] = {}

    # -- one scalar field ---------------------------------------------------------

    def scalar(
        self,
        spec: FieldSpec,
        target: _Target,
        path: str,
        field_path: str,
        columns: set[str],
        where: str = "",
    ) -> Getter | None:
        """A getter for one field; None when the entry has problems (already recorded)."""
        before = len(self.problems)
        leaf = field_path.rsplit(".", 1)[-1]
        personal = leaf in PERSONAL_ID_FIELDS
        for position, name in enumerate(spec.transforms):
            if name not in TRANSFORMS:
                self.problems.append(
                    (
                        f"{path}.transforms.{position}",
                        f"unknown transform {name!r} (known: {', '.join(TRANSFORMS)})",
                    )
                )
        table: dict[str, str | None] | None = None
        if spec.code_table is not None:
            table = self.spec.code_tables.get(spec.code_table)
            if table is None:
                known = ", ".join(self.spec.code_tables) or "none"
                self.problems.append(
                    (
                        f"{path}.code_table",
                        f"unknown code table {spec.code_table!r} (defined: {known})",
                    )
                )
            elif isinstance(target.scalar, type) and issubclass(target.scalar, enum.Enum):
                valid = {member.value for member in target.scalar}
                for code, value in table.items():
                    if value is not None and value not in valid and spec.type is None:
                        self.problems.append(
                            (
                                f"code_tables.{spec.code_table}.{code}",
                                f"{value!r} is not a valid {target.scalar.__name__} for "
                                f"{field_path} (valid: {', '.join(sorted(valid, key=_natural))})",
                            )
                        )
        parse_date = self._formats(spec.date, f"{path}.date")
        parse_datetime = self._formats(spec.datetime, f"{path}.datetime")
        self._check_type(spec, target, path, field_path)
        if len(self.problems) != before:
            return None
        if spec.is_const:
            return self._const(spec, target, path, field_path)

        assert spec.from_ is not None
        column = spec.from_
        columns.add(column.split(".", 1)[0])
        key = _INDEX.sub("", field_path)
        known = self.sources.get(key)
        here = f"column {column}{where}"
        self.sources[key] = here if known is None or known == here else f"{known} or {here}"
        default = spec.default
        if default is not None:
            # Stands in for the column's value, so it is read like one: once, here.
            described = self.sources[key]  # the probe describes itself as column const
            default = self._converted(spec, target, path, field_path, "default")
            self.sources[key] = described
            if default is _ABSENT:
                return None
        transform = chain(spec.transforms)
        convert = self._converter(spec, target, column, personal, table, parse_date, parse_datetime)
        getter = _getter(column, transform, convert, spec.has_default, default)
        PLANS[getter] = GetterPlan(
            column,
            tuple(TRANSFORMS[name] for name in spec.transforms),
            convert,
            convert is _as_text,
            default,
        )
        return getter

    def _converted(
        self, spec: FieldSpec, target: _Target, path: str, field_path: str, option: str
    ) -> Any:
        """A ``const`` or ``default`` value put through the field's transforms, code table,
        date formats, time zone and type, as a source value would be; _ABSENT (the problem
        recorded under ``path.option``) when it does not convert."""
        probe = self.scalar(
            spec.model_copy(update={"from_": "const", "default": None}),
            target,
            path,
            field_path,
            set(),
        )
        if probe is None:
            return _ABSENT
        try:
            return probe({"const": getattr(spec, option)})
        except _Failure as exc:
            self.problems.append((f"{path}.{option}", exc.text.removeprefix("const: ")))
            return _ABSENT

    def _const(self, spec: FieldSpec, target: _Target, path: str, field_path: str) -> Getter | None:
        """A constant, converted once here exactly as a source value would be."""
        key = _INDEX.sub("", field_path)
        value = self._converted(spec, target, path, field_path, "const")
        if value is _ABSENT:
            return None
        self.sources[key] = f"constant {_echo(value, False)}"

        def constant(row: AbcMapping[str, Any]) -> Any:
            return value

        PLANS[constant] = ConstPlan(value)
        return constant

    def _formats(
        self, formats: list[str] | None, path: str
    ) -> Callable[[str], datetime | None] | None:
        if formats is None:
            return None
        ok = True
        for position, fmt in enumerate(formats):
            try:
                dates.compile_format(fmt)
            except dates.DateFormatError as exc:
                self.problems.append((f"{path}.{position}", str(exc)))
                ok = False
        return dates.compile_formats(formats) if ok else None

    def _check_type(self, spec: FieldSpec, target: _Target, path: str, field_path: str) -> None:
        scalar = target.scalar
        if spec.split is not None and not target.is_list:
            self.problems.append(
                (f"{path}.split", f"{field_path} is not a list; 'split' makes a list of values")
            )
        wanted: dict[str, tuple[Any, ...]] = {
            "int": (int, float, Decimal),
            "bool": (bool,),
            "decimal": (Decimal, float),
            "str": (str,),
        }
        if (
            spec.type is not None
            and isinstance(scalar, type)
            and (
                not issubclass(scalar, wanted[spec.type])
                and not (spec.type == "str" and _is_str_like(scalar))
                and not (spec.code_table and issubclass(scalar, enum.Enum))
            )
        ):
            self.problems.append(
                (
                    f"{path}.type",
                    f"type {spec.type} does not fit {field_path}, which holds {scalar.__name__}",
                )
            )
        if spec.date is not None and scalar is not date:
            self.problems.append((f"{path}.date", f"{field_path} is not a date field"))
        if spec.datetime is not None and scalar is not datetime:
            self.problems.append((f"{path}.datetime", f"{field_path} is not a date-time field"))

    def _converter(
        self,
        spec: FieldSpec,
        target: _Target,
        column: str,
        personal: bool,
        table: dict[str, str | None] | None,
        parse_date: Callable[[str], datetime | None] | None,
        parse_datetime: Callable[[str], datetime | None] | None,
    ) -> Callable[[Any], Any] | None:
        scalar = target.scalar
        if spec.split is not None:
            return _split_converter(spec.split, column)
        if table is not None:
            lookup_code = _code_converter(table, spec.code_table or "", column, personal)
            cast = _type_converter(spec.type, column, personal) if spec.type else None
            if cast is None:
                return lookup_code
            return lambda value: _then(lookup_code(value), cast)
        if spec.type is not None:
            return _type_converter(spec.type, column, personal)
        if parse_datetime is not None or (scalar is datetime and parse_date is None):
            formats = spec.datetime or [dates.ISO]
            return _datetime_converter(
                parse_datetime or dates.compile_formats(formats), formats, self.zone, column
            )
        if parse_date is not None or scalar is date:
            formats = spec.date or [dates.ISO]
            return _date_converter(
                parse_date or dates.compile_formats(formats), formats, self.zone, column
            )
        if _is_str_like(scalar):
            return _as_text
        return None

    # -- groups and lists ------------------------------------------------------------

    def group(
        self,
        model: type[BaseModel],
        entries: AbcMapping[str, Any],
        path: str,
        prefix: str,
        columns: set[str],
        where: str = "",
    ) -> Builder:
        """A builder for one model's fields from entries with (possibly dotted) targets."""
        scalars: list[tuple[str, Getter, str]] = []
        composites: list[tuple[str, Builder]] = []
        nested: dict[str, dict[str, Any]] = {}
        nested_paths: dict[str, str] = {}
        mapped: set[str] = set()
        for target_name, raw in entries.items():
            entry_path = f"{path}.{target_name}"
            if not isinstance(target_name, str) or not target_name:
                self.problems.append((entry_path, "a target must be a standard field name"))
                continue
            head, _, rest = target_name.partition(".")
            described = _describe(model, head)
            if described is None:
                self.problems.append((entry_path, _unknown(model, head)))
                continue
            if rest:
                if described.model is None or described.is_list:
                    what = "a list" if described.is_list else "not a group of fields"
                    self.problems.append(
                        (entry_path, f"{prefix}{head} is {what}; {target_name!r} cannot be mapped")
                    )
                    continue
                if head in mapped:
                    self.problems.append(
                        (entry_path, f"{prefix}{head} is mapped as a whole and by its parts")
                    )
                    continue
                nested.setdefault(head, {})[rest] = raw
                nested_paths.setdefault(head, f"{path}.{head}")
                continue
            if head in nested or head in mapped:
                self.problems.append((entry_path, f"{prefix}{head} is mapped twice"))
                continue
            mapped.add(head)
            parsed = parse_entry(raw, entry_path, self.problems)
            if parsed is None:
                continue
            field_path = f"{prefix}{head}"
            if isinstance(parsed, FieldSpec):
                if described.model is not None:
                    sub = ", ".join(f"{head}.{f}" for f in described.model.model_fields)
                    kind = "a list of" if described.is_list else "a group of"
                    how = "rows or from_columns" if described.is_list else sub
                    self.problems.append(
                        (
                            entry_path,
                            f"{field_path} is {kind} {described.model.__name__} "
                            f"fields; map them with {how}",
                        )
                    )
                    continue
                getter = self.scalar(parsed, described, entry_path, field_path, columns, where)
                if getter is not None:
                    scalars.append((head, getter, head))
                continue
            if not described.is_list:
                self.problems.append(
                    (
                        entry_path,
                        f"{field_path} is not a list; 'rows' and 'from_columns' build lists",
                    )
                )
                continue
            builder = self.list_field(parsed, described, entry_path, field_path, columns)
            if builder is not None:
                composites.append((head, builder))
        for head, sub_entries in nested.items():
            described = _describe(model, head)
            assert described is not None and described.model is not None
            mapped.add(head)
            builder = self.group(
                described.model, sub_entries, nested_paths[head], f"{prefix}{head}.", columns, where
            )
            composites.append((head, _optional_group(head, builder)))
        self._required(model, mapped, path, prefix)
        return _group_builder(scalars, composites)

    def _required(self, model: type[BaseModel], mapped: set[str], path: str, prefix: str) -> None:
        missing = [
            name
            for name, info in model.model_fields.items()
            if info.is_required() and name not in mapped
        ]
        if missing:
            names = ", ".join(f"{prefix}{m}" for m in missing)
            self.problems.append(
                (
                    path,
                    f"required {'field' if len(missing) == 1 else 'fields'} of "
                    f"{model.__name__} not mapped: {names}",
                )
            )

    def list_field(
        self,
        parsed: RowsSpec | ColumnsSpec,
        described: _Target,
        path: str,
        field_path: str,
        columns: set[str],
    ) -> Builder | None:
        before = len(self.problems)
        if isinstance(parsed, RowsSpec):
            child_columns: set[str] = set()
            where = f" of {parsed.rows} rows"
            if parsed.fields is not None:
                if described.model is None:
                    self.problems.append(
                        (f"{path}.fields", f"{field_path} is a list of plain values; use 'value'")
                    )
                    return None
                item: Any = self.group(
                    described.model,
                    parsed.fields,
                    f"{path}.fields",
                    f"{field_path}.",
                    child_columns,
                    where,
                )
                item_is_group = True
            else:
                if described.model is not None:
                    self.problems.append(
                        (
                            f"{path}.value",
                            f"{field_path} is a list of {described.model.__name__}; use 'fields'",
                        )
                    )
                    return None
                value_spec = parse_entry(parsed.value, f"{path}.value", self.problems)
                if not isinstance(value_spec, FieldSpec):
                    if value_spec is not None:
                        self.problems.append((f"{path}.value", "expected a single field"))
                    return None
                item = self.scalar(
                    value_spec, described, f"{path}.value", field_path, child_columns, where
                )
                item_is_group = False
            if len(self.problems) != before or item is None:
                return None
            if parsed.rows in self.children:
                self.problems.append(
                    (
                        f"{path}.rows",
                        f"child rows {parsed.rows!r} already build "
                        f"{self.children[parsed.rows].target}",
                    )
                )
                return None
            self.children[parsed.rows] = ChildSpec(
                parsed.rows, field_path, frozenset(child_columns)
            )
            return _rows_builder(parsed.rows, field_path, item, item_is_group)
        entries: list[tuple[Builder, list[str]]] = []
        if described.model is None:
            self.problems.append(
                (
                    f"{path}.from_columns",
                    f"{field_path} is a list of plain values; from_columns builds lists of records",
                )
            )
            return None
        entry_sources: list[dict[str, str]] = []
        for position, raw_entry in enumerate(parsed.from_columns):
            entry_path = f"{path}.from_columns.{position}"
            where = f" (from_columns entry {position + 1})"
            sources = [
                spec.from_
                for raw in raw_entry.values()
                if isinstance(raw, AbcMapping)
                and isinstance(spec := parse_entry(raw, "", []), FieldSpec)
                and spec.from_ is not None
            ]
            # The entry's sources on their own, then merged into the list's (which name
            # every entry's column, for what does not know the row: personal columns).
            outer, self.sources = self.sources, {}
            try:
                builder = self.group(
                    described.model, raw_entry, entry_path, f"{field_path}.", columns, where
                )
            finally:
                own, self.sources = self.sources, outer
            for key, text in own.items():
                known = outer.get(key)
                outer[key] = text if known is None or known == text else f"{known} or {text}"
            entry_sources.append(own)
            entries.append((builder, sources))
        if len(self.problems) != before:
            return None
        build, kept = _columns_builder(field_path, entries)
        self.from_columns[_INDEX.sub("", field_path)] = (kept, entry_sources)
        return build


def _natural(code: str) -> tuple[int, str]:
    return (int(code), code) if code.isdigit() else (1 << 30, code)


# ---------------------------------------------------------------- runtime pieces


def _lookup(column: str) -> Callable[[AbcMapping[str, Any]], Any]:
    """Value at a dotted path into nested objects (JSON, XML); _ABSENT when missing."""
    if "." not in column:
        return lambda row: _ABSENT
    parts = column.split(".")

    def walk(row: AbcMapping[str, Any]) -> Any:
        value: Any = row
        for position, part in enumerate(parts):
            if value is None:
                return None
            if not isinstance(value, AbcMapping):
                where = ".".join(parts[:position])
                raise _Failure("mapping.type", f"{column}: {where} is not an object")
            if part not in value:
                return _ABSENT
            value = value[part]
        return value

    return walk


def _getter(
    column: str,
    transform: Callable[[Any], Any] | None,
    convert: Callable[[Any], Any] | None,
    has_default: bool,
    default: Any,
) -> Getter:
    """The per-row function of one field, specialised so the common path has no branches
    it does not need: this runs once per field per row."""
    lookup = _lookup(column)

    def fetch(row: AbcMapping[str, Any]) -> Any:
        """The slow path: a dotted path, an absent column, or a row that is not a mapping."""
        try:
            value = lookup(row)
        except TypeError:
            raise _Failure("mapping.type", f"{column}: the source row is not a mapping") from None
        if value is _ABSENT:
            if has_default:
                return _DEFAULT
            raise _Failure("mapping.missing", f"{column}: column is not in the source row")
        return value

    if transform is None and convert is None:

        def get_plain(row: AbcMapping[str, Any]) -> Any:
            try:
                value = row[column]
            except (KeyError, TypeError):
                value = fetch(row)
                if value is _DEFAULT:
                    return default
            if value is None or value == "" or (isinstance(value, str) and value.isspace()):
                return default  # None unless the mapping gives a default; blank is empty
            return value

        return get_plain

    if convert is _as_text:

        def get_text(row: AbcMapping[str, Any]) -> Any:
            try:
                value = row[column]
            except (KeyError, TypeError):
                value = fetch(row)
                if value is _DEFAULT:
                    return default
            if type(value) is not str and value is not None:
                value = _as_text(value)
            if transform is not None:
                value = transform(value)
            if value is None or value == "" or (isinstance(value, str) and value.isspace()):
                return default
            return value

        return get_text

    def get(row: AbcMapping[str, Any]) -> Any:
        try:
            value = row[column]
        except (KeyError, TypeError):
            value = fetch(row)
            if value is _DEFAULT:
                return default
        if transform is not None:
            value = transform(value)
        if value is None or value == "" or (isinstance(value, str) and value.isspace()):
            return default
        if convert is None:
            return value
        return convert(value)

    return get


def _split_converter(separator: str, column: str) -> Callable[[Any], Any]:
    """``"M1, M2,,M3"`` → ``["M1", "M2", "M3"]``; a list (JSON) is kept as it is."""

    def convert(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return list(value)
        if not isinstance(value, str):
            raise _Failure(
                "mapping.type",
                f"{column}: expected text to split, got {type(value).__name__}",
            )
        return [part for piece in value.split(separator) if (part := piece.strip())]

    return convert


def _then(value: Any, cast: Callable[[Any], Any]) -> Any:
    return None if value is None else cast(value)


def _as_text(value: Any) -> Any:
    """Numbers from a database (a region code stored as an integer) into text fields."""
    if type(value) is str:
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


def _integral_text(value: Any) -> str | None:
    """A whole number stored as a float or decimal as the integer text of its code.

    Drivers return a NUMBER/NUMERIC code column as ``1.0`` or ``Decimal('1.0')``; the
    department's code is ``1`` all the same.
    """
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    return None


def _code_converter(
    table: dict[str, str | None], name: str, column: str, personal: bool
) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        code = value if type(value) is str else str(value)
        try:
            return table[code]
        except KeyError:
            integral = _integral_text(value)
            if integral is not None and integral in table:
                return table[integral]
            stripped = code.strip()
            if stripped in table:
                return table[stripped]
            if not stripped:
                return None
        raise _Failure(
            "mapping.code",
            f"{column}: department code {_echo(value, personal)} is not in code table {name}",
        )

    PLANS[convert] = CodePlan(table)
    return convert


def _type_converter(kind: str, column: str, personal: bool) -> Callable[[Any], Any]:
    def fail(value: Any, what: str) -> _Failure:
        return _Failure("mapping.type", f"{column}: {_echo(value, personal)} is not {what}")

    if kind == "int":

        def to_int(value: Any) -> Any:
            if type(value) is int:
                return value
            if type(value) is str:
                text = value.strip()
                try:
                    return int(text)  # full-width digits too: int("１２") == 12
                except ValueError:
                    if not text:
                        return None  # blank is no value, like empty
                    try:
                        number = Decimal(text)
                    except InvalidOperation:
                        raise fail(value, "an integer") from None
                    value = number
            if isinstance(value, bool):
                raise fail(value, "an integer")
            if isinstance(value, Decimal):
                if value.is_finite() and value == value.to_integral_value():
                    return int(value)
            elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
                return int(value)
            if isinstance(value, int):
                return int(value)
            raise fail(value, "an integer")

        return to_int
    if kind == "decimal":

        def to_decimal(value: Any) -> Any:
            if isinstance(value, bool):
                raise fail(value, "a decimal number")
            if isinstance(value, str) and value.isspace():
                return None
            try:
                number = Decimal(value.strip() if isinstance(value, str) else str(value))
            except (InvalidOperation, ValueError):
                raise fail(value, "a decimal number") from None
            if not number.is_finite():
                raise fail(value, "a finite decimal number")
            return number

        return to_decimal
    if kind == "bool":

        def to_bool(value: Any) -> Any:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            if not text:
                return None
            raise fail(value, "a yes/no value (1/0, true/false, 是/否, Y/N)")

        return to_bool

    def to_str(value: Any) -> Any:
        if type(value) is str:
            return value
        if isinstance(value, AbcMapping | list | tuple):
            raise fail(value, "text")
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return to_str


def _datetime_converter(
    parse: Callable[[str], datetime | None], formats: list[str], zone: tzinfo, column: str
) -> Callable[[Any], Any]:
    shown = ", ".join(repr(f) for f in formats)

    def convert(value: Any) -> Any:
        if type(value) is str:
            parsed = parse(value)
            if parsed is None:
                text = value.strip()
                if not text:
                    return None
                parsed = parse(text) if text != value else None
                if parsed is None:
                    raise _Failure(
                        "mapping.date",
                        f"{column}: {_echo(value, False)} matches none of the formats {shown}",
                    )
        elif isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime(value.year, value.month, value.day)
        else:
            raise _Failure(
                "mapping.date",
                f"{column}: expected a date-time or text, got {type(value).__name__} "
                f"{_echo(value, False)}",
            )
        if parsed.tzinfo is None:
            if type(parsed) is datetime and not parsed.fold:
                # The same value as replace(tzinfo=zone), built directly: replace() with a
                # keyword costs several times the constructor, on every time of every row.
                return datetime(
                    parsed.year,
                    parsed.month,
                    parsed.day,
                    parsed.hour,
                    parsed.minute,
                    parsed.second,
                    parsed.microsecond,
                    zone,
                )
            return parsed.replace(tzinfo=zone)
        return parsed

    PLANS[convert] = DatetimePlan(zone)
    return convert


def _date_converter(
    parse: Callable[[str], datetime | None], formats: list[str], zone: tzinfo, column: str
) -> Callable[[Any], Any]:
    shown = ", ".join(repr(f) for f in formats)

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            parsed: Any = parse(value.strip())
            if parsed is None:
                if not value.strip():
                    return None
                raise _Failure(
                    "mapping.date",
                    f"{column}: {_echo(value, False)} matches none of the formats {shown}",
                )
        elif isinstance(value, date):
            parsed = value
        else:
            raise _Failure(
                "mapping.date",
                f"{column}: expected a date or text, got {type(value).__name__} "
                f"{_echo(value, False)}",
            )
        if isinstance(parsed, datetime):
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(zone)
            return parsed.date()
        return parsed

    return convert


def _group_builder(
    scalars: list[tuple[str, Getter, str]], composites: list[tuple[str, Builder]]
) -> Builder:
    scalars_t = tuple(scalars)
    composites_t = tuple(composites)

    def build(
        row: AbcMapping[str, Any], findings: list[Finding], prefix: str, where: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, get, field in scalars_t:
            try:
                value = get(row)
            except _Failure as failure:
                findings.append(Finding(failure.rule, failure.text + where, prefix + field))
                continue
            if value is not None:
                out[name] = value
        for name, builder in composites_t:
            value = builder(row, findings, prefix, where)
            if value is not None:
                out[name] = value
        return out

    PLANS[build] = GroupPlan(scalars_t, composites_t)
    return build


def _optional_group(head: str, builder: Builder) -> Builder:
    """A nested model (applicant): its own dict, left out when nothing in it has a value."""

    def build(row: AbcMapping[str, Any], findings: list[Finding], prefix: str, where: str) -> Any:
        value = builder(row, findings, f"{prefix}{head}.", where)
        return value or None

    PLANS[build] = NestedPlan(head, builder)
    return build


def not_a_row(rows: str, position: int, child: Any, base: str) -> Finding:
    """A child row list holding something that is not a row (a JSON list of numbers)."""
    return Finding(
        "mapping.type",
        f"{rows}: row {position + 1} is a {type(child).__name__}, not a row of columns",
        f"{base}{position}",
    )


def _rows_builder(rows: str, field_path: str, item: Any, item_is_group: bool) -> Builder:
    lookup = _lookup(rows)
    leaf = field_path.rsplit(".", 1)[-1]

    def build(row: AbcMapping[str, Any], findings: list[Finding], prefix: str, where: str) -> Any:
        try:
            children = row[rows]
        except KeyError:
            try:
                children = lookup(row)
            except _Failure as failure:
                findings.append(Finding(failure.rule, failure.text, prefix + leaf))
                return None
            if children is _ABSENT:
                findings.append(
                    Finding(
                        "mapping.missing",
                        f"{rows}: the child rows are not in the source row",
                        prefix + leaf,
                    )
                )
                return None
        if children is None or (isinstance(children, str) and (not children or children.isspace())):
            return []
        if type(children) is list:
            pass
        elif isinstance(children, AbcMapping):
            children = [children]  # one repeated element read from XML comes as one object
        elif not isinstance(children, list | tuple):
            findings.append(
                Finding(
                    "mapping.type",
                    f"{rows}: expected a list of child rows, got {type(children).__name__}",
                    prefix + leaf,
                )
            )
            return None
        out: list[Any] = []
        base = f"{prefix}{leaf}."
        for position, child in enumerate(children):
            if item_is_group:
                if type(child) is not dict and not isinstance(child, AbcMapping):
                    findings.append(not_a_row(rows, position, child, base))
                    continue
                out.append(
                    item(child, findings, f"{base}{position}.", f" ({rows} row {position + 1})")
                )
            else:
                try:
                    value = item(child)
                except _Failure as failure:
                    findings.append(
                        Finding(
                            failure.rule,
                            f"{failure.text} ({rows} row {position + 1})",
                            f"{base}{position}",
                        )
                    )
                    continue
                if value is not None:
                    out.append(value)
        return out

    PLANS[build] = RowsPlan(rows, leaf, item if item_is_group else None)
    return build


def _columns_builder(
    field_path: str, entries: list[tuple[Builder, list[str]]]
) -> tuple[Builder, Callable[[AbcMapping[str, Any]], list[int]]]:
    """The list's builder, and a function giving the positions of the entries a row keeps
    (so a finding on list item 2 can name the columns of the entry that built it)."""
    leaf = field_path.rsplit(".", 1)[-1]
    # Each source column with the lookup its field uses: a flat key, else a dotted path
    # into nested JSON/XML objects (``times.sjsj``), as the entry's own getters read it.
    compiled = tuple(
        (builder, tuple((column, _lookup(column)) for column in sources))
        for builder, sources in entries
    )

    def empty(
        row: AbcMapping[str, Any],
        sources: tuple[tuple[str, Callable[[AbcMapping[str, Any]], Any]], ...],
    ) -> bool:
        for column, lookup in sources:
            try:
                value = row[column]
            except KeyError:
                try:
                    value = lookup(row)
                except (_Failure, TypeError):
                    return False  # not an object on the way: the entry reports it
                if value is _ABSENT:
                    return False  # absent is not empty: the entry reports mapping.missing
            if value is not None and not (isinstance(value, str) and not value.strip()):
                return False
        return True

    def build(row: AbcMapping[str, Any], findings: list[Finding], prefix: str, where: str) -> Any:
        out: list[Any] = []
        base = f"{prefix}{leaf}."
        for position, (builder, sources) in enumerate(compiled):
            if sources and empty(row, sources):
                continue
            out.append(
                builder(
                    row, findings, f"{base}{len(out)}.", f" (from_columns entry {position + 1})"
                )
            )
        return out

    def kept(row: AbcMapping[str, Any]) -> list[int]:
        return [
            position
            for position, (_, sources) in enumerate(compiled)
            if not (sources and empty(row, sources))
        ]

    return build, kept


# ---------------------------------------------------------------- the public class


class Mapping:
    """A compiled mapping file: department rows to standard records of one kind."""

    def __init__(self, spec: MappingSpec, source: str) -> None:
        """Compile a parsed spec; ConfigError with every problem found."""
        problems: Problems = []
        self.source = source
        self.spec = spec
        self.kind: str = spec.kind
        self.model: type[StandardRecord] = RECORD_KINDS[spec.kind]
        self.encoding: str = spec.encoding
        compiler = _Compiler(spec, problems)
        columns: set[str] = set()
        self._build = compiler.group(self.model, spec.fields, "fields", "", columns)
        if problems:
            raise ConfigError(source, problems)
        self.timezone: tzinfo = compiler.zone
        self.columns: set[str] = columns
        self.children: dict[str, ChildSpec] = compiler.children
        self._sources = compiler.sources
        self._from_columns = compiler.from_columns
        self._compiled = compile_build(self._build, PLANS, _Failure, not_a_row)
        self._validate = self.model.__pydantic_validator__.validate_python

    @classmethod
    def from_dict(cls, data: AbcMapping[str, Any], *, source: str = "mapping") -> Mapping:
        """Check and compile a mapping given as a dict (a parsed YAML document)."""
        if not isinstance(data, AbcMapping):
            raise ConfigError(source, [("", "the top level must be a mapping")])
        try:
            spec = MappingSpec.model_validate(dict(data))
        except ValidationError as exc:
            problems = errors_of(exc, "")
            partial = _partial_spec(data)
            if partial is not None:
                try:
                    cls(partial, source)
                except ConfigError as more:
                    problems.extend(p for p in more.problems if p not in problems)
            raise ConfigError(source, problems) from None
        return cls(spec, source)

    @classmethod
    def load(cls, path: str | Path) -> Mapping:
        """Read, check and compile a mapping YAML file."""
        path = Path(path)
        try:
            if path.stat().st_size > MAX_BYTES:
                raise ConfigError(
                    str(path), [("", f"larger than {MAX_BYTES // (1 << 20)} MiB: not a mapping")]
                )
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(str(path), [("", f"cannot read the mapping file: {exc}")]) from None
        try:
            data, duplicates = load_yaml(text, str(path))
        except yaml.YAMLError as exc:
            # The problem and its line, without PyYAML's mark lines: it reads as one line.
            problem, line = problem_and_line(exc)
            at = f"line {line}" if line is not None else ""
            raise ConfigError(str(path), [(at, f"not valid YAML: {problem}")]) from None
        problems = [(f"line {line}", f"key {key!r} is given twice") for line, key in duplicates]
        if data is None or not isinstance(data, AbcMapping):
            raise ConfigError(str(path), [*problems, ("", "the top level must be a mapping")])
        try:
            mapping = cls.from_dict(data, source=str(path))
        except ConfigError as exc:
            raise ConfigError(str(path), [*problems, *exc.problems]) from None
        if problems:
            raise ConfigError(str(path), problems)
        return mapping

    def map(
        self, row: AbcMapping[str, Any], location: SourceLocation
    ) -> tuple[StandardRecord | None, list[Finding]]:
        """One source row as a standard record, or None with the findings saying why."""
        if type(row) is not dict and not isinstance(row, AbcMapping):
            return None, [
                Finding(
                    "mapping.type", f"the source row is {type(row).__name__}, not a row of columns"
                )
            ]
        findings: list[Finding] = []
        data = self._compiled(row, findings)
        if findings:
            return None, findings
        try:
            # What to_record does first, without its wrapping: most rows are valid.
            record: StandardRecord = self._validate(data)
        except ValidationError:
            problems = to_record(self._raw(data, location))[1]
            return None, [self._with_source(f, row) for f in problems]
        return record, []

    def build(
        self, row: AbcMapping[str, Any], *, reference: bool = False
    ) -> tuple[dict[str, Any], list[Finding]]:
        """The record's data as the mapping builds it, before the model, and the findings.

        ``reference=True`` runs the per-field closures instead of the compiled function
        (:mod:`adapters.mapping.codegen`); both must give the same, which tests check.
        """
        findings: list[Finding] = []
        if reference:
            return self._build(row, findings, "", ""), findings
        return self._compiled(row, findings), findings

    def _raw(self, data: dict[str, Any], location: SourceLocation) -> RawRecord:
        return RawRecord(self.kind, location, data)

    def _with_source(self, finding: Finding, row: AbcMapping[str, Any] | None = None) -> Finding:
        """A model error with the source column the bad value came from.

        Within a ``from_columns`` list the row says which entry built the item, and only
        that entry's column (or constant) is named.
        """
        if finding.field is None:
            return finding
        source = self._entry_source(finding.field, row)
        if source is None:
            source = self._sources.get(_INDEX.sub("", finding.field))
        if not source:
            return finding
        return Finding(
            finding.rule, f"{finding.message} [from {source}]", finding.field, finding.severity
        )

    def _entry_source(self, field: str, row: AbcMapping[str, Any] | None) -> str | None:
        """Where a field of a ``from_columns`` item comes from in this row: that entry's
        source, "" when the entry does not map the field; None for any other field."""
        if row is None or not self._from_columns:
            return None
        parts = field.split(".")
        position = next((i for i, part in enumerate(parts) if part.isdigit()), None)
        if position is None:
            return None
        found = self._from_columns.get(".".join(parts[:position]))
        if found is None:
            return None
        kept, entry_sources = found
        entries = kept(row)
        index = int(parts[position])
        if index >= len(entries):
            return None
        return entry_sources[entries[index]].get(_INDEX.sub("", field), "")

    def __repr__(self) -> str:
        return f"Mapping(kind={self.kind!r}, source={self.source!r})"


def _partial_spec(data: AbcMapping[str, Any]) -> MappingSpec | None:
    """The parts of a broken top level that are fine, to report field problems too."""
    kind = data.get("kind")
    fields = data.get("fields")
    if kind not in RECORD_KINDS or not isinstance(fields, AbcMapping) or not fields:
        return None
    partial: dict[str, Any] = {"kind": kind, "fields": fields}
    for key in ("timezone", "encoding", "code_tables"):
        if key in data:
            try:
                MappingSpec.model_validate({**partial, key: data[key]})
            except ValidationError:
                continue
            partial[key] = data[key]
    try:
        return MappingSpec.model_validate(partial)
    except ValidationError:
        return None
