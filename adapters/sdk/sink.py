"""Sinks: write standard records into a system (pushing items up and down the levels)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field

from adapters.sdk.base import ConfiguredAdapter
from standards.records import StandardRecord


@dataclass(slots=True)
class WriteResult:
    """What a sink did; ``location`` names where the records went (a file, a table)."""

    written: int = 0
    location: str = ""
    errors: list[str] = field(default_factory=list)


class Sink(ConfiguredAdapter, ABC):
    """Base of every sink. Writes must be idempotent: the hub may retry a delivery."""

    @abstractmethod
    def write(self, stream: str, records: Iterable[StandardRecord]) -> WriteResult:
        """Deliver the records of one stream."""
