"""The adapter SDK: what a department writes to expose its system to the hub.

A *source* reads a department system and yields standard records (``standards.records``)
in named streams, each record wrapped in an :class:`Envelope` that says where it came
from. Incremental state is a small JSON-able dict the hub stores after it has committed
everything read, and hands back on the next run. A *sink* writes standard records into a
system (used to push items up and down the levels).
"""

from adapters.sdk.config import AdapterConfig, SecretResolver, SecretStr, resolve_secret
from adapters.sdk.envelope import Envelope
from adapters.sdk.errors import (
    AdapterCodeError,
    AdapterError,
    ConfigError,
    ConnectionCheckError,
)
from adapters.sdk.sink import Sink, WriteResult
from adapters.sdk.source import Source, StreamRead, StreamSpec

__all__ = [
    "AdapterCodeError",
    "AdapterConfig",
    "AdapterError",
    "ConfigError",
    "ConnectionCheckError",
    "Envelope",
    "SecretResolver",
    "SecretStr",
    "Sink",
    "Source",
    "StreamRead",
    "StreamSpec",
    "WriteResult",
    "resolve_secret",
]
