"""Offline verification: recompute the chain, the batch contents and every row's digest.

Needs only the database (and, to pin checkpoints to the hub, its public key). Reads in
one snapshot transaction, so a batch committing meanwhile is either wholly seen or not.
Checks run in order — chain, head, checkpoints, batches, records, rows — and every
problem names the entry (seq), batch or row (table + key) concerned; the first problem
is the first altered thing found.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import SQLAlchemyError

from standards.privacy import mask_text
from tongyuan.ledger.checkpoints import checkpoint_statement
from tongyuan.ledger.digests import (
    COVERED,
    DELETED,
    CoveredTable,
    RecordsHasher,
    stored_records,
)
from tongyuan.ledger.entries import compute_entry_hash
from tongyuan.ledger.hubkey import public_key_id, verify_statement
from tongyuan.libraries.base import Base
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
            "problem_count": self.problem_count,
            "first": None if self.first is None else asdict(self.first),
            "problems": [asdict(p) for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class _Chained:
    seq: int
    entry_hash: str
    records_hash: str
    record_count: int


def verify_ledger(
    engine: Engine, *, trusted_keys: Sequence[str] | None = None
) -> LedgerVerification:
    """Check the whole ledger against the libraries; never raises for a mismatch.

    ``trusted_keys`` are PEM public keys the hub is known to sign with: when given, a
    checkpoint signed by any other key is a problem even if its signature is valid.
    Raises :class:`LedgerUnreadable` when the database or its ledger cannot be read.
    """
    result = LedgerVerification()
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                chained = _check_chain(connection, result)
                _check_checkpoints(connection, result, chained, trusted_keys)
                _check_batches(connection, result, chained)
                _check_records(connection, result, chained)
                for spec in COVERED:
                    _check_rows(connection, result, spec)
    except SQLAlchemyError as exc:
        raise LedgerUnreadable(f"cannot read the ledger: {type(exc).__name__}: {exc}") from exc
    return result


def _entries(connection: Connection) -> Iterator[LedgerEntry]:
    columns = LedgerEntry.__table__.columns
    rows = connection.execute(select(LedgerEntry.__table__).order_by(columns.seq)).mappings()
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
            entry.seq, entry.entry_hash, entry.records_hash, entry.record_count
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


def _check_checkpoints(
    connection: Connection,
    result: LedgerVerification,
    chained: dict[str, _Chained],
    trusted_keys: Sequence[str] | None,
) -> None:
    by_seq = {c.seq: c.entry_hash for c in chained.values()}
    trusted = None if trusted_keys is None else {public_key_id(k) for k in trusted_keys}
    table = LedgerCheckpoint.__table__
    for row in connection.execute(select(table).order_by(table.c.id)).mappings():
        result.checkpoints += 1
        where = f"checkpoint {row['id']} (seq {row['seq']})"
        try:
            key_id = public_key_id(row["public_key"])
        except (ValueError, UnicodeError):
            key_id = None
        statement = checkpoint_statement(
            row["seq"], row["entry_hash"], row["created_at"], row["key_id"]
        )
        if key_id != row["key_id"] or not verify_statement(
            row["public_key"], statement, row["signature"]
        ):
            result.add(
                Problem(
                    "checkpoint.signature",
                    f"{where}: the hub signature does not verify — the checkpoint was forged "
                    f"or altered",
                    row["seq"],
                )
            )
            continue
        if trusted is not None and key_id not in trusted:
            result.add(
                Problem(
                    "checkpoint.key",
                    f"{where}: signed by key {key_id[:16]}…, which is not the hub key given "
                    f"for this verification",
                    row["seq"],
                )
            )
        expected = GENESIS_HASH if row["seq"] == 0 else by_seq.get(row["seq"])
        if expected != row["entry_hash"]:
            result.add(
                Problem(
                    "checkpoint.chain",
                    f"{where}: the chain at seq {row['seq']} no longer has the hash the hub "
                    f"signed — entries up to seq {row['seq']} were rewritten or removed",
                    row["seq"],
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
    for entry in connection.execute(select(entries).order_by(entries.c.seq)).mappings():
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


def _check_rows(connection: Connection, result: LedgerVerification, spec: CoveredTable) -> None:
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
