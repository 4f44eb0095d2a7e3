"""Configuration of the ``http`` source: where the API is, how to page it, how to retry.

A department's REST API is described in YAML::

    base_url: https://zwfw.example.gov.cn/api/v1
    auth: {type: bearer, token: env:MARKET_API_TOKEN}
    timeout: 30
    retries: {max_attempts: 5, backoff_base: 0.5, backoff_max: 30}
    streams:
      cases:
        endpoint: /cases
        mapping: mapping.yaml
        records_path: data.list
        pagination: {style: keyset, page_size: 500}
        incremental: {cursor_field: gxsj, id_field: id}

Credentials are only ever references (``env:`` / ``airflow:``), and a ``base_url`` with a
user name or password in it is refused: URLs end up in logs and source locations. A
header or query parameter whose name looks like a credential (``X-Api-Key``,
``AppSecret``, ``access_token``, ``sign`` …, see :func:`credential_name`) must have a
secret reference as its value, resolved when the read starts; an ``endpoint`` may not
carry one in its query string at all.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, field_validator, model_validator

from adapters.sdk.config import AdapterConfig, SecretRef, is_secret_ref

# Header names that carry credentials: they belong in ``auth`` (a secret reference).
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})

# A header or parameter name is a credential's when it contains one of these ...
_CREDENTIAL_PARTS = (
    "token", "secret", "password", "passwd", "passphrase", "signature", "credential",
)  # fmt: skip
# ... or has one of these as a word (X-Api-Key, appKey, sign, auth, ak/sk, ticket, jwt):
# "key" alone would also catch "keyword", "sk" would catch "task", so the short ones
# must stand as whole words (case-insensitive) ...
_CREDENTIAL_WORDS = frozenset(
    {"key", "apikey", "appkey", "accesskey", "sig", "sign", "auth", "authorization", "pwd",
     "ak", "sk", "ticket", "jwt", "sessionid", "jsessionid"}
)  # fmt: skip
# ... or two neighbouring words that together make one of them (X-Session-Id, session_id).
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def credential_name(name: str, *, bare_key: bool = True) -> bool:
    """Whether a header or query parameter of this name carries a credential.

    Gateways put API keys, app secrets and tokens in headers (``X-Api-Key``,
    ``AppSecret``) or the query (``access_token``, ``key``): written literally into the
    configuration they would end up in files, version control and logs.

    The topology check asks the same of configuration keys (one list for both), with
    ``bare_key=False``: there ``key`` as a word alone names a column or a file (the sql
    adapter's ``key``/``parent_key``, sftp's ``private_key``), while ``api_key``,
    ``access_key`` and ``appKey`` still count.
    """
    lowered = name.lower()
    if any(part in lowered for part in _CREDENTIAL_PARTS):
        return True
    words = [word.lower() for word in _WORDS.findall(name)]
    pairs = [first + second for first, second in pairwise(words)]
    known = _CREDENTIAL_WORDS if bare_key else _CREDENTIAL_WORDS - {"key"}
    return any(word in known for word in words + pairs)


def _no_line_break(name: str, value: str) -> None:
    """A header whose name or value holds CR or LF: refused when the file loads, naming it.

    Sent as it is, the line break would end the header and start one of the file's
    choosing (``X-A: v\\r\\nX-Injected: 1``); the HTTP client refuses it only when
    the first request goes out, far from the configuration that holds it.
    """
    if any(c in name for c in "\r\n:") or not name.strip():
        raise ValueError(f"header name {name!r} is not a header name (no ':', CR or LF)")
    if "\r" in value or "\n" in value:
        raise ValueError(
            f"header {name!r}: its value holds a line break (CR or LF), which would end the "
            "header and start another; give the value on one line"
        )


def _literal_credential(kind: str, name: str) -> str:
    return (
        f"{kind} {name!r} looks like a credential: give its value as a secret reference "
        "('env:VARIABLE_NAME' or 'airflow:CONNECTION_ID'), not the secret itself"
    )


class BearerAuth(AdapterConfig):
    """``Authorization: Bearer <token>``."""

    type: Literal["bearer"]
    token: SecretRef


class BasicAuth(AdapterConfig):
    """HTTP basic authentication; the user name is not secret, the password is."""

    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: SecretRef


class HeaderAuth(AdapterConfig):
    """An API key in a header of the gateway's choosing (``X-Api-Key``, ``AppKey`` …)."""

    type: Literal["header"]
    header: str = Field(min_length=1, pattern=r"^[A-Za-z0-9-]+$")
    value: SecretRef


Auth = Annotated[BearerAuth | BasicAuth | HeaderAuth, Field(discriminator="type")]


class RetryConfig(AdapterConfig):
    """Retries of one request: connection errors, timeouts, 429 and 5xx, malformed pages.

    The wait before attempt *n + 1* is ``min(backoff_max, backoff_base * 2**(n-1))``,
    drawn uniformly from ``[0, that]`` when ``jitter`` is on (so many hub workers do not
    retry in step). A ``Retry-After`` header from the server is honoured up to
    ``retry_after_max`` seconds; a server asking for longer fails the read instead of
    stalling it.
    """

    max_attempts: int = Field(default=5, ge=1, le=50)
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=30.0, ge=0)
    jitter: bool = True
    retry_after_max: float = Field(default=120.0, ge=0)


class LimitsConfig(AdapterConfig):
    """Guards against a runaway server: page size in bytes, pages per read."""

    max_page_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_pages: int = Field(default=100_000, ge=1)


class PaginationConfig(AdapterConfig):
    """How the API splits a result into pages.

    - ``page``: ``?page=1&size=100`` (``first_page`` is 1 or 0);
    - ``offset``: ``?offset=0&limit=100``;
    - ``cursor``: the response carries the next page's token at ``cursor_path``
      (``next_cursor``), sent back as ``?cursor=…``; no token ends the read;
    - ``link``: the response's ``Link: <…>; rel="next"`` header (RFC 8288);
    - ``keyset``: the incremental parameters themselves page the result — each request
      asks for rows after the last (cursor, id) received. Needs ``incremental`` in
      ``after_id`` mode; the only style that stays exact while the department system is
      writing during the read (page and offset numbers shift when rows move).
    - ``none``: one response holds everything.

    ``page`` and ``offset`` end on an empty page, or on a short one when
    ``stop_on_short_page`` (only safe if the server never caps ``page_size``).
    """

    style: Literal["page", "offset", "cursor", "link", "keyset", "none"] = "page"
    page_size: int = Field(default=100, ge=1, le=100_000)
    page_param: str = "page"
    size_param: str = "size"
    first_page: int = Field(default=1, ge=0)
    offset_param: str = "offset"
    limit_param: str = "limit"
    cursor_param: str = "cursor"
    cursor_path: str = "next_cursor"
    stop_on_short_page: bool = False


class IncrementalConfig(AdapterConfig):
    """Reading only what changed since the last committed read.

    ``after_id`` mode: the API takes the last (cursor, id) and returns rows ordered by
    (cursor, id) strictly after it — ``?updated_after=T&after_id=ID``. Rows sharing the
    boundary timestamp are then neither repeated nor skipped.

    ``since`` mode, for APIs that only offer ``?updated_since=T`` (rows with cursor ≥ T):
    the state keeps T and the ids already read at T, and those rows are skipped when the
    API returns them again. Rows at T that change without their timestamp moving cannot
    be seen in this mode; prefer ``after_id`` when the API offers it. Each read asks from
    T again and skips the rows already read, so ``limits.max_pages`` must cover all rows
    sharing one timestamp, or a read cut off by it makes no progress.

    ``start`` is the cursor value of the very first read (omit to read everything): sent
    as the cursor parameter alone, so ``after_id`` APIs return rows after it and
    ``since`` APIs rows at or after it.
    """

    cursor_field: str = Field(min_length=1)
    id_field: str = Field(default="id", min_length=1)
    mode: Literal["after_id", "since"] = "after_id"
    since_param: str | None = None
    id_param: str = "after_id"
    start: str | None = None

    @property
    def cursor_param(self) -> str:
        """The query parameter carrying the cursor value, by mode unless configured."""
        if self.since_param:
            return self.since_param
        return "updated_after" if self.mode == "after_id" else "updated_since"


class StreamConfig(AdapterConfig):
    """One stream. Fields left out come from the source class's attributes."""

    endpoint: str | None = None
    mapping: str | dict[str, Any] | None = None
    records_path: str | None = None
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    pagination: PaginationConfig | None = None
    incremental: IncrementalConfig | None = None

    @field_validator("endpoint")
    @classmethod
    def _relative_endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme:
            raise ValueError("endpoint is a path under base_url (like /cases), not a full URL")
        for name, _ in parse_qsl(parts.query, keep_blank_values=True):
            if credential_name(name):
                raise ValueError(
                    f"endpoint carries the credential parameter {name!r} in its query: "
                    "put it under params with a secret reference (env:/airflow:) as its value"
                )
        return value

    @field_validator("params")
    @classmethod
    def _no_literal_credentials(
        cls, value: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        for name, given in value.items():
            if credential_name(name) and not is_secret_ref(given):
                raise ValueError(_literal_credential("parameter", name))
        return value


class ConformanceConfig(AdapterConfig):
    """Where a test deployment of the API offers the conformance-kit control endpoints."""

    control_path: str = "/_control"


class HttpConfig(AdapterConfig):
    """Configuration of :class:`adapters.builtin.http.HttpSource`."""

    base_url: str
    auth: Auth | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0, le=3600)
    verify_tls: bool = True
    ca_file: str | None = None
    retries: RetryConfig = Field(default_factory=RetryConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    health_path: str | None = None
    streams: dict[str, StreamConfig] = Field(default_factory=dict)
    conformance: ConformanceConfig | None = None

    @field_validator("base_url")
    @classmethod
    def _plain_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "base_url must not carry a user name or password; "
                "put the credentials in auth as env:/airflow: references"
            )
        if parts.query or parts.fragment:
            raise ValueError("base_url must not carry a query or fragment; use streams.*.params")
        return value.rstrip("/")

    @field_validator("headers")
    @classmethod
    def _no_credential_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, given in value.items():
            _no_line_break(name, given)
            if name.lower() in _CREDENTIAL_HEADERS:
                raise ValueError(
                    f"header {name!r} carries credentials: configure it under auth "
                    "(type: bearer/basic/header) with a secret reference"
                )
            if credential_name(name) and not is_secret_ref(given):
                raise ValueError(_literal_credential("header", name))
        return value

    @model_validator(mode="after")
    def _keyset_needs_after_id(self) -> HttpConfig:
        for name, stream in self.streams.items():
            if stream.pagination is None or stream.pagination.style != "keyset":
                continue
            if stream.incremental is None or stream.incremental.mode != "after_id":
                raise ValueError(
                    f"stream {name!r}: pagination style keyset needs incremental "
                    "with mode after_id (the cursor and id parameters page the result)"
                )
        return self


__all__ = [
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "ConformanceConfig",
    "HeaderAuth",
    "HttpConfig",
    "IncrementalConfig",
    "LimitsConfig",
    "PaginationConfig",
    "RetryConfig",
    "StreamConfig",
    "credential_name",
]
