"""The built-in ``sql`` source: a department database read through any SQLAlchemy URL.

Configuration (YAML, next to the mapping files)::

    url: env:MARKET_DB_URL                  # or airflow:market_db — never the URL itself
    streams:
      cases:
        table: cases
        mapping: mapping.yaml               # or the mapping inline
        cursor: updated_at                  # updated-at or monotonic id column
        tiebreaker: id                      # default: the table's primary key
        page_size: 2000                     # rows per server-side fetch
        children:
          events: {table: case_events, key: case_id, order_by: seq}

or, for one stream, class attributes on a subclass (the rest from the YAML)::

    class MarketCases(SqlSource):
        stream = "cases"
        mapping = "mapping.yaml"            # next to the module, else the config file
        cursor = "updated_at"

Reads stream with server-side cursors, follow a composite ``(cursor, tie-breaker)``
cursor (see :mod:`adapters.builtin.sql_query`) and attach child rows per page.
"""

from __future__ import annotations

import inspect as pyinspect
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from adapters.builtin.sql_config import SqlConfig, StreamConfig, check_identifier
from adapters.builtin.sql_query import ReadPlan, SchemaMismatch, build_plan
from adapters.builtin.sql_read import RowMapper, SqlStreamRead, open_read_connection
from adapters.conformance.harness import Harness
from adapters.sdk.config import AdapterConfig, SecretResolver, validation_problems
from adapters.sdk.db_url import DatabaseUrlError, parse_database_url, safe_url_text
from adapters.sdk.errors import AdapterError, ConfigError, ConnectionCheckError
from adapters.sdk.source import Source, State, StreamSpec
from standards.records import RECORD_KINDS

# Class attributes a subclass may set as the defaults of its single stream.
_CLASS_DEFAULTS = ("table", "schema", "mapping", "cursor", "tiebreaker", "children", "page_size")

# Airflow connection types and bare dialect names → the driver installed with Tongyuan.
_DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg"}


def engine_url(secret: str, *, source: str = "the secret") -> URL:
    """The SQLAlchemy URL behind a resolved secret (an Airflow URI or a SQLAlchemy URL).

    ``source`` names where the secret came from (``env:NAME``, ``airflow:CONN_ID``): the
    error of a URL that cannot be read names it and never the URL, which holds the
    password (see :mod:`adapters.sdk.db_url`).
    """
    try:
        url = parse_database_url(secret, setting=f"the database URL from {source}")
    except DatabaseUrlError as exc:
        raise AdapterError(str(exc)) from None
    if url.drivername in _DRIVERS:
        url = url.set(drivername=_DRIVERS[url.drivername])
    return url


def _column_problems(stream: str, mapping: Any) -> list[tuple[str, str]]:
    """Columns a mapping reads become SQL names: they must be plain identifiers too."""
    named = [(column, "") for column in mapping.columns] + [
        (column, f" (child rows {child})")
        for child, spec in mapping.children.items()
        for column in spec.columns
    ]
    problems = []
    for column, where in sorted(named):
        try:
            check_identifier(column)
        except ValueError as exc:
            problems.append((f"streams.{stream}.mapping", f"source column{where}: {exc}"))
    return problems


class SqlSource(Source):
    """Streams of standard records read from tables of a department database."""

    name: ClassVar[str] = "sql"
    Config: ClassVar[type[AdapterConfig]] = SqlConfig

    # Single-stream defaults for department subclasses (see the module docstring).
    table: ClassVar[str | None] = None
    schema: ClassVar[str | None] = None
    mapping: ClassVar[str | dict[str, Any] | None] = None
    cursor: ClassVar[str | None] = None
    tiebreaker: ClassVar[str | list[str] | None] = None
    children: ClassVar[dict[str, dict[str, Any]] | None] = None
    page_size: ClassVar[int | None] = None

    def __init__(
        self,
        config: AdapterConfig,
        *,
        base_dir: Path | None = None,
        secrets: SecretResolver | None = None,
    ) -> None:
        super().__init__(config, base_dir=base_dir, secrets=secrets)
        assert isinstance(config, SqlConfig)
        self.stream_configs = self._stream_configs(config)
        self.mappings: dict[str, Any] = {
            name: self._load_mapping(name, sc) for name, sc in self.stream_configs.items()
        }
        self._engine: Engine | None = None

    # --- configuration ---------------------------------------------------------------

    def _stream_configs(self, config: SqlConfig) -> dict[str, StreamConfig]:
        streams = dict(config.streams)
        cls = type(self)
        name = cls.default_stream
        if name is not None:
            where = f"class {cls.__qualname__}"
            defaults: dict[str, Any] = {}
            for attr in _CLASS_DEFAULTS:
                value = getattr(cls, attr)
                if value is not None:
                    defaults[attr] = value
            given = streams.get(name)
            if given is not None:
                defaults |= given.model_dump(exclude_unset=True, by_alias=True)
            try:
                streams[name] = StreamConfig.model_validate(defaults)
            except ValidationError as exc:
                raise ConfigError(where, validation_problems(exc)) from None
        if not streams:
            raise ConfigError(
                "configuration",
                [("streams", "no stream configured: add streams: {NAME: {table, mapping, …}}")],
            )
        problems = [
            (f"streams.{name}.mapping", "give the mapping file (or the mapping inline)")
            for name, sc in streams.items()
            if sc.mapping is None
        ]
        if problems:
            raise ConfigError("configuration", problems)
        return {
            name: sc if sc.table else sc.model_copy(update={"table": name})
            for name, sc in streams.items()
        }

    def _mapping_path(self, stream: str, value: str) -> Path:
        path = Path(value)
        if path.is_absolute():
            return path
        cls = type(self)
        if cls.default_stream == stream and cls.mapping == value:
            # A class attribute: the mapping ships next to the department's module.
            try:
                beside = Path(pyinspect.getfile(cls)).resolve().parent / path
            except (TypeError, OSError):
                beside = None
            if beside is not None and beside.exists():
                return beside
        return self.base_dir / path

    def _load_mapping(self, stream: str, sc: StreamConfig) -> Any:
        from adapters.mapping import Mapping

        if isinstance(sc.mapping, dict):
            mapping = Mapping.from_dict(sc.mapping, source=f"streams.{stream}.mapping")
        else:
            assert sc.mapping is not None
            mapping = Mapping.load(self._mapping_path(stream, sc.mapping))
        needed, declared = set(mapping.children), set(sc.children)
        problems = _column_problems(stream, mapping)
        problems += [
            (
                f"streams.{stream}.children.{child}",
                f"the mapping builds a list from child rows {child!r}: declare where they "
                f"come from ({{table: …, key: …, order_by: …}})",
            )
            for child in sorted(needed - declared)
        ] + [
            (
                f"streams.{stream}.children.{child}",
                f"the mapping uses no child rows named {child!r} "
                f"(it uses: {', '.join(sorted(needed)) or 'none'})",
            )
            for child in sorted(declared - needed)
        ]
        if mapping.kind not in RECORD_KINDS:
            problems.append((f"streams.{stream}.mapping", f"unknown record kind {mapping.kind!r}"))
        if problems:
            raise ConfigError("configuration", problems)
        return mapping

    # --- database ----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine for the configured URL, created on first use (resolving the secret)."""
        if self._engine is None:
            assert isinstance(self.config, SqlConfig)
            url = engine_url(
                self.resolve_secret(self.config.url).get_secret_value(), source=self.config.url
            )
            self._engine = create_engine(url, pool_pre_ping=True)
        return self._engine

    def dispose(self) -> None:
        """Close pooled connections (a long-lived hub process calls this between runs)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def plan(self, conn: Connection, stream: str) -> ReadPlan:
        """The queries of ``stream`` resolved against the live schema (SchemaMismatch if not)."""
        sc = self.stream_configs[stream]
        mapping = self.mappings[stream]
        child_columns = {
            name: (set(cols) if (cols := getattr(spec, "columns", None)) else None)
            for name, spec in mapping.children.items()
        }
        return build_plan(
            conn,
            sc,
            columns=set(mapping.columns),
            child_columns=child_columns,
            needed_by=f"stream {stream}",
        )

    # --- Source API ----------------------------------------------------------------------

    def streams(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name=name,
                kind=self.mappings[name].kind,
                primary_key=RECORD_KINDS[self.mappings[name].kind].primary_key,
                cursor_field=sc.cursor,
            )
            for name, sc in self.stream_configs.items()
        ]

    def check(self) -> None:
        """Connect, then verify every table and column the streams and mappings need."""
        try:
            engine = self.engine
            with open_read_connection(engine) as conn:
                missing: list[str] = []
                for stream in self.stream_configs:
                    try:
                        self.plan(conn, stream)
                    except SchemaMismatch as exc:
                        missing += exc.missing
        except AdapterError as exc:
            raise ConnectionCheckError(str(exc)) from None
        except SQLAlchemyError as exc:
            where = safe_url_text(self._engine.url) if self._engine else ""
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise ConnectionCheckError(f"cannot connect to {where}: {reason}") from None
        if missing:
            raise ConnectionCheckError("; ".join(missing))

    def read(self, stream: str, state: State | None = None) -> SqlStreamRead:
        if stream not in self.stream_configs:
            self.stream(stream)  # raises KeyError naming the streams there are
        sc = self.stream_configs[stream]
        mapping: RowMapper = self.mappings[stream]
        where = f"{sc.schema_name}.{sc.table}" if sc.schema_name else sc.table
        return SqlStreamRead(
            stream=stream,
            engine=self.engine,
            plan_for=lambda conn: self.plan(conn, stream),
            mapping=mapping,
            state=state,
            page_size=sc.page_size,
            location_name=where,
        )

    def conformance_harness(self) -> Harness:
        """A harness on the department-shaped test schema, under this stream's table names.

        It drives the stream declared by class attributes, else the first configured one,
        whose ``events`` child names the event table. It refuses tables it did not create.
        """
        from adapters.builtin.sql_harness import SqlHarness

        name = type(self).default_stream or next(iter(self.stream_configs))
        sc = self.stream_configs[name]
        events = sc.children.get("events")
        if events is None:
            raise AdapterError(
                f"stream {name} has no 'events' child: the sql harness drives a case table "
                f"with an event table"
            )
        return SqlHarness(
            create_engine(self.engine.url),
            stream=name,
            cases_table=sc.table,
            events_table=events.table,
            schema=sc.schema_name,
        )


__all__ = ["SqlSource", "engine_url"]
