"""What sources and sinks share: a validated configuration, a home folder, secrets."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from adapters.sdk.config import AdapterConfig, SecretResolver, resolve_secret
from adapters.sdk.department_code import department_code, failure_text, package_file_error
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
        stops the command, see :mod:`adapters.sdk.department_code`, also one the class
        caught and turned into an AdapterError). So does a ConfigError about a file the
        package ships (its own ``mapping.yaml`` broken): the operator's configuration is
        not what is wrong, and the department's package alone is unusable.
        """
        with department_code() as failed:
            try:
                config = cls.Config.load(data, source=source)
            except BaseException as exc:
                if not failed(exc) or isinstance(exc, AdapterError):
                    raise
                raise _code_error(cls, exc) from exc
            try:
                return cls(config, base_dir=base_dir, secrets=secrets)
            except BaseException as exc:  # a SystemExit too: it must not end the hub
                if not failed(exc):  # a real Ctrl-C, whatever the class made of it
                    raise
                shipped = package_file_error(cls, exc)  # its own mapping.yaml broken
                if shipped is not None:
                    raise shipped from exc
                if isinstance(exc, AdapterError):  # a ConfigError: the configuration's
                    raise
                raise _code_error(cls, exc) from exc


def _code_error(cls: type, exc: BaseException) -> AdapterCodeError:
    """What the class raised while built, as one problem line naming it."""
    return AdapterCodeError(
        f"adapter {cls.__module__}:{cls.__qualname__} cannot be created from its "
        f"configuration: {failure_text(exc)}"
    )
