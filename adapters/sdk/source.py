"""Sources: read a department system, yield standard records in named streams.

Modelled on the Singer SDK's Stream and dlt's resources: a source declares its streams
(name, record kind, primary key); ``read`` returns a :class:`StreamRead` that yields
envelopes and knows the state to store *once the hub has committed what was yielded*.
State is advanced by the hub in the same transaction as the data, never by the adapter
on its own — the lost-cursor and duplicate bugs users hit in other tools come from
sources that advance state before the data is safe.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from adapters.sdk.base import ConfiguredAdapter
from adapters.sdk.config import SecretResolver
from adapters.sdk.envelope import Envelope

State = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One stream: its name, the record kind it yields, and what identifies a record.

    ``primary_key`` names standard fields of the record kind (``dept_case_no`` …), which
    the conformance kit checks are unique; ``cursor_field`` names the source-side column
    incremental reads follow, for documentation and checks.
    """

    name: str
    kind: str
    primary_key: tuple[str, ...]
    cursor_field: str | None = None


class StreamRead(ABC):
    """One read of one stream: iterate for envelopes, then ``state()`` and ``commit()``.

    The hub iterates, stores the records, then in the same transaction stores
    ``state()``; after that transaction commits it calls ``commit()``, where sources that
    must acknowledge (move a remote file to ``done/``) do so. ``close()`` releases
    connections whatever happened; a read that is closed without ``commit()`` leaves the
    source untouched, so the next run reads the same data again.
    """

    @abstractmethod
    def __iter__(self) -> Iterator[Envelope]: ...

    @abstractmethod
    def state(self) -> State:
        """State after everything yielded so far (JSON-serialisable)."""

    def commit(self) -> None:  # noqa: B027 - most sources have nothing to acknowledge
        """Acknowledge what was read, after the hub committed it."""

    def close(self) -> None:  # noqa: B027
        """Release resources."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Source(ConfiguredAdapter, ABC):
    """Base of every source adapter.

    Subclasses set ``name`` (the registry name), ``Config`` (a pydantic model derived from
    :class:`AdapterConfig`), and implement ``streams``, ``check`` and ``read``.

    A department subclass may say ``stream = "cases"`` (DESIGN's one-stream style): that
    would hide :meth:`stream`, so the name is moved to ``default_stream`` instead.
    """

    default_stream: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("stream")
        if isinstance(declared, str):
            cls.default_stream = declared
            delattr(cls, "stream")

    @classmethod
    def from_config(
        cls,
        data: Mapping[str, Any] | Path | str,
        *,
        secrets: SecretResolver | None = None,
        base_dir: Path | None = None,
    ) -> Self:
        """Build from a mapping or a YAML file; configuration errors raise ConfigError,
        anything else the class raises while built an AdapterError naming it."""
        if base_dir is None and isinstance(data, Path | str):
            base_dir = Path(data).resolve().parent
        return cls.configured(data, base_dir=base_dir, secrets=secrets)

    @abstractmethod
    def streams(self) -> list[StreamSpec]:
        """The streams this source offers."""

    @abstractmethod
    def check(self) -> None:
        """Connect and authenticate; raise ConnectionCheckError with the reason if not."""

    @abstractmethod
    def read(self, stream: str, state: State | None = None) -> StreamRead:
        """Read one stream, incrementally from ``state`` (None: from the beginning)."""

    def stream(self, name: str) -> StreamSpec:
        for spec in self.streams():
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self.streams())
        raise KeyError(f"{type(self).__name__} has no stream {name!r} (streams: {known})")
