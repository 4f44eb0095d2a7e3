"""``tongyuan ledger``: verify the batch ledger, sign a checkpoint, show recent entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.table import Table

from tongyuan.cli.common import (
    NoHubError,
    console,
    err_console,
    read_only_settings,
    settings_and_logging,
    shown,
)

app = typer.Typer(
    help="The tamper-evident batch ledger (hash chain + hub-signed checkpoints).",
    no_args_is_help=True,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

EXIT_INTACT, EXIT_ALTERED, EXIT_UNREADABLE = 0, 1, 2


@app.command(
    epilog="Example: [bold]tongyuan ledger verify --hub-key hub.pem --checkpoint-copy "
    "kept.json[/bold]  (exit 0 intact, 1 altered, 2 unreadable)"
)
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    hub_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--hub-key",
            help="PEM public key the checkpoints must be signed with; repeat it for keys "
            "of earlier years (default: the hub's exported key in its trust directory, if "
            "present).",
        ),
    ] = None,
    expect_checkpoint: Annotated[
        int | None,
        typer.Option(
            "--expect-checkpoint",
            min=1,
            help="Number of the latest checkpoint seen at an earlier audit: fewer left "
            "means checkpoints (and possibly the entries after them) were deleted.",
        ),
    ] = None,
    checkpoint_copy: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint-copy",
            help="JSON copy of checkpoints kept outside the hub (ledger show --checkpoints "
            "--json, or an earlier verify --json): each must still be in the ledger and "
            "the chain must still hold its hash.",
        ),
    ] = None,
) -> None:
    """Recompute the chain, every batch's content and every library row's digest, offline."""
    from tongyuan.db import make_engine
    from tongyuan.ledger import LedgerUnreadable, verify_ledger
    from tongyuan.ledger.hubkey import public_key_id, public_key_path
    from tongyuan.ledger.verify import CheckpointExpectation, read_checkpoint_copies

    try:
        settings = read_only_settings()
    except NoHubError as exc:
        _unreadable(str(exc), as_json)
    trusted: list[str] | None = None
    if hub_key:
        trusted = [_read_public_key(path, as_json) for path in hub_key]
        key_note = "hub key(s) given with --hub-key: " + ", ".join(
            f"{path} ({public_key_id(pem)[:16]}…)"
            for path, pem in zip(hub_key, trusted, strict=True)
        )
    elif public_key_path(settings).exists():
        own = public_key_path(settings)
        trusted = [_read_public_key(own, as_json, in_copy=True)]
        key_note = (
            f"the hub key found in the copy itself, {own} "
            f"({public_key_id(trusted[0])[:16]}…) — pass --hub-key with a key obtained "
            "separately to pin the checkpoints"
        )
    else:
        key_note = "no hub key: checkpoint signatures checked, not pinned to a hub key"
    copies: list[dict] = []
    for path in checkpoint_copy or []:
        try:
            copies.extend(read_checkpoint_copies(path.read_text(encoding="utf-8"), str(path)))
        except (OSError, UnicodeError, ValueError) as exc:
            _unreadable(f"checkpoint copy unusable: {exc}", as_json)
    expect = (
        CheckpointExpectation(expect_checkpoint, tuple(copies))
        if expect_checkpoint or copies
        else None
    )
    engine = make_engine(settings.database_url, sqlite_begin="DEFERRED")
    try:
        result = verify_ledger(engine, trusted_keys=trusted, expect=expect)
    except LedgerUnreadable as exc:
        _unreadable(f"ledger unreadable: {exc}", as_json)
    finally:
        engine.dispose()
    if as_json:
        doc = {**result.to_dict(), "checked_with": key_note}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        raise typer.Exit(EXIT_INTACT if result.ok else EXIT_ALTERED)
    if result.ok:
        console.print(
            f"[green]ledger intact[/green]: {result.entries} entries, {result.records} records, "
            f"{result.rows} library rows, {result.checkpoints} checkpoints"
        )
    else:
        first = result.first
        assert first is not None
        console.print(f"[red]ledger ALTERED[/red] ({result.problem_count} problems); first:")
        console.print(f"  [{first.code}] {first.message}", markup=False)
        for problem in result.problems[1:10]:
            console.print(f"  [{problem.code}] {problem.message}", markup=False)
    console.print(f"checkpoints checked with {key_note}", markup=False)
    latest = result.latest_checkpoint
    if latest is not None:
        console.print(
            f"latest checkpoint: #{latest['number']} at seq {latest['seq']} "
            f"({latest['entry_hash'][:16]}…), {latest['created_at']} — keep a copy outside "
            "the hub (ledger show --checkpoints --json) and pass it next time",
            markup=False,
        )
    if result.unsigned_legacy_entries:
        console.print(
            f"note: entries seq 1..{result.unsigned_legacy_entries} are unsigned legacy "
            "entries, written before the hub signed each entry; checkpoints and the chain "
            "vouch for them",
            markup=False,
        )
    if result.unchecked_signatures:
        console.print(
            f"[yellow]warning:[/yellow] the hub signatures of {result.unchecked_signatures} "
            "entries were not checked: no hub key given or in the copy, and no checkpoint "
            "in the copy is by the key that signed them",
        )
    if result.unpinned_entries:
        console.print(
            f"[yellow]warning:[/yellow] the last {result.unpinned_entries} entries are after "
            "the latest checkpoint: "
            + (
                "some carry no hub signature (legacy), and "
                if result.unsigned_legacy_entries > result.entries - result.unpinned_entries
                else "each carries the hub's signature, but "
            )
            + "deleting them (with their rows) would not show here",
        )
    raise typer.Exit(EXIT_INTACT if result.ok else EXIT_ALTERED)


def _unreadable(message: str, as_json: bool) -> NoReturn:
    """Exit 2 (unreadable) with ``message``: as the JSON document when ``--json`` was
    asked for, so a script reading stdout always gets one."""
    if as_json:
        print(json.dumps({"ok": False, "unreadable": message}, ensure_ascii=False))
    else:
        err_console.print(f"[red]error:[/red] {shown(message, newlines=True)}", soft_wrap=True)
    raise typer.Exit(EXIT_UNREADABLE)


def _read_public_key(path: Path, as_json: bool, *, in_copy: bool = False) -> str:
    """The PEM text of a hub public key, or exit 2 naming the file: a damaged key (in the
    copy's own trust directory as much as one given with --hub-key) makes the checkpoints
    uncheckable, which is "unreadable", not "altered"."""
    from tongyuan.ledger.hubkey import public_key_id

    where = f"the hub key in the copy's trust directory, {path}," if in_copy else str(path)
    try:
        pem = path.read_bytes().decode("ascii")
        public_key_id(pem)
    except FileNotFoundError:
        _unreadable(f"hub key not found: {path}", as_json)
    except OSError as exc:
        _unreadable(f"cannot read {where}: {exc.strerror or exc}", as_json)
    except (ValueError, UnicodeError):
        hint = " (pass --hub-key with the key obtained separately)" if in_copy else ""
        _unreadable(f"{where} is not a PEM public key{hint}", as_json)
    return pem


@app.command(epilog="Example: [bold]tongyuan ledger checkpoint[/bold]")
def checkpoint() -> None:
    """Sign the current end of the chain with the hub key (created on first use).

    Refused (exit 1) when the entries since the hub's last checkpoint do not link, hash
    and carry the hub's signature: the hub never signs over a forged entry."""
    from tongyuan.db import make_engine, make_session_factory
    from tongyuan.ledger import write_checkpoint
    from tongyuan.ledger.checkpoints import CheckpointRefused
    from tongyuan.ledger.hubkey import public_key_path

    settings = settings_and_logging()
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            written = write_checkpoint(session, settings)
            seq, entry_hash, key_id = written.seq, written.entry_hash, written.key_id
    except CheckpointRefused as exc:
        err_console.print(f"[red]not signed:[/red] {shown(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_ALTERED) from None
    finally:
        engine.dispose()
    console.print(
        f"checkpoint at seq {seq} ({entry_hash[:16]}…) signed by hub key {key_id[:16]}…; "
        f"public key: {public_key_path(settings)}"
    )


@app.command(epilog="Example: [bold]tongyuan ledger show --last 20[/bold]")
def show(
    last: Annotated[int, typer.Option("--last", min=1, help="How many entries.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    checkpoints: Annotated[
        bool,
        typer.Option(
            "--checkpoints",
            help="Show the latest checkpoints instead, with their signatures (the copy "
            "auditors keep and pass to verify --checkpoint-copy).",
        ),
    ] = False,
) -> None:
    """The latest ledger entries: batch, kind, source, counts and hashes (no personal data)."""
    from sqlalchemy import select

    from tongyuan.db import make_engine, make_session_factory
    from tongyuan.libraries.ledger import LedgerEntry

    settings = settings_and_logging(read_only=True)
    engine = make_engine(settings.database_url, sqlite_begin="DEFERRED")
    try:
        if checkpoints:
            _show_checkpoints(engine, last, as_json)
            return
        with make_session_factory(engine)() as session:
            entries = list(
                session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(last))
            )
    finally:
        engine.dispose()
    entries.reverse()
    if as_json:
        docs = [
            {
                "seq": e.seq,
                "batch_id": e.batch_id,
                "kind": e.kind,
                "source": e.source,
                "status": e.status,
                "read": e.read_count,
                "accepted": e.accepted_count,
                "quarantined": e.quarantined_count,
                "unchanged": e.unchanged_count,
                "records": e.record_count,
                "signer_fingerprint": e.signer_fingerprint,
                "recorded_at": e.recorded_at.isoformat(),
                "entry_hash": e.entry_hash,
            }
            for e in entries
        ]
        print(json.dumps(docs, ensure_ascii=False, indent=2))
        return
    table = Table("seq", "UTC", "kind", "source", "status", "r/a/q/u", "signed", "hash")
    for e in entries:
        table.add_row(
            str(e.seq),
            e.recorded_at.strftime("%m-%d %H:%M"),
            e.kind,
            e.source,
            e.status,
            f"{e.read_count}/{e.accepted_count}/{e.quarantined_count}/{e.unchanged_count}",
            "yes" if e.signer_fingerprint else "",
            e.entry_hash[:8],
        )
    console.print(table)


def _show_checkpoints(engine: Engine, last: int, as_json: bool) -> None:
    """The last ``last`` checkpoints as verify numbers them (1, 2, 3 … in written order),
    each with what its signature covers — everything a copy needs to be checked later."""
    from sqlalchemy import select

    from tongyuan.ledger.checkpoints import (
        FORM_FIRST,
        FORM_SIGNED_ENTRIES,
        checkpoint_form,
        checkpoint_link,
    )
    from tongyuan.ledger.verify import checkpoint_copy
    from tongyuan.libraries.ledger import LedgerCheckpoint

    table = LedgerCheckpoint.__table__
    with engine.connect() as connection:
        rows = list(connection.execute(select(table).order_by(table.c.id)).mappings())
    copies, previous = [], None
    for number, row in enumerate(rows, start=1):
        form = checkpoint_form(row, number, previous)  # None: does not verify (shown as is)
        link = checkpoint_link(previous) if form != FORM_FIRST else None
        copies.append(checkpoint_copy(row, number, link, form == FORM_SIGNED_ENTRIES))
        previous = row["signature"]
    copies = copies[-last:]
    if as_json:
        print(json.dumps(copies, ensure_ascii=False, indent=2))
        return
    out = Table("#", "seq", "UTC", "entry hash", "key")
    for c in copies:
        out.add_row(
            str(c["number"]), str(c["seq"]), c["created_at"], c["entry_hash"][:16], c["key_id"][:16]
        )
    console.print(out)
