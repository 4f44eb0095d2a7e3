"""Airflow connections and variables read from any process: a task, the CLI, a test.

An ``airflow:CONN_ID`` reference is resolved where the adapter runs. Inside an Airflow
task the supervisor answers from the metadata database. Anywhere else (``tongyuan sync
items --node CODE`` repairing a failed step, ``airflow dags test``, the hub's own
``dag.test()`` runner) Airflow asks only the environment (``AIRFLOW_CONN_…``) and external
secrets backends, so a connection made with ``airflow connections add`` was "not found";
there the metadata database is asked directly, as for the topology Variable.

Importing Airflow configures logging for the whole process: a handler on the root logger
writing to stdout, warnings captured into it. A command printing ``--json`` then had the
hub's own log lines (and tracebacks) in front of its JSON. Airflow is therefore imported
with the process's logging kept as it was (:func:`logging_kept`).

Airflow is imported lazily (it is big); nothing here imports it at module level.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from adapters.sdk.errors import AdapterError

log = logging.getLogger(__name__)

# Set by the application (the tongyuan CLI): the Airflow environment of this hub, used
# when the process names no Airflow of its own (see use_airflow_environment).
_default_environment: Callable[[], Mapping[str, str]] | None = None

# Variables that say which Airflow (and so which metadata database) a process uses: its
# home, its configuration file, and the metadata database in any of the forms Airflow
# reads (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, …_CMD, …_SECRET).
_AIRFLOW_CHOICE = ("AIRFLOW_HOME", "AIRFLOW_CONFIG")
_METADATA_DB_PREFIX = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"


@dataclass(slots=True)
class _LoggerState:
    level: int
    handlers: list[logging.Handler]
    propagate: bool
    disabled: bool


def _logger_states() -> dict[str, _LoggerState]:
    loggers: dict[str, Any] = {"": logging.getLogger()}
    loggers.update(logging.Logger.manager.loggerDict)
    return {
        name: _LoggerState(lg.level, list(lg.handlers), lg.propagate, lg.disabled)
        for name, lg in loggers.items()
        if isinstance(lg, logging.Logger)
    }


@contextmanager
def logging_kept() -> Iterator[None]:
    """Run the body (an Airflow import) and put the process's logging back as it was.

    Levels, handlers, propagation and disabled flags of the root logger and of every
    logger that existed before are restored, and warnings go where they went. Loggers
    the body created keep what it gave them; with the root's handlers back, their
    records reach the hub's handlers, not Airflow's stdout. In a process where Airflow
    is already set up (a task) there is nothing to undo.
    """
    before = _logger_states()
    showwarning = warnings.showwarning
    try:
        yield
    finally:
        loggers: dict[str, Any] = {"": logging.getLogger()}
        loggers.update(logging.Logger.manager.loggerDict)
        for name, state in before.items():
            lg = loggers.get(name)
            if isinstance(lg, logging.Logger):
                lg.setLevel(state.level)
                lg.handlers[:] = state.handlers
                lg.propagate, lg.disabled = state.propagate, state.disabled
        if warnings.showwarning is not showwarning:
            logging.captureWarnings(False)
            warnings.showwarning = showwarning


def use_airflow_environment(provider: Callable[[], Mapping[str, str]] | None) -> None:
    """The Airflow environment to apply, before Airflow's first import, in a process
    whose environment names no Airflow (no ``AIRFLOW_HOME``, ``AIRFLOW_CONFIG`` nor
    metadata database, see :func:`_names_airflow`): the hub's own, so the CLI reads the
    connections its Airflow holds instead of looking in an empty ``~/airflow``."""
    global _default_environment
    _default_environment = provider


def _names_airflow(environ: Mapping[str, str]) -> bool:
    """Whether an environment names its Airflow: a home, a configuration file, or the
    metadata database (plain, ``_CMD`` or ``_SECRET``). Then the hub's own is not applied:
    its plain ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` would beat the shell's ``_CMD`` /
    ``_SECRET`` or configuration file, and lookups would go to the hub's database."""
    return any(environ.get(name) for name in _AIRFLOW_CHOICE) or any(
        name.startswith(_METADATA_DB_PREFIX) and value for name, value in environ.items()
    )


def _prepare_environment() -> None:
    if "airflow" in sys.modules or _default_environment is None:
        return
    if _names_airflow(os.environ):
        return
    os.environ.update(_default_environment())


def _supervised() -> bool:
    """True inside an Airflow task, where the supervisor answers from the metadata DB."""
    with logging_kept():
        from airflow.sdk.execution_time import task_runner

    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def metastore_variable(key: str) -> str | None:
    """A Variable from the metadata database (for a process outside a task)."""
    with logging_kept():
        _prepare_environment()
        from airflow.secrets.metastore import MetastoreBackend

        value = MetastoreBackend().get_variable(key)
    return None if value is None else str(value)


def _metastore_connection_uri(conn_id: str) -> str | None:
    with logging_kept():
        from airflow.secrets.metastore import MetastoreBackend

        conn = MetastoreBackend().get_connection(conn_id)
    return None if conn is None else str(conn.get_uri())


def connection_uri(conn_id: str) -> str:
    """The URI (password included) of Airflow connection ``conn_id``; AdapterError when
    neither Airflow's own lookup nor, outside a task, the metadata database has it."""
    with logging_kept():
        _prepare_environment()
        try:
            from airflow.sdk import BaseHook  # type: ignore[attr-defined]
        except ImportError:  # pragma: no cover - older layout
            from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    try:
        with logging_kept():
            return str(BaseHook.get_connection(conn_id).get_uri())
    except Exception as exc:  # Airflow raises its own not-found type per version
        reason = str(exc)
    if _supervised():
        raise AdapterError(f"Airflow connection {conn_id!r} not found: {reason}")
    try:
        uri = _metastore_connection_uri(conn_id)
    except Exception as exc:  # no metadata database reachable from here
        raise AdapterError(
            f"Airflow connection {conn_id!r} not found: {reason}; the Airflow metadata "
            f"database could not be read either ({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    if uri is None:
        raise AdapterError(
            f"Airflow connection {conn_id!r} not found: not in the environment "
            f"(AIRFLOW_CONN_{conn_id.upper()}), the secrets backends or the Airflow metadata "
            f"database ({_metadata_database()})"
        )
    return uri


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


def _metadata_database() -> str:
    """Which metadata database was asked, without its password."""
    try:
        from airflow.configuration import conf

        from adapters.sdk.db_url import safe_url_text

        return safe_url_text(conf.get("database", "sql_alchemy_conn"))
    except Exception:  # only for a message
        return "as configured for Airflow"
