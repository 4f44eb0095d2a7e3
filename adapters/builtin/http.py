"""The built-in ``http`` source: a department's REST/JSON API as a stream of records.

A department writes as little as::

    class MarketCasesApi(HttpSource):
        stream = "cases"
        endpoint = "/cases"
        mapping = "mapping.yaml"
        records_path = "data.list"
        cursor = "gxsj"                 # updated-at field of each object
        id_field = "id"                 # tie-breaker among objects sharing a cursor value

with ``base_url`` and ``auth`` (secret references) in the YAML configuration; every field
of a stream can also be given, or overridden, in the configuration's ``streams``.
Pagination styles, the two incremental modes and retry rules are described in
:mod:`adapters.builtin.http_config`, :mod:`adapters.builtin.http_state` and
:mod:`adapters.builtin.http_transport`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from adapters.builtin.http_config import (
    HttpConfig,
    IncrementalConfig,
    PaginationConfig,
    StreamConfig,
    credential_name,
)
from adapters.builtin.http_read import HttpStream, HttpStreamRead
from adapters.builtin.http_transport import HttpTransport, Response
from adapters.mapping import Mapping as FieldMapping
from adapters.sdk.config import SecretResolver, is_secret_ref
from adapters.sdk.department_code import package_file
from adapters.sdk.errors import AdapterError, ConfigError, ConnectionCheckError
from adapters.sdk.source import Source, State, StreamSpec
from standards.records import RECORD_KINDS

_WHERE = "http source configuration"


class HttpSource(Source):
    """Reads JSON objects from a paginated REST API and maps each to a standard record.

    Class attributes are the defaults of a single stream (named ``stream``); a
    department's subclass sets them so its configuration file only says where the API is
    and which secret authenticates the hub.
    """

    name: ClassVar[str] = "http"
    Config: ClassVar[type[HttpConfig]] = HttpConfig  # type: ignore[assignment]

    # Single-stream defaults for department subclasses (see the module docstring);
    # ``stream = "cases"`` on a subclass lands in ``default_stream`` (see Source).
    endpoint: ClassVar[str | None] = None
    mapping: ClassVar[str | dict[str, Any] | None] = None
    records_path: ClassVar[str] = ""
    params: ClassVar[Mapping[str, Any]] = {}
    pagination: ClassVar[Mapping[str, Any]] = {}
    cursor: ClassVar[str | None] = None
    id_field: ClassVar[str] = "id"
    incremental_mode: ClassVar[str] = "after_id"

    config: HttpConfig

    def __init__(
        self,
        config: HttpConfig,  # type: ignore[override]
        *,
        base_dir: Path | None = None,
        secrets: SecretResolver | None = None,
    ) -> None:
        super().__init__(config, base_dir=base_dir, secrets=secrets)
        self._streams = self._resolve_streams()
        #: How retries wait; replaceable so tests can record the backoff instead.
        self.sleep: Callable[[float], None] = time.sleep

    # -- configuration

    def _resolve_streams(self) -> dict[str, HttpStream]:
        configured = dict(self.config.streams)
        default = type(self).default_stream
        if default is not None and default not in configured:
            configured[default] = StreamConfig()
        if not configured:
            raise ConfigError(
                _WHERE,
                [("streams", "no stream: configure streams, or set `stream` on the class")],
            )
        resolved: dict[str, HttpStream] = {}
        problems: list[tuple[str, str]] = []
        for name, conf in configured.items():
            try:
                resolved[name] = self._resolve(name, conf, use_class=name == default)
            except ConfigError as exc:
                if package_file(type(self), exc.source) is not None:
                    raise  # a mapping the department's package ships: its failure, as is
                if exc.source == _WHERE:
                    problems.extend(exc.problems)
                else:  # a mapping file or a class attribute: say which, and where in it
                    problems.extend(
                        (f"streams.{name}", f"{exc.source}: {path or '(top level)'}: {msg}")
                        for path, msg in exc.problems
                    )
        if problems:
            raise ConfigError(_WHERE, problems)
        return resolved

    def _resolve(self, name: str, conf: StreamConfig, *, use_class: bool) -> HttpStream:
        cls = type(self)
        where = f"streams.{name}"
        endpoint = conf.endpoint or (cls.endpoint if use_class else None)
        mapping_ref = (
            conf.mapping if conf.mapping is not None else (cls.mapping if use_class else None)
        )
        problems = []
        if not endpoint:
            problems.append((f"{where}.endpoint", "required (the path under base_url)"))
        if mapping_ref is None:
            problems.append((f"{where}.mapping", "required (a mapping file or inline mapping)"))
        pagination = conf.pagination
        incremental = conf.incremental
        if use_class:
            pagination = pagination or PaginationConfig.load(
                dict(cls.pagination), source=f"{cls.__name__}.pagination"
            )
            if incremental is None and cls.cursor:
                incremental = IncrementalConfig.load(
                    {
                        "cursor_field": cls.cursor,
                        "id_field": cls.id_field,
                        "mode": cls.incremental_mode,
                    },
                    source=f"{cls.__name__}.cursor",
                )
        if use_class:
            # The configuration file's params are checked when it loads; a class's here.
            for param, value in cls.params.items():
                if credential_name(param) and not is_secret_ref(value):
                    problems.append(
                        (
                            f"{cls.__name__}.params.{param}",
                            "looks like a credential: give its value as a secret reference "
                            "(env:/airflow:), not the secret itself",
                        )
                    )
        pagination = pagination or PaginationConfig()
        if pagination.style == "keyset" and (incremental is None or incremental.mode != "after_id"):
            problems.append(
                (f"{where}.pagination.style", "keyset needs incremental in mode after_id")
            )
        if problems:
            raise ConfigError(_WHERE, problems)
        assert endpoint is not None and mapping_ref is not None
        records_path = conf.records_path
        if records_path is None:
            records_path = cls.records_path if use_class else ""
        params: dict[str, Any] = {**(cls.params if use_class else {}), **conf.params}
        path, query = _split_endpoint(endpoint)
        paging = _paging_params(pagination, incremental)
        for param in query:
            if param in paging:
                problems.append(
                    (f"{where}.endpoint", f"its query sets {param!r}, a parameter the "
                     f"{pagination.style} pagination or the incremental reads set on every "
                     "request; remove it from the endpoint (or rename the pagination's)"),
                )  # fmt: skip
            elif param in params:
                problems.append(
                    (f"{where}.endpoint", f"its query sets {param!r}, which params sets too; "
                     "give it in one place"),
                )  # fmt: skip
            elif credential_name(param):
                problems.append(
                    (f"{where}.endpoint", f"its query carries the credential parameter "
                     f"{param!r}: put it under params with a secret reference (env:/airflow:)"),
                )  # fmt: skip
        if problems:
            raise ConfigError(_WHERE, problems)
        return HttpStream(
            name=name,
            endpoint=path,
            mapping=self._load_mapping(mapping_ref, where),
            records_path=records_path,
            # The endpoint's own query goes out with every request, beside the paging.
            params={**query, **params},
            pagination=pagination,
            incremental=incremental,
        )

    def _load_mapping(self, ref: str | dict[str, Any], where: str) -> FieldMapping:
        if isinstance(ref, dict):
            return FieldMapping.from_dict(ref, source=f"{where}.mapping")
        path = Path(ref)
        if not path.is_absolute():
            path = self.base_dir / path
        return FieldMapping.load(path)

    # -- the Source API

    def streams(self) -> list[StreamSpec]:
        out = []
        for stream in self._streams.values():
            kind = stream.mapping.kind
            out.append(
                StreamSpec(
                    name=stream.name,
                    kind=kind,
                    primary_key=RECORD_KINDS[kind].primary_key,
                    cursor_field=stream.incremental.cursor_field if stream.incremental else None,
                )
            )
        return out

    def http_stream(self, name: str) -> HttpStream:
        """The resolved configuration of one stream."""
        try:
            return self._streams[name]
        except KeyError:
            known = ", ".join(self._streams)
            raise AdapterError(
                f"{type(self).__name__} has no stream {name!r} (streams: {known})"
            ) from None

    def transport(self) -> HttpTransport:
        """A client with this source's authentication and retry policy (close it)."""
        return HttpTransport(self.config, self.resolve_secret, sleep=self.sleep)

    def check(self) -> None:
        """GET the health endpoint, or the first page of the first stream, with auth."""
        try:
            transport = self.transport()
        except AdapterError as exc:
            raise ConnectionCheckError(f"cannot set up the client: {exc}") from None
        with transport:
            if self.config.health_path:
                url, params = transport.url(self.config.health_path), {}
            else:
                first = next(iter(self._streams.values()))
                url = transport.url(first.endpoint)
                params = transport.resolved(first.params)
                if first.pagination.style != "none":
                    params[first.size_param] = 1
            try:
                transport.get_json(url, params, what="connection check", parse=_ignore)
            except ConnectionCheckError:
                raise
            except AdapterError as exc:
                raise ConnectionCheckError(str(exc)) from None

    def read(self, stream: str, state: State | None = None) -> HttpStreamRead:
        return HttpStreamRead(self.http_stream(stream), self.transport(), self.config.limits, state)

    def conformance_harness(self) -> Any:
        """A harness driving a test deployment through its control endpoints.

        Only deployments that offer them (``conformance.control_path`` in the
        configuration) can be driven: a production API is never written to by the kit.
        """
        from adapters.builtin.http_harness import HttpHarness

        if self.config.conformance is None:
            raise AdapterError(
                "this http source names no conformance control endpoint "
                "(conformance.control_path): the kit cannot add rows to the API"
            )
        stream = next(iter(self._streams.values()))
        return HttpHarness(self, stream)


def _split_endpoint(endpoint: str) -> tuple[str, dict[str, Any]]:
    """The endpoint's path and its query's parameters (a repeated name keeps every value).

    httpx replaces a URL's query with the request's params, so a query left in the
    endpoint (``/cases?dept=SCJG``) would be dropped silently from every request.
    """
    parts = urlsplit(endpoint)
    query: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in query:
            query[key] = [*(query[key] if isinstance(query[key], list) else [query[key]]), value]
        else:
            query[key] = value
    return urlunsplit(("", "", parts.path, "", "")), query


def _paging_params(pagination: PaginationConfig, incremental: IncrementalConfig | None) -> set[str]:
    """The query parameters a read sets itself on every request of the stream."""
    names: set[str] = set()
    style = pagination.style
    if style == "page":
        names |= {pagination.page_param, pagination.size_param}
    elif style == "offset":
        names |= {pagination.offset_param, pagination.limit_param}
    elif style == "cursor":
        names |= {pagination.cursor_param, pagination.limit_param}
    elif style in ("link", "keyset"):
        names.add(pagination.limit_param)
    if incremental is not None:
        names.add(incremental.cursor_param)
        if incremental.mode == "after_id":
            names.add(incremental.id_param)
    return names


def _ignore(response: Response) -> None:
    return None


__all__ = ["HttpSource"]
