"""What sources and sinks share: a validated configuration, a home folder, secrets."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from adapters.sdk.config import AdapterConfig, SecretResolver, resolve_secret


class ConfiguredAdapter:
    """Holds an adapter's configuration.

    ``base_dir`` is the folder of the configuration file: relative paths in it (mapping
    files, drop folders) are resolved against it. ``resolve_secret`` turns ``env:`` and
    ``airflow:`` references into secrets at the moment they are needed, never earlier.
    """

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
