"""Offline verification: recompute the chain, the batch contents and every row's digest.

Needs only the database (and, to pin checkpoints and entries to the hub, its public
key). Reads in one snapshot transaction, so a batch committing meanwhile is either wholly
seen or not. Checks run in order — chain, head, checkpoints, entry signatures, batches,
records, rows — and every
problem names the entry (seq), batch or row (table + key) concerned; the first problem
is the first altered thing found.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from standards.privacy import mask_text
from tongyuan.db.errors import describe_error
from tongyuan.ledger.checkpoints import (
    FORM_FIRST,
    FORM_SIGNED_ENTRIES,
    checkpoint_form,
    checkpoint_link,
    checkpoint_statement,
)
from tongyuan.ledger.digests import (
    COVERED,
    DELETED,
    CoveredTable,
    RecordsHasher,
    stored_records,
)
from tongyuan.ledger.entries import EntrySignatures, compute_entry_hash
from tongyuan.ledger.hubkey import public_key_id, verify_statement
from tongyuan.libraries.base import Base, to_utc
from tongyuan.libraries.case_owners import REPLAY_OWNERS_META, ReplayedOwners
from tongyuan.libraries.ledger import (
    GENESIS_HASH,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerHead,
    LedgerRecord,
)

MAX_PROBLEMS = 200


class LedgerUnreadable(RuntimeError):
    """The ledger could not be read at all (no database, no ledger tables)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that does not match; ``code`` is stable, ``message`` is for people."""

    code: str
    message: str
    seq: int | None = None
    batch_id: str | None = None
    table: str | None = None
    key: str | None = None


@dataclass(slots=True)
class LedgerVerification:
    entries: int = 0
    records: int = 0
    rows: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    # the last checkpoint that verified (what an auditor should keep a copy of), and how
    # many entries after it no hub signature covers yet
    latest_checkpoint: dict[str, Any] | None = None
    unpinned_entries: int = 0
    # entries written before entries were signed (seq 1..unsigned_legacy_entries), and
    # signed entries whose signature could not be checked because no hub key was known
    unsigned_legacy_entries: int = 0
    unchecked_signatures: int = 0
    # seq of the first hub checkpoint promising that every later entry is signed
    signed_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            masked_key = None if problem.key is None else mask_text(problem.key)
            self.problems.append(
                Problem(
                    problem.code,
                    mask_text(problem.message),
                    problem.seq,
                    problem.batch_id,
                    problem.table,
                    masked_key,
                )
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "records": self.records,
            "rows": self.rows,
            "checkpoints": self.checkpoints,
            "latest_checkpoint": self.latest_checkpoint,
            "unpinned_entries": self.unpinned_entries,
            "unsigned_legacy_entries": self.unsigned_legacy_entries,
            "unchecked_signatures": self.unchecked_signatures,
            "problem_count": self.problem_count,
            "first": None if self.first is None else asdict(self.first),
            "problems": [asdict(p) for p in self.problems],
        }


_COPY_FIELDS = {
    "number": int,
    "previous": (str, type(None)),
    "seq": int,
    "entry_hash": str,
    "created_at": str,
    "key_id": str,
    "public_key": str,
    "signature": str,
}


@dataclass(frozen=True, slots=True)
class CheckpointExpectation:
    """What an auditor knows from outside the hub: the number of the last checkpoint seen
    (``at_least``) and/or copies of checkpoints (``ledger show --checkpoints --json``)."""

    at_least: int | None = None
    copies: tuple[dict[str, Any], ...] = ()


def read_checkpoint_copies(text: str, source: str) -> tuple[dict[str, Any], ...]:
    """Checkpoint copies from JSON: one object, a list of them, or ``ledger verify
    --json`` output (its ``latest_checkpoint``). Raises ValueError naming the problem."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not JSON ({exc})") from None
    if isinstance(doc, dict) and "latest_checkpoint" in doc:
        doc = doc["latest_checkpoint"] or []
    items = doc if isinstance(doc, list) else [doc]
    copies = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"{source}: checkpoint {i + 1} is not an object")
        for name, kind in _COPY_FIELDS.items():
            if not isinstance(item.get(name), kind) or isinstance(item.get(name), bool):
                raise ValueError(f"{source}: checkpoint {i + 1} lacks a valid {name!r}")
        try:
            datetime.fromisoformat(item["created_at"])
        except ValueError:
            raise ValueError(f"{source}: checkpoint {i + 1} has a bad created_at") from None
        if not isinstance(item.get("entries_signed", False), bool):
            raise ValueError(f"{source}: checkpoint {i + 1} has a bad 'entries_signed'")
        copies.append(item)
    if not copies:
        raise ValueError(f"{source}: no checkpoint in it")
    return tuple(copies)


@dataclass(frozen=True, slots=True)
class _Chained:
    seq: int
    entry_hash: str
    records_hash: str
    record_count: int
    key_id: str | None
    signature: str | None


def verify_ledger(
    engine: Engine,
    *,
    trusted_keys: Sequence[str] | None = None,
    expect: CheckpointExpectation | None = None,
) -> LedgerVerification:
    """Check the whole ledger against the libraries; never raises for a mismatch.

    ``trusted_keys`` are PEM public keys the hub is known to sign with: when given, a
    checkpoint signed by any other key is a problem even if its signature is valid, and
    so is a ledger left without any checkpoint (the hub signs them, so they were deleted).
    ``expect`` is what the auditor kept from earlier: deleting the last checkpoints
    together with the entries after them is only visible against it.
    Raises :class:`LedgerUnreadable` when the database or its ledger cannot be read.
    """
    result = LedgerVerification()
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                chained = _check_chain(connection, result)
                keys = _check_checkpoints(connection, result, chained, trusted_keys, expect)
                _check_signatures(result, chained, keys, pinned=trusted_keys is not None)
                _check_batches(connection, result, chained)
                _check_records(connection, result, chained)
                legacy = {b for b, c in chained.items() if c.signature is None}
                for spec in COVERED:
                    _check_rows(connection, result, spec, legacy)
    except SQLAlchemyError as exc:
        raise LedgerUnreadable(f"cannot read the ledger: {describe_error(exc)}") from exc
    return result


def _entry_columns(connection: Connection) -> list[Any]:
    """The ledger_entries columns the database has: a copy from before entries were
    signed (schema before 0011) is read as it is — all its entries are unsigned."""
    table = LedgerEntry.__table__
    present = {column["name"] for column in inspect(connection).get_columns(table.name)}
    return [column for column in table.columns if column.name in present]


def _entries(connection: Connection) -> Iterator[LedgerEntry]:
    columns = LedgerEntry.__table__.columns
    statement = select(*_entry_columns(connection)).order_by(columns.seq)
    rows = connection.execute(statement).mappings()
    for row in rows:
        yield LedgerEntry(**dict(row))


def _check_chain(connection: Connection, result: LedgerVerification) -> dict[str, _Chained]:
    chained: dict[str, _Chained] = {}
    previous_seq, previous_hash = 0, GENESIS_HASH
    for entry in _entries(connection):
        result.entries += 1
        where = f"ledger entry seq {entry.seq} (batch {entry.batch_id})"
        if entry.seq != previous_seq + 1:
            result.add(
                Problem(
                    "entry.gap",
                    f"{where}: expected seq {previous_seq + 1} — entries "
                    f"{previous_seq + 1}..{entry.seq - 1} are missing",
                    entry.seq,
                    entry.batch_id,
                )
            )
        if entry.prev_hash != previous_hash:
            result.add(
                Problem(
                    "entry.prev_hash",
                    f"{where}: its previous-entry hash does not match the entry before it "
                    f"(an entry was removed, inserted, reordered or rewritten)",
                    entry.seq,
                    entry.batch_id,
                )
            )
        if compute_entry_hash(entry) != entry.entry_hash:
            result.add(
                Problem(
                    "entry.hash",
                    f"{where}: altered — its fields no longer match its entry hash",
                    entry.seq,
                    entry.batch_id,
                )
            )
        chained[entry.batch_id] = _Chained(
            entry.seq,
            entry.entry_hash,
            entry.records_hash,
            entry.record_count,
            entry.key_id,
            entry.signature,
        )
        previous_seq, previous_hash = entry.seq, entry.entry_hash
    head = connection.execute(select(LedgerHead.__table__)).mappings().first()
    head_seq, head_hash = (0, GENESIS_HASH) if head is None else (head["seq"], head["entry_hash"])
    if (head_seq, head_hash) != (previous_seq, previous_hash):
        result.add(
            Problem(
                "head",
                f"the chain ends at seq {previous_seq} but its head says seq {head_seq} with "
                f"another hash: entries after seq {previous_seq} were removed or rewritten",
                previous_seq,
            )
        )
    return chained


def checkpoint_copy(
    row: Any, number: int, previous: str | None, entries_signed: bool = False
) -> dict[str, Any]:
    """A checkpoint as auditors keep it outside the hub (``ledger show --checkpoints``);
    ``previous`` is the link it signs (None for the first form, which signs no number),
    ``entries_signed`` whether it promises that every later entry is signed."""
    return {
        "number": number,
        "previous": previous,
        "entries_signed": entries_signed,
        "seq": row["seq"],
        "entry_hash": row["entry_hash"],
        "created_at": to_utc(row["created_at"]).isoformat(),
        "key_id": row["key_id"],
        "public_key": row["public_key"],
        "signature": row["signature"],
    }


def _check_checkpoints(
    connection: Connection,
    result: LedgerVerification,
    chained: dict[str, _Chained],
    trusted_keys: Sequence[str] | None,
    expect: CheckpointExpectation | None,
) -> dict[str, str]:
    """Checks the checkpoints; returns the keys entries must be signed with (key id ->
    PEM): the trusted keys, or without them the keys of checkpoints that verify."""
    by_seq = {c.seq: c.entry_hash for c in chained.values()}
    by_seq[0] = GENESIS_HASH
    trusted = None if trusted_keys is None else {public_key_id(k) for k in trusted_keys}
    keys = {} if trusted_keys is None else {public_key_id(k): k for k in trusted_keys}
    table = LedgerCheckpoint.__table__
    previous_signature: str | None = None
    kept: dict[int, str] = {}  # number -> signature of the checkpoints that verified
    for row in connection.execute(select(table).order_by(table.c.id)).mappings():
        result.checkpoints += 1
        number = result.checkpoints
        where = f"checkpoint {row['id']} (#{number}, seq {row['seq']})"
        try:
            key_id = public_key_id(row["public_key"])
        except (ValueError, UnicodeError):
            key_id = None
        form = None if key_id != row["key_id"] else checkpoint_form(row, number, previous_signature)
        link = checkpoint_link(previous_signature) if form not in (None, FORM_FIRST) else None
        previous_signature = row["signature"]
        if form is None:
            result.add(
                Problem(
                    "checkpoint.signature",
                    f"{where}: the hub signature does not verify — the checkpoint was forged "
                    f"or altered, or a checkpoint before it was deleted",
                    row["seq"],
                )
            )
            continue
        if trusted is not None and key_id not in trusted:
            result.add(
                Problem(
                    "checkpoint.key",
                    f"{where}: signed by key {str(key_id)[:16]}…, which is not the hub key "
                    f"given for this verification",
                    row["seq"],
                )
            )
            continue
        kept[number] = row["signature"]
        if trusted is None:
            keys[str(key_id)] = row["public_key"]
        signs_entries = form == FORM_SIGNED_ENTRIES
        if signs_entries and result.signed_after is None:
            result.signed_after = row["seq"]
        result.latest_checkpoint = checkpoint_copy(row, number, link, signs_entries)
        if by_seq.get(row["seq"]) != row["entry_hash"]:
            result.add(
                Problem(
                    "checkpoint.chain",
                    f"{where}: the chain at seq {row['seq']} no longer has the hash the hub "
                    f"signed — entries up to seq {row['seq']} were rewritten or removed",
                    row["seq"],
                )
            )
    last_seq = max(by_seq)
    latest = result.latest_checkpoint
    result.unpinned_entries = last_seq - (latest["seq"] if latest else 0)
    if trusted is not None and latest is None:
        result.add(
            Problem(
                "checkpoint.none",
                f"the hub has a checkpoint key but no checkpoint signed by it remains — "
                f"checkpoints were deleted; none of the {last_seq} entries is pinned, and "
                f"entries at the end may have been removed",
                last_seq,
            )
        )
    if expect is None:
        return keys
    have = 0 if latest is None else latest["number"]
    if expect.at_least and have < expect.at_least:
        result.add(
            Problem(
                "checkpoint.missing",
                f"checkpoint #{expect.at_least} was expected but the last one is #{have} — "
                f"checkpoints were deleted, and with them possibly the entries after seq "
                f"{0 if latest is None else latest['seq']}",
                None if latest is None else latest["seq"],
            )
        )
    for copy in expect.copies:
        _check_copy(result, copy, kept, by_seq, trusted_keys)
    return keys


def _check_signatures(
    result: LedgerVerification, chained: dict[str, _Chained], keys: dict[str, str], pinned: bool
) -> None:
    """Every entry must carry the hub's signature, except those written before entries
    were signed: they must all come before the first signed entry and, once signed
    entries follow them, be pinned by a checkpoint (the hub writes one over them before
    it signs its first entry) — otherwise they could have been inserted afterwards."""
    signatures = EntrySignatures(keys, pinned=pinned)
    signatures.signed_after = result.signed_after
    for batch_id, entry in chained.items():  # in seq order, as the chain was read
        reason = signatures.check(entry.seq, entry.entry_hash, entry.key_id, entry.signature)
        if reason:
            result.add(
                Problem(
                    "entry.signature",
                    f"ledger entry seq {entry.seq} (batch {batch_id}): {reason}",
                    entry.seq,
                    batch_id,
                )
            )
    result.unsigned_legacy_entries = signatures.legacy
    result.unchecked_signatures = signatures.unchecked
    latest = result.latest_checkpoint
    pinned = 0 if latest is None else latest["seq"]
    last_legacy = signatures.last_legacy
    if signatures.first_signed is not None and last_legacy is not None and last_legacy > pinned:
        result.add(
            Problem(
                "entry.signature",
                f"ledger entries seq {pinned + 1}..{last_legacy} carry no hub signature and no "
                f"checkpoint pins them, yet signed entries follow from seq "
                f"{signatures.first_signed} — they were inserted, or the checkpoint over them "
                f"was deleted",
                last_legacy,
            )
        )


def _check_copy(
    result: LedgerVerification,
    copy: dict[str, Any],
    kept: dict[int, str],
    by_seq: dict[int, str],
    trusted_keys: Sequence[str] | None,
) -> None:
    """A checkpoint the auditor kept must still be in the ledger, and the chain must still
    end in its hash at its seq (it is authentic when a hub key signed it)."""
    where = f"kept checkpoint #{copy['number']} (seq {copy['seq']})"
    keys = list(trusted_keys) if trusted_keys is not None else [copy["public_key"]]
    linked = copy.get("previous") is not None
    statement = checkpoint_statement(
        copy["seq"],
        copy["entry_hash"],
        datetime.fromisoformat(copy["created_at"]),
        copy["key_id"],
        number=copy["number"] if linked else None,
        previous=copy["previous"] if linked else None,
        entries_signed=linked and copy.get("entries_signed") is True,
    )
    authentic = any(verify_statement(key, statement, copy["signature"]) for key in keys)
    if not authentic:
        result.add(
            Problem(
                "checkpoint.copy",
                f"{where}: the copy is not signed by the hub key — it proves nothing",
                copy["seq"],
            )
        )
        return
    if kept.get(copy["number"]) != copy["signature"]:
        result.add(
            Problem(
                "checkpoint.missing",
                f"{where} is no longer in the ledger — checkpoints were deleted or replaced",
                copy["seq"],
            )
        )
    if by_seq.get(copy["seq"]) != copy["entry_hash"]:
        result.add(
            Problem(
                "checkpoint.chain",
                f"{where}: the chain at seq {copy['seq']} no longer has the hash the hub "
                f"signed — entries up to seq {copy['seq']} were rewritten or removed",
                copy["seq"],
            )
        )


_BATCH_FIELDS = (
    ("kind", "kind"),
    ("source", "source"),
    ("status", "status"),
    ("read_count", "read_count"),
    ("accepted_count", "accepted_count"),
    ("quarantined_count", "quarantined_count"),
    ("unchanged_count", "unchanged_count"),
    ("content_hash", "input_hash"),
)


def _owners_recorded(batch: Any, entry: Any) -> bool:
    """Whether a replay batch's record of whose case each case it first stored is (its
    ``meta.case_owners``) is the one its ledger entry vouches for.

    The entry covers the record only through its hash (the batch's content hash, the
    entry's ``input_hash``), not the ``meta`` column itself; the owner lookup refuses a
    record that does not match, and falls back to the replay's history when there is
    none, so a record edited or deleted behind a content hash must be reported here.
    Replays from before the record have no content hash and nothing to check.
    """
    if batch["kind"] != "replay" and entry["kind"] != "replay":
        return True
    expected = entry["input_hash"] or batch["content_hash"]
    if expected is None:
        return True
    recorded = (batch["meta"] or {}).get(REPLAY_OWNERS_META)
    return isinstance(recorded, dict) and ReplayedOwners.digest(recorded) == expected


def _check_batches(
    connection: Connection, result: LedgerVerification, chained: dict[str, _Chained]
) -> None:
    """Every ledger entry's batch row must still exist and say what the entry says.

    Driven by the entries, not the batch rows: a row marked 'running' again (which open
    batches legitimately are) or deleted would otherwise escape the comparison. Batch rows
    without an entry are reported afterwards, except open ones.
    """
    table = Base.metadata.tables["batches"]
    batches = {row["id"]: row for row in connection.execute(select(table)).mappings()}
    entries = LedgerEntry.__table__
    statement = select(*_entry_columns(connection)).order_by(entries.c.seq)
    for entry in connection.execute(statement).mappings():
        batch = batches.pop(entry["batch_id"], None)
        if batch is None:
            result.add(
                Problem(
                    "batch.missing",
                    f"ledger entry seq {entry['seq']} records batch {entry['batch_id']}, whose "
                    f"batch row is gone — it was deleted",
                    entry["seq"],
                    entry["batch_id"],
                )
            )
            continue
        differing = [b for b, e in _BATCH_FIELDS if batch[b] != entry[e]]
        fingerprint = (batch["meta"] or {}).get("signer_fingerprint")
        if (str(fingerprint) if fingerprint else None) != entry["signer_fingerprint"]:
            differing.append("meta.signer_fingerprint")
        if not _owners_recorded(batch, entry):
            differing.append(f"meta.{REPLAY_OWNERS_META}")
        if differing:
            result.add(
                Problem(
                    "batch.altered",
                    f"batch {batch['id']} differs from its ledger entry seq {entry['seq']} in "
                    f"{', '.join(differing)}",
                    entry["seq"],
                    batch["id"],
                )
            )
    for batch in batches.values():
        if batch["status"] == "running":
            continue  # still open (or killed before closing): no entry yet, no rows
        result.add(
            Problem(
                "batch.no_entry",
                f"batch {batch['id']} ({batch['status']}) has no ledger entry — its entry "
                f"was deleted",
                batch_id=batch["id"],
            )
        )


def _check_records(
    connection: Connection, result: LedgerVerification, chained: dict[str, _Chained]
) -> None:
    seen: set[str] = set()
    current: str | None = None
    hasher = RecordsHasher()

    def finish() -> None:
        if current is None:
            return
        seen.add(current)
        entry = chained.get(current)
        if entry is None:
            result.add(
                Problem(
                    "records.no_entry",
                    f"ledger records of batch {current} belong to no ledger entry",
                    batch_id=current,
                )
            )
        elif hasher.result() != (entry.records_hash, entry.record_count):
            result.add(
                Problem(
                    "records.altered",
                    f"the ledger records of batch {current} (entry seq {entry.seq}) no longer "
                    f"hash to the entry's content hash — a record was altered, added or removed",
                    entry.seq,
                    current,
                )
            )

    for row in stored_records(connection):
        if row.batch_id != current:
            finish()
            current, hasher = row.batch_id, RecordsHasher()
        hasher.add(row.kind, row.key, row.digest)
        result.records += 1
    finish()
    for batch_id, entry in chained.items():
        if entry.record_count and batch_id not in seen:
            result.add(
                Problem(
                    "records.altered",
                    f"the {entry.record_count} ledger records of batch {batch_id} (entry seq "
                    f"{entry.seq}) are gone",
                    entry.seq,
                    batch_id,
                )
            )


def _check_rows(
    connection: Connection, result: LedgerVerification, spec: CoveredTable, legacy: set[str]
) -> None:
    """Every row against the latest record of it; ``legacy`` are the batches of unsigned
    legacy entries, whose rows of tables covered only since then went unrecorded."""
    records = LedgerRecord.__table__
    entries = LedgerEntry.__table__
    latest: dict[str, tuple[str, str]] = {}
    for key, digest, batch_id in connection.execute(
        select(records.c.key, records.c.digest, records.c.batch_id)
        .join(entries, entries.c.batch_id == records.c.batch_id)
        .where(records.c.kind == spec.kind)
        .order_by(entries.c.seq)
    ):
        latest[key] = (digest, batch_id)
    for row in connection.execute(spec.select().execution_options(yield_per=10_000)).mappings():
        result.rows += 1
        key = spec.key_of(row)
        recorded = latest.pop(key, None)
        where = f"{spec.table_name} row {key}"
        if recorded is None and spec.since_signed and row["batch_id"] in legacy:
            continue
        if recorded is None:
            result.add(
                Problem(
                    "row.unrecorded",
                    f"{where} (batch {row['batch_id']}) is in no ledger record — written "
                    f"outside a closed batch",
                    batch_id=row["batch_id"],
                    table=spec.table_name,
                    key=key,
                )
            )
        elif spec.digest_of(row) != recorded[0]:
            result.add(
                Problem(
                    "row.altered",
                    f"{where} was altered since batch {recorded[1]} recorded it",
                    batch_id=recorded[1],
                    table=spec.table_name,
                    key=key,
                )
            )
    for key, (digest, batch_id) in latest.items():
        if digest != DELETED:
            result.add(
                Problem(
                    "row.missing",
                    f"{spec.table_name} row {key}, recorded by batch {batch_id}, is missing — "
                    f"deleted outside any batch",
                    batch_id=batch_id,
                    table=spec.table_name,
                    key=key,
                )
            )
