"""Incremental state of an ``http`` stream: where the next read starts.

Two modes, because department APIs offer one of two filters:

``after_id`` — the API returns rows strictly after a (cursor, id) pair, ordered by
(cursor, id): ``?updated_after=T&after_id=ID``. The state is the pair of the last row
yielded, taken in the API's own order (so it needs no opinion on how the API compares
its ids). Rows sharing T that were already read are after none of themselves; rows
added at T later get larger ids and are read next time.

``since`` — the API only offers ``?updated_since=T`` (cursor ≥ T). Asking from the last
T returns the rows at T again, so the state also keeps the ids already read at T, and
those are skipped. The list only holds ids at the latest T, so it stays as small as the
number of rows the department writes within one timestamp.

Values are stored exactly as the API sent them and sent back unchanged: the adapter never
reformats a timestamp it did not write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adapters.builtin.http_config import IncrementalConfig
from adapters.sdk.errors import AdapterError

Scalar = str | int | float


def dig(obj: Any, path: str) -> Any:
    """The value at a dotted path (``data.list``) in a JSON document; None if absent."""
    if not path:
        return obj
    for part in path.split("."):
        if not isinstance(obj, Mapping) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def order_key(value: Scalar) -> tuple[int, Any]:
    """How ``since`` mode compares cursor values: as instants when they parse as ISO 8601.

    Naive times compare as UTC: an API that mixes naive and zoned times is wrong anyway,
    and this keeps the comparison total rather than raising.
    """
    if isinstance(value, int | float):
        return (0, value)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return (2, value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (1, parsed)


class IncrementalCursor:
    """The position of one read, advanced row by row as envelopes are yielded."""

    def __init__(self, spec: IncrementalConfig, state: Mapping[str, Any] | None, stream: str):
        self.spec = spec
        self.stream = stream
        self.cursor: Scalar | None = None
        self.last_id: Scalar | None = None
        self.ids: list[Scalar] = []  # since mode: ids read at ``cursor``
        self._seen: set[Scalar] = set()
        self._start_ids: frozenset[Scalar] = frozenset()
        self._start_key: tuple[int, Any] | None = None
        if state:
            self._load(state)
        self.start_cursor = self.cursor
        self.start_id = self.last_id

    def _load(self, state: Mapping[str, Any]) -> None:
        where = f"stored state of stream {self.stream!r}"
        mode = state.get("mode")
        if mode != self.spec.mode:
            raise AdapterError(
                f"{where} was written in incremental mode {mode!r}, the configuration says "
                f"{self.spec.mode!r}; switch back, or reset the stream's state to read it "
                "again from the start"
            )
        cursor = state.get("cursor")
        if not _scalar(cursor):
            raise AdapterError(f"{where} has no usable 'cursor' value: {cursor!r}")
        self.cursor = cursor
        if mode == "after_id":
            last_id = state.get("id")
            if not _scalar(last_id):
                raise AdapterError(f"{where} has no usable 'id' value: {last_id!r}")
            self.last_id = last_id
        else:
            ids = state.get("ids")
            if not isinstance(ids, list) or not all(_scalar(i) for i in ids):
                raise AdapterError(f"{where} has no usable 'ids' list")
            self.ids = list(ids)
            self._seen = set(ids)
            self._start_ids = frozenset(ids)
            self._start_key = order_key(cursor)

    # -- what to ask the API for

    def start_params(self) -> dict[str, Scalar]:
        """Query parameters selecting the rows after the stored position."""
        spec = self.spec
        if self.start_cursor is None:
            return {spec.cursor_param: spec.start} if spec.start is not None else {}
        params: dict[str, Scalar] = {spec.cursor_param: self.start_cursor}
        if spec.mode == "after_id" and self.start_id is not None:
            params[spec.id_param] = self.start_id
        return params

    def keyset_params(self, cursor: Scalar, row_id: Scalar) -> dict[str, Scalar]:
        """Query parameters for the page after the row (cursor, row_id)."""
        return {self.spec.cursor_param: cursor, self.spec.id_param: row_id}

    # -- row by row

    def values(self, obj: Mapping[str, Any]) -> tuple[Scalar, Scalar] | None:
        """The row's (cursor, id), or None when either is missing or not a scalar."""
        cursor = dig(obj, self.spec.cursor_field)
        row_id = dig(obj, self.spec.id_field)
        if _scalar(cursor) and _scalar(row_id):
            return cursor, row_id
        return None

    def already_read(self, values: tuple[Scalar, Scalar]) -> bool:
        """``since`` mode: a row at the stored cursor that an earlier read yielded."""
        if self._start_key is None:
            return False
        cursor, row_id = values
        return row_id in self._start_ids and order_key(cursor) == self._start_key

    def advance(self, values: tuple[Scalar, Scalar]) -> None:
        """Move past a row that has been yielded."""
        cursor, row_id = values
        if self.spec.mode == "after_id":
            self.cursor, self.last_id = cursor, row_id
            return
        if self.cursor is None or order_key(cursor) > order_key(self.cursor):
            self.cursor = cursor
            self.ids = [row_id]
            self._seen = {row_id}
        elif order_key(cursor) == order_key(self.cursor) and row_id not in self._seen:
            self.ids.append(row_id)
            self._seen.add(row_id)
        # An older row (the API is not ordered by cursor) was yielded but moves nothing.

    def state(self) -> dict[str, Any]:
        """JSON-able state after the rows advanced past so far ({} before any)."""
        if self.cursor is None:
            return {}
        if self.spec.mode == "after_id":
            return {"mode": "after_id", "cursor": self.cursor, "id": self.last_id}
        return {"mode": "since", "cursor": self.cursor, "ids": list(self.ids)}


__all__ = ["IncrementalCursor", "dig", "order_key"]
