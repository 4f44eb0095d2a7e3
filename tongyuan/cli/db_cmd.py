"""``tongyuan db``: schema migrations of the libraries."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from tongyuan.cli.common import console, database_errors, err_console, settings_and_logging, shown

if TYPE_CHECKING:
    from tongyuan.config import Settings

app = typer.Typer(help="Library database schema (Alembic migrations).", no_args_is_help=True)


@app.command(epilog="Example: [bold]tongyuan db upgrade[/bold]")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
) -> None:
    """Create or migrate the library schema (TONGYUAN_DATABASE_URL, else SQLite in the home).

    Exit 2, with one line naming the database and the cause, when the database cannot be
    used (unreachable, login refused, not UTF8, another application's tables).
    """
    from tongyuan.db import current_revision, head_revision
    from tongyuan.db import upgrade as do_upgrade

    settings = settings_and_logging()
    with database_errors(settings):
        was_at = current_revision(settings.database_url)
        do_upgrade(settings.database_url, revision)
        now_at = current_revision(settings.database_url)
        console.print(f"database at revision {now_at}")
        if _crossed(was_at, now_at, CLOSED_LATE_REVISION):
            _timeliness_next_step(settings)
        if now_at == head_revision():
            _pin_legacy_ledger(settings)


# Adds case_timeliness status closed_late; stored rows are judged again only by a refresh.
CLOSED_LATE_REVISION = 12


def _crossed(was_at: str | None, now_at: str | None, revision: int) -> bool:
    """Whether the upgrade went from below ``revision`` to it or beyond (an empty
    database has no stored rows to judge again: not crossed)."""

    def highest(at: str | None) -> int:
        return max((int(r) for r in (at or "").split(",") if r.isdigit()), default=0)

    return was_at is not None and highest(was_at) < revision <= highest(now_at)


def _timeliness_next_step(settings: Settings) -> None:
    """One line after an upgrade across 0012: stored case statuses stay as judged before
    it (a case ended without a decision after its deadline is still ``closed``, not
    overdue) until a refresh; say how many rows that is and what refreshes them, or why
    nothing needs to."""
    from sqlalchemy import func, select

    from tongyuan.db import make_engine
    from tongyuan.libraries.case_timeliness import CaseTimeliness

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            closed = conn.scalar(select(func.count()).where(CaseTimeliness.status == "closed"))
    finally:
        engine.dispose()
    if not closed:
        console.print("timeliness: no stored case is closed without a decision; no refresh needed")
        return
    console.print(
        f"next: run `tongyuan cases overdue` (or `tongyuan quality run`, which refreshes "
        f"first) so that the {closed:,} case(s) stored as closed are judged again: one closed "
        "after its deadline is overdue (closed_late) since 0012",
        soft_wrap=True,
    )


def _pin_legacy_ledger(settings: Settings) -> None:
    """A checkpoint over unsigned entries an older version wrote (docs/ledger.md §6):
    written here, no entry can be slipped in among them between the upgrade and the
    first batch. Exit 1 when they do not verify, as ``ledger checkpoint`` does, or when
    the hub's key cannot be used.

    Only signed with a hub key that already exists and can be read: ``db upgrade`` also
    runs under other homes (a deploy user, CI, a DBA's machine pointed at the shared
    PostgreSQL), where making a key would sign the ledger with a key the hub does not
    have, and as root would leave a key file the service user cannot read. A key that
    exists there (an old CI run's, a copied home's) signs only when it is the one the
    ledger already records (its latest checkpoint's key_id). Otherwise the hub's first
    batch pins them instead (docs/ledger.md §6).
    """
    from tongyuan.db import make_engine, make_session_factory
    from tongyuan.ledger.append import pin_legacy_entries, unpinned_legacy_seq
    from tongyuan.ledger.checkpoints import CheckpointRefused, recorded_key_id
    from tongyuan.ledger.hubkey import HubKeyError, key_id_at, private_key_path

    key = private_key_path(settings)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            unpinned = unpinned_legacy_seq(session)
            if unpinned is None:
                return
            where = shown(str(key))
            if not (key.is_file() and os.access(key, os.R_OK)):
                _not_pinned_here(unpinned, f"no readable hub key at {where}")
                return
            recorded = recorded_key_id(session)
            if recorded is not None and key_id_at(key) != recorded:
                _not_pinned_here(
                    unpinned,
                    f"the key at {where} is not the hub key the ledger records "
                    f"(key_id {recorded[:16]}…)",
                )
                return
            pinned = pin_legacy_entries(session, settings)
    except CheckpointRefused as exc:
        err_console.print(f"[red]ledger not pinned:[/red] {shown(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    except (HubKeyError, OSError) as exc:
        err_console.print(
            f"[red]ledger not pinned:[/red] the hub key could not be used: {shown(str(exc))} "
            "(the schema upgrade itself is done)",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if pinned is not None:
        console.print(
            f"ledger: checkpoint signed over the unsigned entries up to seq {pinned} "
            "(written before entries were signed)"
        )


def _not_pinned_here(unpinned: int, why: str) -> None:
    """The one line saying the legacy entries are left to the hub's first batch (exit 0)."""
    console.print(
        f"ledger: unsigned entries up to seq {unpinned} not pinned here: {why}; "
        "the hub's first batch pins them",
        soft_wrap=True,
    )


@app.command(epilog="Example: [bold]tongyuan db downgrade base[/bold]")
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or base.")]) -> None:
    """Migrate the library schema down to an earlier revision."""
    from tongyuan.db import current_revision
    from tongyuan.db import downgrade as do_downgrade

    settings = settings_and_logging()
    with database_errors(settings):
        do_downgrade(settings.database_url, revision)
        rev = current_revision(settings.database_url)
    console.print(f"database at revision {rev or 'base'}")


@app.command(epilog="Example: [bold]tongyuan db current[/bold]")
def current() -> None:
    """Print the schema revision the database is at."""
    from tongyuan.db import current_revision, head_revision

    settings = settings_and_logging()
    with database_errors(settings):
        rev = current_revision(settings.database_url)
    console.print(f"current: {rev or 'base (empty)'}   head: {head_revision()}")
