"""What sources and sinks share: a validated configuration, a home folder, secrets."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from adapters.sdk.config import AdapterConfig, SecretResolver, resolve_secret
from adapters.sdk.department_code import department_code, failure_text
from adapters.sdk.errors import AdapterCodeError, AdapterError


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

    @classmethod
    def configured(
        cls,
        data: Mapping[str, Any] | Path | str,
        *,
        source: str | None = None,
        base_dir: Path | None = None,
        secrets: SecretResolver | None = None,
    ) -> Self:
        """Validate ``data`` (a mapping or a YAML file) and build the adapter.

        Configuration problems raise ConfigError. Anything else a department's class
        raises while it is built (its ``__init__``, a validator of its own) is its own
        code going wrong: it becomes one AdapterCodeError naming the class, so a command
        checking many departments reports it as a problem line instead of a traceback —
        a SystemExit or a KeyboardInterrupt of its own included (a real Ctrl-C still
        stops the command, see :mod:`adapters.sdk.department_code`).
        """
        with department_code() as failed:
            try:
                config = cls.Config.load(data, source=source)
                return cls(config, base_dir=base_dir, secrets=secrets)
            except AdapterError:
                raise
            except BaseException as exc:  # a SystemExit too: it must not end the hub
                if not failed(exc):
                    raise
                raise AdapterCodeError(
                    f"adapter {cls.__module__}:{cls.__qualname__} cannot be created from "
                    f"its configuration: {failure_text(exc)}"
                ) from exc
