"""Who owns a stored case: the one whose delivery first stored it.

A stored case belongs to whoever first delivered it: the department whose case system
delivered its first event (``tongyuan ingest``, or a replay of that department's
quarantined delivery), or nobody for a case loaded from a file or pulled by hand. The
case library (:mod:`tongyuan.libraries.cases`) refuses a delivery by anyone else
(``case.owner.mismatch``). The owner is read from the batch of the case's first event,
which the ledger vouches for, so no column holds it; a replay batch records the owner of
each case it first stores (:class:`ReplayedOwners`), covered through its content hash.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongyuan.libraries.base import json_hash
from tongyuan.libraries.batches import Batch

if TYPE_CHECKING:
    from tongyuan.libraries.cases import CaseEventRow, CaseRow

log = logging.getLogger(__name__)


# Where a replay batch records whose case each case it first stored is (its ``meta``), and
# the session cache of what each batch says about the cases it first stored.
REPLAY_OWNERS_META = "case_owners"
_OWNERS_CACHE = "tongyuan.case_owners"


@dataclass(frozen=True, slots=True)
class CaseOwner:
    """Who may change a stored case: the deliveries ``allowed`` (a department's code, or
    ``None`` for file loads and hand pulls), and how it was first delivered (for messages).

    Usually one owner. A case first stored by a replay written before replays recorded
    their cases' owners may be allowed several departments (see :func:`case_owner`), or
    none when its first delivery cannot be told at all.
    """

    allowed: frozenset[str | None]
    first: str

    def admits(self, department: str | None) -> bool:
        return department in self.allowed

    @property
    def department(self) -> str | None:
        """The one owning department (``None``: nobody's, several, or unknown)."""
        return next(iter(self.allowed)) if len(self.allowed) == 1 else None


def _owned_by(department: str | None) -> CaseOwner:
    if department is None:
        first = "was loaded from a file or pulled by hand (no department delivered it)"
    else:
        first = f"was first delivered by the case system of department {department}"
    return CaseOwner(frozenset({department}), first)


def _unknown_owner(why: str) -> CaseOwner:
    return CaseOwner(
        frozenset(), f"has no owner the hub can tell ({why}), so no delivery may change it"
    )


@dataclass(slots=True)
class _FirstDeliveries:
    """Who owns each case one batch first stored: ``exact`` by key, else ``default``."""

    default: CaseOwner
    exact: dict[tuple[str, str], CaseOwner] = field(default_factory=dict)

    def owner(self, row: CaseRow) -> CaseOwner:
        return self.exact.get((row.source_system, row.dept_case_no), self.default)


class ReplayedOwners:
    """The department each case a replay first stores belongs to, recorded by the replay.

    A replayed entry's payload is the department's own row for sql/http sources (not the
    standard form), so the case it became cannot be read back from the entry; and one
    replay (``--all``) may store cases of several departments. The replay therefore
    records the owner of each case it adds, in its batch's ``meta`` under
    ``case_owners`` (``{department: {source_system: [dept_case_no, …]}}``; cases of no
    department are absent), and the batch's content hash is the hash of that map: the
    ledger vouches for the hash (the entry's ``input_hash``) and :func:`case_owner`
    refuses a map that no longer matches it.
    """

    def __init__(self) -> None:
        self._first = _FirstDeliveries(_owned_by(None))

    def start(self, session: Session, batch_id: str) -> None:
        """Answer owner look-ups for the running batch from this record (the same case
        may come again later in the same replay)."""
        session.info.setdefault(_OWNERS_CACHE, {})[batch_id] = self._first

    def add(self, source_system: str, dept_case_no: str, department: str | None) -> None:
        """The replay just stored a new case from a delivery of ``department``."""
        if department is not None:
            self._first.exact[(source_system, dept_case_no)] = _owned_by(department)

    def as_meta(self) -> dict[str, dict[str, list[str]]]:
        grouped: dict[str, dict[str, list[str]]] = {}
        for (source_system, dept_case_no), owner in self._first.exact.items():
            department = owner.department
            assert department is not None
            grouped.setdefault(department, {}).setdefault(source_system, []).append(dept_case_no)
        for systems in grouped.values():
            for numbers in systems.values():
                numbers.sort()
        return grouped

    @staticmethod
    def digest(meta: dict[str, dict[str, list[str]]]) -> str:
        """The replay batch's content hash: the hash of its ``case_owners`` map."""
        return json_hash({REPLAY_OWNERS_META: meta})


def department_of_source(source: str | None) -> str | None:
    """The department whose case system a source names, or ``None`` (no department).

    A department's ingest keeps its batches under ``dept:<code>:cases/<stream>``
    (:func:`tongyuan.ingest.engine.source_name`) and stores its records with the source
    ``adapter:dept:<code>:cases`` (a replay of its quarantined records too); file loads
    (``file:…``), hand pulls and replays of file records name no department.
    """
    if not source:
        return None
    label = source.removeprefix("adapter:")
    if not label.startswith("dept:"):
        return None
    code = label.split(":", 2)[1]
    return code or None


def case_owner(session: Session, row: CaseRow, stored: list[CaseEventRow]) -> CaseOwner:
    """Who may change the stored case: whoever delivered the batch of its first event.

    A department's ingest batch names the department; a file load or hand pull nobody. A
    case first stored by a quarantine replay belongs to the department the replay
    recorded for it (:class:`ReplayedOwners`). What a batch says is read once per batch
    and kept for the session (a finished batch never changes), so a delivery of many
    stored cases costs one look-up per batch that first stored them, not one per case.
    """
    if not stored:
        return _unknown_owner("it has no stored events")
    batch_id = stored[0].batch_id
    cache: dict[str, _FirstDeliveries] = session.info.setdefault(_OWNERS_CACHE, {})
    first = cache.get(batch_id)
    if first is None:
        first = cache[batch_id] = _first_deliveries(session, batch_id)
    return first.owner(row)


def _first_deliveries(session: Session, batch_id: str) -> _FirstDeliveries:
    batch = session.get(Batch, batch_id)
    if batch is None:
        return _FirstDeliveries(_unknown_owner(f"the batch {batch_id} of its first event is gone"))
    department = department_of_source(batch.source)
    if department is not None or batch.kind != "replay":
        return _FirstDeliveries(_owned_by(department))
    recorded = (batch.meta or {}).get(REPLAY_OWNERS_META)
    if recorded is None and batch.content_hash is None:
        # Only a replay from before the record has neither: every later one hashes it.
        return _legacy_replay(session, batch_id)
    if recorded is None:
        # The content hash says a record was made: without it, falling back to the legacy
        # pool would let any department of that replay take the others' cases over.
        problem = "was removed (the batch's content hash says it recorded one)"
    elif not isinstance(recorded, dict) or ReplayedOwners.digest(recorded) != batch.content_hash:
        problem = "no longer matches the batch's content hash"
    else:
        return _recorded_owners(recorded)
    log.error(
        "replay batch %s: its record of whose cases it stored (meta %s) %s; its cases are "
        "refused to every delivery",
        batch_id,
        REPLAY_OWNERS_META,
        problem,
    )
    return _FirstDeliveries(
        _unknown_owner(
            f"replay batch {batch_id} stored it, and its record of whose cases it stored "
            "was altered"
        )
    )


def _recorded_owners(recorded: dict[str, Any]) -> _FirstDeliveries:
    """The owners a replay recorded (:meth:`ReplayedOwners.as_meta`), already checked
    against its content hash; a case it does not list was first stored for nobody."""
    first = _FirstDeliveries(_owned_by(None))
    for department, systems in recorded.items():
        owner = _owned_by(department)
        for source_system, numbers in systems.items():
            for dept_case_no in numbers:
                first.exact[(source_system, dept_case_no)] = owner
    return first


def _legacy_replay(session: Session, batch_id: str) -> _FirstDeliveries:
    """A replay written before replays recorded their cases' owners.

    Entries in the standard form name their case, so those cases get their exact owner.
    A department's own row (sql/http sources) does not: a case not named by any entry was
    stored from one of those, so it may be changed by the deliverers of the case entries
    the replay stored from such rows — never by anyone else, file loads included (unless
    one of those rows was a hand pull). When they are all one department, that is exact.
    Several departments are all admitted rather than none: refusing them all would lock
    the real owner out of its own case for good, while admitting them lets in only
    departments whose rows that very replay stored, never a file load or a stranger.
    Read from the replay's own history (``quarantine_replays``, indexed by batch), not
    from the entries' unindexed ``resolved_batch_id``. The ledger vouches for that history
    only as far as it vouches for the replay's own entry: rows of batches whose entries
    are unsigned legacy entries were never recorded (``ledger verify`` skips them), so a
    row added or changed there by hand is not reported, like anything else written before
    entries were signed (docs/ledger.md).
    """
    from tongyuan.libraries.quarantine import QuarantineEntry, ReplayOutcome

    entries = session.execute(
        select(QuarantineEntry.origin, QuarantineEntry.payload_masked)
        .join(ReplayOutcome, ReplayOutcome.entry_id == QuarantineEntry.id)
        .where(
            ReplayOutcome.batch_id == batch_id,
            ReplayOutcome.outcome == "added",
            QuarantineEntry.kind == "case",
        )
    ).all()
    exact: dict[tuple[str, str], CaseOwner] = {}
    unnamed: set[str | None] = set()
    named: set[str | None] = set()
    for origin, payload in entries:
        department = department_of_source((origin or {}).get("source"))
        key = (
            (payload.get("source_system"), payload.get("dept_case_no"))
            if isinstance(payload, dict)
            else (None, None)
        )
        if isinstance(key[0], str) and isinstance(key[1], str):
            exact.setdefault((key[0], key[1]), _owned_by(department))
            named.add(department)
        else:
            unnamed.add(department)
    # A case no entry names came from a row that does not name it; should every entry
    # name some case (a masked key, say), it still came from one of them.
    pool = unnamed or named
    if not pool:
        default = _unknown_owner(f"replay batch {batch_id} records no case entry it stored")
    elif len(pool) == 1:
        default = _owned_by(next(iter(pool)))
    else:
        shown = ", ".join(
            f"department {d}" if d is not None else "file loads and hand pulls"
            for d in sorted(pool, key=str)
        )
        default = CaseOwner(
            frozenset(pool),
            f"was first stored by replay batch {batch_id}, which did not record whose case "
            f"each was; it may belong to any of {shown} (whose deliveries that replay "
            "stored), so only their deliveries may change it",
        )
    return _FirstDeliveries(default, exact)
