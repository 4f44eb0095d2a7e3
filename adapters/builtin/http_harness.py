"""Conformance harness for the ``http`` source: a test deployment's control endpoints.

The kit cannot write to a department's production API, and an API has no generic way to
insert rows. A *test* deployment (the department's staging stub, or Tongyuan's own
``tests/httpdept.py``) may offer a small control API under ``conformance.control_path``,
with the source's own authentication; the harness speaks only that (POST, JSON)::

    POST {control}/reset                             -> {}
    POST {control}/add    {"n", "cursor_value", "bad"} -> {"rows": [valid objects]}
    POST {control}/change {"ids": [...]}             -> {}
    POST {control}/bulk   {"n"}                      -> {}

``add`` returns the objects it created exactly as the data endpoint will serve them, so
the harness learns their primary keys by running them through the stream's own mapping —
it needs no knowledge of the department's field names beyond the configured id field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from adapters.builtin.http_read import HttpStream
from adapters.builtin.http_state import dig
from adapters.builtin.http_transport import HttpTransport
from adapters.conformance.harness import Harness
from adapters.sdk.errors import AdapterError
from standards.records import SourceLocation

if TYPE_CHECKING:
    from adapters.builtin.http import HttpSource


class HttpHarness(Harness):
    """Drives the rows behind one ``http`` stream through the control endpoints."""

    def __init__(self, source: HttpSource, stream: HttpStream) -> None:
        if source.config.conformance is None:
            raise AdapterError("the source configuration has no conformance section")
        self.stream = stream.name
        self._stream = stream
        self._transport: HttpTransport = source.transport()
        self._control = self._transport.url(source.config.conformance.control_path)
        self._id_field = stream.incremental.id_field if stream.incremental else "id"
        self._ids: dict[tuple, Any] = {}

    def _post(self, action: str, payload: dict[str, Any]) -> Any:
        return self._transport.post_json(
            f"{self._control}/{action}", payload, what=f"conformance control {action!r}"
        )

    def reset(self) -> None:
        self._post("reset", {})
        self._ids.clear()

    def add(self, n: int, *, cursor_value: Any | None = None, bad: int = 0) -> list[tuple]:
        value = cursor_value
        if isinstance(value, datetime | date):
            value = value.isoformat()
        answer = self._post("add", {"n": n, "cursor_value": value, "bad": bad})
        rows = answer.get("rows") if isinstance(answer, dict) else None
        if not isinstance(rows, list) or len(rows) != n:
            raise AdapterError(
                f"conformance control 'add' of {n} rows answered with "
                f"{len(rows) if isinstance(rows, list) else 'no'} rows"
            )
        keys = []
        for i, row in enumerate(rows, start=1):
            location = SourceLocation(f"{self._control}/add", i)
            record, findings = self._stream.mapping.map(row, location)
            if record is None:
                problems = "; ".join(f.message for f in findings[:3])
                raise AdapterError(
                    f"row {i} the control API added as valid does not map: {problems}"
                )
            key = record.key()
            keys.append(key)
            self._ids[key] = dig(row, self._id_field)
        return keys

    def change(self, keys: list[tuple]) -> None:
        missing = [k for k in keys if k not in self._ids]
        if missing:
            raise AdapterError(
                f"cannot change {len(missing)} records the harness did not add "
                f"(first: {missing[0]})"
            )
        self._post("change", {"ids": [self._ids[k] for k in keys]})

    def add_bulk(self, n: int) -> None:
        self._post("bulk", {"n": n})

    def close(self) -> None:
        self._transport.close()


__all__ = ["HttpHarness"]
