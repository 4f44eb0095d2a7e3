"""Sinks: write standard records into a system (pushing items up and down the levels)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from adapters.sdk.config import AdapterConfig, SecretResolver, resolve_secret
from standards.records import StandardRecord


@dataclass(slots=True)
class WriteResult:
    """What a sink did; ``location`` names where the records went (a file, a table)."""

    written: int = 0
    location: str = ""
    errors: list[str] = field(default_factory=list)


class Sink(ABC):
    """Base of every sink. Writes must be idempotent: the hub may retry a delivery."""

    name: ClassVar[str]
    Config: ClassVar[type[AdapterConfig]]

    def __init__(
        self,
        config: AdapterConfig,
        *,
        base_dir: Path | None = None,
        secrets: SecretResolver | None = None,
    ) -> None:
        self.config = config
        self.base_dir = base_dir or Path.cwd()
        self.resolve_secret: SecretResolver = secrets or resolve_secret

    @abstractmethod
    def write(self, stream: str, records: Iterable[StandardRecord]) -> WriteResult:
        """Deliver the records of one stream."""
