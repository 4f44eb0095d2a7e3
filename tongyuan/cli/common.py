"""Shared pieces of the CLI: consoles, settings, progress bars, common options."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from adapters.sdk.airflow_secrets import use_airflow_environment
from tongyuan.config import ENV_DATABASE_URL, ENV_HOME, ConfigError, Settings, load_settings
from tongyuan.logs import configure_logging
from tongyuan.orchestration.tasks import ENV_TOPOLOGY

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

console = Console()
err_console = Console(stderr=True)

# --topology of every command that reads one (the Airflow DAGs read the same variable).
TopologyOption = Annotated[
    str | None,
    typer.Option(
        "--topology",
        "-t",
        envvar=ENV_TOPOLOGY,
        show_envvar=True,
        help="Topology YAML, or a shipped example (shenzhen, lanzhou). "
        "Default: the shipped Shenzhen example.",
    ),
]


# Characters a terminal acts on instead of showing: C0 controls (ESC starts the sequences
# that erase a line, move the cursor or hide the rest of it), DEL, C1 controls (U+009B is
# a one-character CSI), the bidirectional overrides and isolates that reorder what is
# shown, and the Unicode line and paragraph separators.
_UNSHOWN = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x200E, 0x200F,
            *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]  # fmt: skip
_ESCAPES = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _UNSHOWN}
_ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})  # as repr writes them
_ESCAPES_KEEP_NEWLINES = {c: e for c, e in _ESCAPES.items() if c != 0x0A}


def shown(value: object, *, markup: bool = True, newlines: bool = False) -> str:
    """Untrusted text (a file name, a value, a message quoting either) made safe to print.

    Rich's ``escape`` only neutralises its markup; a drop-folder file named
    ``cases_<ESC>[2K<CR>valid: 1 files, 0 problems<ESC>[8m.xml`` would still erase the
    error line and print a forged verdict. Every character a terminal acts on is written
    as its escape (``\\x1b``, ``\\u202e``), as ``repr`` does. ``markup`` also escapes
    Rich markup (for ``console.print`` with markup on, and table cells); ``newlines``
    keeps line breaks, for the hub's own multi-line messages that quote such text.
    """
    text = str(value).translate(_ESCAPES_KEEP_NEWLINES if newlines else _ESCAPES)
    return escape(text) if markup else text


# A read-only command pointed at no hub (wrong or empty TONGYUAN_HOME).
EXIT_NO_HUB = 2


def settings_and_logging(*, read_only: bool = False) -> Settings:
    """Settings from the environment, with directories made and logging to var/logs.

    ``read_only`` is for commands that look at an existing hub (ledger verify/show, report,
    quarantine list/show, materials for, cases overdue): a mistyped ``TONGYUAN_HOME`` must
    not grow a new, empty hub — database, data directories and a fresh PII key — and then
    report on it as if it were the real one. Such a command creates nothing: the hub
    database must exist with its schema, else it exits 2 naming the path it looked at;
    logs go to the home's logs/ only when the home exists; the PII key is never created.
    """
    if read_only:
        try:
            return read_only_settings()
        except NoHubError as exc:
            err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}", soft_wrap=True)
            raise typer.Exit(EXIT_NO_HUB) from None
    try:
        settings = load_settings()
    except ConfigError as exc:  # names the variable, never quotes a key or a URL
        err_console.print(f"[red]error:[/red] {shown(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_DATABASE) from None
    settings.ensure_dirs()
    configure_logging(settings.logs_dir)
    use_airflow_environment(lambda: _hub_airflow_environment(settings))
    return settings


def _hub_airflow_environment(settings: Settings) -> dict[str, str]:
    """The hub's embedded Airflow (its home, its metadata database): where an
    ``airflow:CONN_ID`` of the topology is looked up when the shell names no Airflow."""
    from tongyuan.orchestration.airflow_home import airflow_home

    return airflow_home(settings).environ()


# The library database cannot be used: unreachable, refused the login, not UTF8, holding
# another application's tables, not migrated (for a dry run), or its URL cannot be read.
EXIT_BAD_DATABASE = 2


@contextmanager
def database_errors(settings: Settings, *, doing: str = "") -> Iterator[None]:
    """One line and exit 2 for a library database the command cannot use, not a traceback
    (and for a working-day calendar file it cannot use, see ``TONGYUAN_CALENDAR_FILE``).

    Read-only commands already say in one line where they looked and why (NoHubError);
    the writing ones (db, ingest, sync items, quality run) printed a 350–730-line Rich
    traceback for the same wrong password or unreachable server. The line names the
    database (password hidden) and the driver's first line of the cause
    (:func:`tongyuan.db.errors.describe_error`: no SQL, no row values).
    """
    from alembic.util import CommandError as AlembicCommandError
    from sqlalchemy.exc import SQLAlchemyError

    from adapters.sdk.db_url import safe_url_text
    from tongyuan.db import DatabaseEncodingError
    from tongyuan.db.errors import describe_error

    try:
        with calendar_errors():
            yield
    except DatabaseEncodingError as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_DATABASE) from None
    except AlembicCommandError as exc:  # a revision that is not one, or not reachable
        err_console.print(f"[red]error:[/red] schema migration: {shown(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_DATABASE) from None
    except ConfigError as exc:  # a PII key that does not fit the libraries
        err_console.print(f"[red]error:[/red] {shown(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_DATABASE) from None
    except SQLAlchemyError as exc:
        where = safe_url_text(settings.database_url)
        what = f" ({doing})" if doing else ""
        err_console.print(
            f"[red]error:[/red] the library database at {shown(where)} cannot be used{what}: "
            f"{shown(describe_error(exc))}; check {ENV_DATABASE_URL}",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_BAD_DATABASE) from None


@contextmanager
def calendar_errors() -> Iterator[None]:
    """One line and exit 2 for a working-day calendar file the command cannot use.

    The other half of what every deadline needs besides the database: a bad
    ``TONGYUAN_CALENDAR_FILE`` printed a ~90-line traceback from ``cases overdue``. The
    message names the file and every problem on one line.
    """
    from standards.workdays import CalendarFileError

    try:
        yield
    except CalendarFileError as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_DATABASE) from None


@contextmanager
def library_session(settings: Settings, *, transaction: bool = False) -> Iterator[Session]:
    """A session on the hub's libraries for one command, the engine disposed after it;
    a database the command cannot use is :func:`database_errors`' one line, exit 2.
    ``transaction``: committed at the end (rolled back on error), for a command that
    writes."""
    from tongyuan.db import make_engine, make_session_factory

    with database_errors(settings):
        engine = make_engine(settings.database_url)
        try:
            factory = make_session_factory(engine)
            with factory.begin() if transaction else factory() as session:
                yield session
        finally:
            engine.dispose()


def require_migrated(settings: Settings, *, why: str = "a dry run migrates nothing") -> None:
    """For a dry run: the hub's schema must be there at its head; exit 2 otherwise.

    A dry run writes nothing, its schema migration included: ``sync items --dry-run``
    and ``ingest --dry-run`` used to create every table in whatever database
    TONGYUAN_DATABASE_URL named, or upgrade an older hub. The message is the one the
    read-only commands give, or says which revision the database is at.
    """
    from tongyuan.db import current_revision, head_revision

    try:
        require_hub(settings)
    except NoHubError as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_DATABASE) from None
    with database_errors(settings):
        revision = current_revision(settings.database_url)
    head = head_revision()
    if revision != head:
        from adapters.sdk.db_url import safe_url_text

        where = safe_url_text(settings.database_url)
        err_console.print(
            f"[red]error:[/red] the hub schema in the database at {shown(where)} is at "
            f"revision {shown(revision)}, not {head}; {why}: run `tongyuan db upgrade` first",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_BAD_DATABASE)


class NoHubError(Exception):
    """The hub database a read-only command was pointed at is missing, empty or unreadable;
    the message names where it looked and which variable sent it there."""


def read_only_settings() -> Settings:
    """``settings_and_logging(read_only=True)`` for a command that reports the missing hub
    in its own way (``ledger verify --json``); raises NoHubError, creates nothing."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise NoHubError(str(exc)) from None
    require_hub(settings)
    if settings.home.is_dir():
        configure_logging(settings.logs_dir)
    return dataclasses.replace(settings, create_pii_key=False)


def require_hub(settings: Settings) -> None:
    """Raise NoHubError unless the hub database exists and has a schema; never creates it.

    Checked before any query so that the operator sees where the command looked, not an
    SQL error about a missing table.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from adapters.sdk.db_url import safe_url_text
    from tongyuan.db import current_revision, is_sqlite

    url = make_url(settings.database_url)
    if os.environ.get(ENV_DATABASE_URL, "").strip():
        where = safe_url_text(url)
        configured = f"{ENV_DATABASE_URL}={where}"
        check = ENV_DATABASE_URL
    else:
        raw_home = os.environ.get(ENV_HOME, "").strip()
        where = str(settings.home / "tongyuan.db")
        configured = (
            f"{ENV_HOME}={raw_home}" if raw_home else f"{ENV_HOME} not set: {settings.home}"
        )
        check = ENV_HOME
    advice = f"run `tongyuan db upgrade` or check {check}"
    if is_sqlite(url) and url.database not in (None, "", ":memory:"):
        where = url.database
        if not Path(where).is_file():
            _no_hub_error(f"no hub database at {where} ({configured}); {advice}")
        try:
            revision = _sqlite_revision(Path(where))
        except sqlite3.Error as exc:
            _no_hub_error(f"hub database at {where} cannot be read: {exc} ({configured})")
    else:
        try:
            revision = current_revision(url)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            _no_hub_error(f"hub database at {where} cannot be read: {reason} ({configured})")
    if revision is None:
        _no_hub_error(f"no hub schema in the database at {where} ({configured}); {advice}")


def _sqlite_revision(path: Path) -> str | None:
    """The schema revision of a SQLite hub, opened read-only (an engine would set WAL mode
    and so write to whatever file the path names)."""
    from tongyuan.db import VERSION_TABLE

    uri = path.resolve().as_uri() + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)
        ).fetchone()
        if found is None:
            return None
        rows = connection.execute(f'SELECT version_num FROM "{VERSION_TABLE}"').fetchall()
    return ",".join(sorted(r[0] for r in rows)) or None


def _no_hub_error(message: str) -> NoReturn:
    raise NoHubError(message)


def progress_bar(*, transient: bool = True) -> Progress:
    """A progress bar on stderr, so stdout stays clean for --json output."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=transient,
    )
