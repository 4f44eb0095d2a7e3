"""Sinks: write standard records into a system (pushing items up and down the levels)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from adapters.sdk.base import ConfiguredAdapter
from standards.records import StandardRecord


@dataclass(slots=True)
class WriteResult:
    """What a sink did; ``location`` names where the records went (a file, a table).

    ``refused`` holds the natural keys of records the sink left out because they cannot
    be written (``errors`` says why, naming the field), so the caller does not count them
    as delivered and sends them again once corrected.
    """

    written: int = 0
    location: str = ""
    errors: list[str] = field(default_factory=list)
    refused: list[tuple[Any, ...]] = field(default_factory=list)


class Sink(ConfiguredAdapter, ABC):
    """Base of every sink. Writes must be idempotent: the hub may retry a delivery."""

    @abstractmethod
    def write(self, stream: str, records: Iterable[StandardRecord]) -> WriteResult:
        """Deliver the records of one stream."""
