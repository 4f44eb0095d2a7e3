"""Adapter configuration: validated with pydantic, secrets only by reference.

Configuration files are committed and reviewed, so they never hold a password. A field
typed :class:`SecretRef` holds a *reference* — ``env:NAME`` (an environment variable) or
``airflow:CONN_ID`` (an Airflow Connection, its password or full URI) — resolved at run
time. A literal secret in a configuration file is rejected with a message saying how to
reference it instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr, ValidationError

from adapters.sdk.errors import AdapterError, ConfigError
from standards.safe_yaml import problem_and_line, read_yaml_file

_REF = re.compile(r"^(env|airflow):([A-Za-z_][A-Za-z0-9_.-]{0,127})$")


def _check_ref(value: str) -> str:
    if _REF.match(value):
        return value
    scheme, colon, name = value.partition(":")
    if colon and scheme.lower() in ("env", "airflow"):
        # Meant as a reference, written wrong: say what is wrong with it. The name is
        # not quoted all the same — what follows the colon may be a secret pasted there.
        if scheme not in ("env", "airflow"):
            raise ValueError(
                f"a secret reference's scheme is written in lower case: "
                f"'{scheme.lower()}:NAME', not '{scheme}:'"
            )
        what = "an environment variable" if scheme == "env" else "an Airflow connection id"
        space = " (it holds a space)" if any(c.isspace() for c in name) else ""
        raise ValueError(
            f"the name after '{scheme}:' is not a valid name of {what}{space}: it starts "
            "with a letter or _ and holds only letters, digits, _ . and -, at most 128 "
            "characters"
        )
    raise ValueError(
        "secrets are not written into configuration files; give a reference instead: "
        "'env:VARIABLE_NAME' or 'airflow:CONNECTION_ID'"
    )


SecretRef = Annotated[str, AfterValidator(_check_ref)]


def is_secret_ref(value: object) -> bool:
    """Whether ``value`` is a secret reference (``env:NAME`` / ``airflow:CONN_ID``)."""
    return isinstance(value, str) and _REF.match(value) is not None


SecretResolver = Callable[[str], SecretStr]


def _airflow_secret(conn_id: str) -> SecretStr:
    """An Airflow Connection's URI (with its password), see :mod:`adapters.sdk.airflow_secrets`."""
    from adapters.sdk.airflow_secrets import connection_uri

    return SecretStr(connection_uri(conn_id))


def resolve_secret(ref: str, environ: Mapping[str, str] | None = None) -> SecretStr:
    """The secret a reference points to; AdapterError when it is not set."""
    match = _REF.match(ref)
    if match is None:
        raise AdapterError(f"not a secret reference: use env:NAME or airflow:CONN_ID ({ref!r})")
    scheme, name = match.groups()
    if scheme == "env":
        env = os.environ if environ is None else environ
        if name not in env:
            raise AdapterError(f"environment variable {name} (from {ref}) is not set")
        return SecretStr(env[name])
    return _airflow_secret(name)


class AdapterConfig(BaseModel):
    """Base of every adapter's configuration model: unknown keys are errors (typos show)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @classmethod
    def load(cls, data: Mapping[str, Any] | Path | str, *, source: str | None = None) -> Self:
        """Validate a mapping or a YAML file; ConfigError lists every problem with its path."""
        where = source or "configuration"
        if isinstance(data, Path | str):
            path = Path(data)
            where = source or str(path)
            # The hub's one configuration loader: a key given twice is refused (PyYAML
            # would keep the last without a word), and so are aliases, whose expansion
            # can exhaust memory.
            try:
                loaded = read_yaml_file(path)
            except OSError as exc:
                raise ConfigError(where, [("", f"cannot read the file: {exc.strerror}")]) from None
            except UnicodeDecodeError as exc:
                line = exc.object[: exc.start].count(b"\n") + 1
                raise ConfigError(
                    where, [(f"line {line}", "not UTF-8 (save the file as UTF-8)")]
                ) from None
            except yaml.YAMLError as exc:
                problem, line = problem_and_line(exc)
                at = f"line {line}" if line is not None else ""
                raise ConfigError(where, [(at, f"cannot read YAML: {problem}")]) from None
            if loaded is None:
                loaded = {}
            if not isinstance(loaded, dict):
                raise ConfigError(where, [("", "the top level must be a mapping")])
            data = loaded
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise ConfigError(where, validation_problems(exc)) from None


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """Each pydantic error as (dotted path, message), without pydantic's "Value error, "
    in front of the messages our validators raise (they read as the docs quote them)."""
    return [_problem(err) for err in exc.errors(include_url=False)]


_YAML_SCALARS = {True: "true", False: "false", None: "null"}


def _problem(err: Any) -> tuple[str, str]:
    loc = err["loc"]
    if loc and loc[-1] == "[key]" and not isinstance(err.get("input"), str):
        # A mapping key YAML did not read as text (``true: {}``): pydantic names it
        # ``streams.1.[key]`` (True counts as 1). Say what was written and how it was read.
        key = err.get("input")
        written = _YAML_SCALARS.get(key, str(key)) if isinstance(key, bool | None) else str(key)
        kind = "a boolean" if isinstance(key, bool) else f"a {type(key).__name__}"
        if key is None:
            kind = "null (no value)"
        where = ".".join([*(str(p) for p in loc[:-2]), written])
        return where, (
            f"the key {written} was read as {kind}, not as a name: YAML reads true/false/"
            f'yes/no/on/off, null and numbers unquoted as values; quote it ("{written}")'
        )
    return ".".join(str(p) for p in loc), err["msg"].removeprefix("Value error, ")


__all__ = [
    "AdapterConfig",
    "SecretRef",
    "SecretResolver",
    "SecretStr",
    "is_secret_ref",
    "resolve_secret",
    "validation_problems",
]
