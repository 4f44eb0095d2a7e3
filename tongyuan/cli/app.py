"""Command registry: each command lives in its own module and calls one core function."""

from __future__ import annotations

import typer

from tongyuan.cli import (
    adapter_cmd,
    cases_cmd,
    db_cmd,
    demo_cmd,
    generate_cmd,
    ingest_cmd,
    items_cmd,
    ledger_cmd,
    licenses_cmd,
    materials_cmd,
    pki_cmd,
    pull_cmd,
    quality_cmd,
    quarantine_cmd,
    report_cmd,
    sync_cmd,
    validate_cmd,
    verify_cmd,
)

app = typer.Typer(
    name="tongyuan",
    help="Tongyuan (同源) — data exchange and integration hub for government service data.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("generate", epilog=generate_cmd.EPILOG)(generate_cmd.generate)
app.command("validate", epilog=validate_cmd.EPILOG)(validate_cmd.validate)
app.command("demo", epilog=demo_cmd.EPILOG)(demo_cmd.demo)
app.command("pull", epilog=pull_cmd.EPILOG)(pull_cmd.pull)
app.command("ingest", epilog=ingest_cmd.EPILOG)(ingest_cmd.ingest)
app.command("report", epilog=report_cmd.EPILOG)(report_cmd.report)
app.command("verify", epilog=verify_cmd.EPILOG)(verify_cmd.verify)
app.add_typer(db_cmd.app, name="db")
app.add_typer(adapter_cmd.app, name="adapter")
app.add_typer(sync_cmd.app, name="sync")
app.add_typer(quality_cmd.app, name="quality")
app.add_typer(cases_cmd.app, name="cases")
app.add_typer(items_cmd.app, name="items")
app.add_typer(quarantine_cmd.app, name="quarantine")
app.add_typer(materials_cmd.app, name="materials")
app.add_typer(ledger_cmd.app, name="ledger")
app.add_typer(pki_cmd.app, name="pki")
app.add_typer(licenses_cmd.app, name="licenses")


def main() -> None:
    """Console-script entry point.

    A library database the hub refuses (PostgreSQL not UTF8) is found on the first
    connection of whatever command runs; it ends that command with the reason and exit
    2 instead of a traceback. Any other database error no command turned into its own
    line (a statement timeout, the server stopped mid-command) ends it with one line and
    exit 1: its traceback ran to hundreds of lines and its text quotes the SQL statement
    and the values of the row being written (:func:`database_error_line`).
    """
    from rich.markup import escape
    from sqlalchemy.exc import SQLAlchemyError

    from tongyuan.cli.common import err_console
    from tongyuan.db import DatabaseEncodingError

    try:
        app()
    except DatabaseEncodingError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise SystemExit(2) from None
    except SQLAlchemyError as exc:
        err_console.print(database_error_line(exc), soft_wrap=True)
        raise SystemExit(1) from None


def database_error_line(exc: BaseException) -> str:
    """The one line for a database error that ended a command, logged with where it was
    raised: the short form (class and the driver's first line, see
    :func:`tongyuan.db.errors.describe_error`), never the statement or its parameters."""
    import logging
    import traceback

    from tongyuan.cli.common import shown
    from tongyuan.db.errors import describe_error

    why = describe_error(exc)
    where = "".join(traceback.format_tb(exc.__traceback__))
    log = logging.getLogger(__name__)
    if log.hasHandlers():  # else Python's last-resort handler prints it above the one line
        log.error("command failed: %s\n%s", why, where)
    return f"[red]error:[/red] a database error stopped the command: {shown(why)}"


if __name__ == "__main__":  # python -m tongyuan.cli.app
    main()
