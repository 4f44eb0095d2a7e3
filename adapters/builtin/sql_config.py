"""Configuration of the ``sql`` source: which tables, which columns, which secret URL.

Table and column names come from configuration written by department engineers, and the
adapter builds SQL from them. They are therefore accepted only as plain identifiers
(letters — Chinese included —, digits, underscores) and are later quoted by SQLAlchemy
from reflected table objects; values never enter SQL text, they are bound parameters.
A name such as ``cases; DROP TABLE x`` is refused when the configuration is loaded, long
before any connection is made.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from adapters.sdk.config import AdapterConfig, SecretRef

MAX_IDENTIFIER = 63  # PostgreSQL's limit, the smallest of the common databases
_IDENTIFIER = re.compile(r"^[^\W\d]\w*$")


def check_identifier(value: str) -> str:
    """Accept a plain SQL identifier; refuse anything that could carry SQL."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value) or len(value) > MAX_IDENTIFIER:
        raise ValueError(
            f"{value!r} is not a plain SQL identifier: table and column names may hold only "
            f"letters, digits and underscores, start with a letter or underscore, and be at "
            f"most {MAX_IDENTIFIER} characters (the adapter quotes names itself; SQL is never "
            f"written into configuration)"
        )
    return value


def _as_list(value: Any) -> Any:
    """Let a single name stand for a one-element list (``order_by: seq``)."""
    return [value] if isinstance(value, str) else value


Identifier = Annotated[str, AfterValidator(check_identifier)]
Identifiers = Annotated[list[Identifier], BeforeValidator(_as_list)]


class ChildConfig(AdapterConfig):
    """Rows of another table attached to each parent row (case events to their case).

    ``key`` is the child table's column pointing at the parent; ``parent_key`` the parent
    column it matches (default: the stream's tie-breaker, normally the primary key).
    """

    table: Identifier
    schema_name: Identifier | None = Field(default=None, alias="schema")
    key: Identifier
    parent_key: Identifier | None = None
    order_by: Identifiers = Field(default_factory=list)


class StreamConfig(AdapterConfig):
    """One stream: a table, its mapping, and the columns incremental reads follow.

    ``table`` defaults to the stream's name; ``mapping`` is required, here or as a class
    attribute of the source (so that a YAML file may override parts of a class's stream).
    ``cursor`` is an updated-at or monotonic id column; ``tiebreaker`` the column(s) that
    order rows sharing a cursor value (default: the table's primary key). ``mapping`` is a
    mapping file (relative to the configuration file) or the mapping itself, inline.
    """

    table: Identifier | None = None
    schema_name: Identifier | None = Field(default=None, alias="schema")
    mapping: str | dict[str, Any] | None = None
    cursor: Identifier | None = None
    tiebreaker: Identifiers | None = None
    children: dict[Identifier, ChildConfig] = Field(default_factory=dict)
    page_size: int = Field(default=2000, ge=1, le=50_000)


class SqlConfig(AdapterConfig):
    """The ``sql`` source: a secret reference to a SQLAlchemy URL, and its streams.

    ``url`` is ``env:NAME`` or ``airflow:CONN_ID`` — a URL written into the file (it would
    carry the password) is refused. ``streams`` may be empty when the source class declares
    its one stream with class attributes.
    """

    url: SecretRef
    streams: dict[Identifier, StreamConfig] = Field(default_factory=dict)


__all__ = [
    "MAX_IDENTIFIER",
    "ChildConfig",
    "Identifier",
    "Identifiers",
    "SqlConfig",
    "StreamConfig",
    "check_identifier",
]
