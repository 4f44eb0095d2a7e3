"""The conformance harness: how the kit drives the system behind a source.

The kit cannot test incremental reads by reading alone: it must add rows, change them,
and add rows that share a cursor value, then check what the next read yields. Each
source exposes a harness for its own kind of system (a database table, a drop folder, a
test HTTP service) through ``Source.conformance_harness()``; the kit only speaks this
protocol.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, runtime_checkable

#: The cursor value the kit passes to ``Harness.add`` in the boundary check. A harness
#: whose cursor column is not a timestamp converts it to its own type (an integer cursor
#: may use ``int(value.timestamp())``, a file source the file modification time).
BOUNDARY_CURSOR_VALUE = datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=8)))


class Harness(ABC):
    """Drives the system behind one source so the kit can test incremental reads."""

    #: The stream of the source whose rows this harness adds.
    stream: str

    @abstractmethod
    def reset(self) -> None:
        """Empty the source system (the kit calls it between checks)."""

    @abstractmethod
    def add(self, n: int, *, cursor_value: Any | None = None, bad: int = 0) -> list[tuple]:
        """Add ``n`` valid rows and ``bad`` rows that cannot be mapped.

        Without ``cursor_value`` the rows get a cursor value later than every row already
        in the system (as a clock would). With ``cursor_value`` (the kit passes
        :data:`BOUNDARY_CURSOR_VALUE`) all rows added share that value: the boundary
        check adds 10 rows, reads, adds 10 more with the same value and expects exactly
        the 10 new ones on the next read. Bad rows are valid enough to be read, but
        cannot be mapped (a date no format matches, an unknown code). Returns the
        standard primary-key tuples of the valid rows added, in the order of the
        stream's ``StreamSpec.primary_key``.
        """

    @abstractmethod
    def change(self, keys: list[tuple]) -> None:
        """Modify the records with these primary keys so that their cursor advances."""

    @abstractmethod
    def add_bulk(self, n: int) -> None:
        """Add ``n`` valid rows as fast as the system allows (the memory check)."""

    def close(self) -> None:  # noqa: B027 - harnesses without resources need nothing
        """Release whatever the harness holds (connections, servers)."""


@runtime_checkable
class HasHarness(Protocol):
    """A source that can be driven by the conformance kit."""

    def conformance_harness(self) -> Harness: ...


__all__ = ["BOUNDARY_CURSOR_VALUE", "Harness", "HasHarness"]
