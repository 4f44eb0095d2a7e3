"""Syncing one node's item system into the shared item library.

One run is one pull (:func:`tongyuan.pulling.pull`): the library writes, the node's
copies, the base catalogue, the consistency findings, the adapter state and the batch
commit in one transaction, and the source is acknowledged only after that commit. A run
killed anywhere before the commit leaves nothing; one killed after it leaves the source
unacknowledged, and the drop folder (or cursor) then re-delivers nothing new: the re-run
ends in the state an uninterrupted run reaches.

Change detection. Each node's copy of each item is kept in ``node_items`` with the
content hash of the record *as the node sent it*. The node's hashes are fetched in one
query at the start; a record whose hash matches costs one hash computation and nothing
else. Only changed copies touch the library, where ``write_item`` writes a new version
only when the stored content (the copy with the catalogue's base elements) differs.

Ownership (:mod:`tongyuan.sync.ownership`). Base elements come from the base catalogue
table, supplied by the issuing province's node (the topology's top node for national
``00`` codes); only that issuer re-versions other systems' items to its base elements.
Until it has supplied a code (``provisional``), and for codes no node of the topology
issues (``first_source``), a stand-in elected among the published copies by the topology
(:meth:`Ownership.stand_in_rank`, never the sync order) is the reference copies are
judged against, and rewrites nobody's copy. Implementation elements come from the
implementing authority's own system; until that system has supplied an item, the first
system that did stands in.
A copy that differs from an element's owner never overwrites it: each differing element
is a consistency finding (both values, both systems), opened, kept up to date and
resolved when the copy agrees again. Findings are re-judged when either side changes, so
the final findings do not depend on which node synced first.

Checks. Every record is checked against the standard (:func:`check_record`), and two
things only a sync can judge: the same 实施编码 twice in one delivery (``item.key.duplicate``,
the later one refused) and an item filed under a region that is not the system's own or
below it (``item.region.outside_system``, see :mod:`tongyuan.sync.ownership`). A record
that fails is quarantined and touches nothing else.

Cancellation. A record with status ``cancelled`` becomes a tombstone when it comes from
the item's owner (a non-owner's cancellation is a ``status`` finding). Incremental
streams only cancel through such records: a record that is merely absent from an
incremental read says nothing. A stream the topology marks ``snapshot: true`` delivers
the node's full list in every read that delivers anything, so the items the node held
before and that are absent from it are cancelled the same way. A read that delivers no
record at all is not a snapshot (nothing new arrived), and a snapshot in which a record
could not be read well enough to know its 实施编码 cancels nothing (the count
``snapshot_incomplete`` in the batch says so).

Review workflow. Only ``published`` copies reach the library; other statuses are held in
``node_items`` with the status the node gave them (the library keeps the last published
version meanwhile). Every changed copy is passed to the observers registered with
:func:`register_copy_observer`, inside the run's transaction, so the review tracker
commits or rolls back with the sync. A published copy is shown to them before it is
written: one that reached ``published`` by skipping a reviewer is refused (held, counted
as ``refused``) and the library keeps its last legally published version.

Crash points for tests. ``TONGYUAN_SYNC_CRASH`` names where the process kills itself
with SIGKILL: ``record:N`` (after the N-th record), ``before_commit`` or ``after_commit``
(committed, not acknowledged), optionally ``@SYSTEM`` to crash in one node's run only.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, event, select
from sqlalchemy.orm import Session

from adapters.sdk import Envelope, Source
from adapters.sdk.registry import load_adapter
from standards.codes.enums import ReviewStatus
from standards.records import Item, SourceLocation
from standards.validation import CheckOptions, Finding, Severity
from standards.validation.batch import BatchUniqueness
from standards.validation.record_checks import check_record
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.db.errors import describe_error
from tongyuan.libraries.base import json_hash, to_utc
from tongyuan.libraries.batches import Batch, record_failed_batch
from tongyuan.libraries.consistency import (
    GONE_HASH,
    BaseCatalogueEntry,
    ConsistencyFinding,
    NodeItem,
)
from tongyuan.libraries.items import ItemVersion, cancel_item, write_item, write_item_over
from tongyuan.libraries.quarantine import add_quarantined
from tongyuan.privacy import PiiProtector
from tongyuan.pulling import pull
from tongyuan.storing import StoreCounts
from tongyuan.sync.diff import ItemChange, NodeDiff, element_changes
from tongyuan.sync.ownership import (
    BASE_CANCELLED,
    NATIONAL,
    Ownership,
    base_elements,
    base_issuer,
    differing,
    implementation_elements,
    source_label,
    system_of_label,
)
from tongyuan.sync.results import NodeSyncResult

log = logging.getLogger(__name__)

ENV_CRASH = "TONGYUAN_SYNC_CRASH"
BATCH_KIND = "sync.items"
PUBLISHED = ReviewStatus.PUBLISHED.value
CANCELLED = ReviewStatus.CANCELLED.value


# Changed copies per pull whose library lookups go one item at a time before the
# lookups switch to fetching every code at once (see CodesFetchedLater).
POINT_LOOKUPS = 300


class CodesFetchedLater:
    """The codes a query returns, fetched once only when asked about many of them.

    A re-sync changing 1 % of a big library should read no more than those items, while a
    first sync asks about every item and is better served by one fetch of every code than
    by a query (and the flush before it) per item. So the first :data:`POINT_LOOKUPS`
    questions get ``None`` (the caller asks the database about that one code) and from
    then on the answer comes from one fetch of the query; :meth:`fetch_now` skips the
    point lookups when every question is known to come.
    """

    def __init__(self, query: Select[tuple[str]]) -> None:
        self.query = query
        self.asked = 0
        self.codes: set[str] | None = None

    def fetch_now(self) -> None:
        self.asked = POINT_LOOKUPS

    def add(self, code: str) -> None:
        """The caller wrote ``code`` where the query will find it (kept once fetched)."""
        if self.codes is not None:
            self.codes.add(code)

    def holds(self, session: Session, code: str) -> bool | None:
        """Whether the query returns ``code``; ``None`` while lookups are one by one."""
        if self.codes is None:
            if self.asked < POINT_LOOKUPS:
                self.asked += 1
                return None
            self.codes = set(session.scalars(self.query))
        return code in self.codes


# --------------------------------------------------------------------------- observers


@dataclass(frozen=True, slots=True)
class CopyEvent:
    """One changed copy of an item at one system, as the sync saw it.

    ``outcome`` is ``published`` (accepted into, or judged against, the library),
    ``held`` (not published: waiting in the review workflow), ``cancelled`` (a
    cancellation record) or ``gone`` (absent from a full snapshot).
    """

    system: str
    batch_id: str
    impl_code: str
    item: Item | None
    status: str
    previous_status: str | None
    outcome: str
    now: datetime
    dry_run: bool = False  # the transaction will be rolled back: no effects outside it


# An observer returns a reason to refuse a published copy (a review step the rules do not
# allow), or None. A refused copy is held: it never reaches the library.
CopyObserver = Callable[[Session, CopyEvent], "str | None"]
_OBSERVERS: list[CopyObserver] = []


def register_copy_observer(observer: CopyObserver) -> None:
    """Have ``observer`` called for every changed copy, inside the sync's transaction."""
    if observer not in _OBSERVERS:
        _OBSERVERS.append(observer)


def unregister_copy_observer(observer: CopyObserver) -> None:
    if observer in _OBSERVERS:
        _OBSERVERS.remove(observer)


# --------------------------------------------------------------------------- crash points


class CrashPoints:
    """SIGKILL at a named point when ``TONGYUAN_SYNC_CRASH`` asks for it (tests only)."""

    def __init__(self, system: str, spec: str | None) -> None:
        self.point: str | None = None
        self.after_records = -1
        self.records = 0
        if not spec:
            return
        point, _, only = spec.partition("@")
        if only and only != system:
            return
        name, _, count = point.partition(":")
        if name == "record":
            if not count.isdigit():
                raise ValueError(f"{ENV_CRASH}={spec!r}: record:N needs a number")
            self.after_records = int(count)
        elif name not in ("before_commit", "after_commit"):
            raise ValueError(
                f"{ENV_CRASH}={spec!r}: expected record:N, before_commit or after_commit"
            )
        self.point = name

    def record_done(self) -> None:
        self.records += 1
        if self.point == "record" and self.records == self.after_records:
            self._die()

    def __call__(self, name: str) -> None:
        if self.point == name:
            self._die()

    @staticmethod
    def _die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------- findings


class FindingBook:
    """The findings a run reads and writes, by (item, other system) and element."""

    def __init__(self, result: NodeSyncResult) -> None:
        self.result = result
        self.rows: dict[tuple[str, str], dict[str, ConsistencyFinding]] = {}
        self.loaded: set[tuple[str, str]] = set()

    def load(self, session: Session, column: str, value: str) -> None:
        """Fetch every finding where ``column == value`` once (one query)."""
        if (column, value) in self.loaded:
            return
        self.loaded.add((column, value))
        query = select(ConsistencyFinding).where(getattr(ConsistencyFinding, column) == value)
        for row in session.scalars(query):
            self.rows.setdefault((row.impl_code, row.other_node), {}).setdefault(row.element, row)

    def judge(
        self,
        session: Session,
        batch: Batch,
        now: datetime,
        *,
        scope: str,
        impl_code: str,
        basic_code: str,
        owner_node: str,
        other_node: str,
        owner: Mapping[str, Any],
        other: Mapping[str, Any],
    ) -> None:
        """Open or refresh a finding per differing element; resolve the agreeing ones."""
        if owner_node == other_node:
            self.resolve_all(batch, now, impl_code, other_node, scopes=(scope,))
            return
        wrong = set(differing(owner, other))
        known = self.rows.get((impl_code, other_node), {})
        for element in owner:
            row = known.get(element)
            if element in wrong:
                self._open(
                    session, batch, now, row, scope=scope, impl_code=impl_code,
                    basic_code=basic_code, element=element, owner_node=owner_node,
                    other_node=other_node, values=(owner.get(element), other.get(element)),
                )  # fmt: skip
            elif row is not None and row.status == "open":
                self._resolve(row, batch, now)

    def resolve_all(
        self, batch: Batch, now: datetime, impl_code: str, other_node: str, *,
        scopes: Iterable[str],
    ) -> None:  # fmt: skip
        """Resolve the open findings of one copy in the given scopes (it agrees now)."""
        wanted = set(scopes)
        for row in self.rows.get((impl_code, other_node), {}).values():
            # A cancelled base item is the push's to judge: a change of the copy says
            # nothing about it.
            if row.element == BASE_CANCELLED:
                continue
            if row.scope in wanted and row.status == "open":
                self._resolve(row, batch, now)

    def _open(
        self,
        session: Session,
        batch: Batch,
        now: datetime,
        row: ConsistencyFinding | None,
        *,
        scope: str,
        impl_code: str,
        basic_code: str,
        element: str,
        owner_node: str,
        other_node: str,
        values: tuple[Any, Any],
    ) -> None:
        owner_value, other_value = values
        if row is None:
            row = ConsistencyFinding(
                scope=scope, basic_code=basic_code, impl_code=impl_code, element=element,
                owner_value=owner_value, other_value=other_value, owner_node=owner_node,
                other_node=other_node, status="open", first_batch_id=batch.id,
                batch_id=batch.id, first_seen=now, last_seen=now, resolved_at=None,
            )  # fmt: skip
            session.add(row)
            self.rows.setdefault((impl_code, other_node), {})[element] = row
            self.result.bump("findings_opened")
            return
        if row.status != "open":
            row.status, row.resolved_at = "open", None
            self.result.bump("findings_opened")
        if (row.owner_value, row.other_value, row.owner_node) != (*values, owner_node):
            row.owner_value, row.other_value, row.owner_node = owner_value, other_value, owner_node
        row.scope, row.basic_code = scope, basic_code
        row.batch_id, row.last_seen = batch.id, now

    def _resolve(self, row: ConsistencyFinding, batch: Batch, now: datetime) -> None:
        row.status, row.resolved_at = "resolved", now
        row.batch_id, row.last_seen = batch.id, now
        self.result.bump("findings_resolved")


# --------------------------------------------------------------------------- the writer


class ItemSyncWriter:
    """The pull writer of an item sync: change detection, ownership, findings, tombstones."""

    def __init__(
        self,
        system: str,
        ownership: Ownership,
        *,
        snapshot: bool,
        protector: PiiProtector,
        result: NodeSyncResult,
        crash: CrashPoints,
        options: CheckOptions | None = None,
        dry_run: bool = False,
    ) -> None:
        self.system = system
        self.dry_run = dry_run
        self.label = source_label(system)
        self.ownership = ownership
        self.snapshot = snapshot
        self.protector = protector
        self.result = result
        self.diff = result.diff
        self.crash = crash
        self.options = options or CheckOptions()
        self.findings = FindingBook(result)
        # 实施编码 seen per delivery (a file, or one read of an SQL or HTTP stream): the
        # same code twice in one delivery is refused the second time. Successive files
        # of one pull are successive states of the system, so across them the later
        # copy is an update, not a duplicate.
        self.uniqueness: dict[str, BatchUniqueness] = {}
        self.prior: dict[str, tuple[str, str]] = {}  # impl_code -> (hash, status)
        self.catalogue: dict[str, BaseCatalogueEntry] = {}
        self.seen: set[str] = set()
        self.snapshot_complete = True
        self.envelopes = 0
        # The pull's counts and the location of the record being written (see write()).
        self.counts = StoreCounts()
        self.location: SourceLocation | None = None
        self.now = datetime.now(UTC)
        current_codes = select(ItemVersion.impl_code).where(ItemVersion.valid_to.is_(None))
        self._in_library = CodesFetchedLater(current_codes)
        others = select(NodeItem.impl_code).where(NodeItem.node != system).distinct()
        self._elsewhere = CodesFetchedLater(others)
        # This system's copies written since the session last flushed, by 实施编码 and by
        # 基本编码: an election reads the library without flushing and lays these over it.
        self._unflushed: dict[str, NodeItem] = {}
        self._unflushed_by_code: dict[str, dict[str, NodeItem]] = {}

    # -- PullWriter ----------------------------------------------------------------

    def begin(self, session: Session, batch: Batch, now: datetime) -> None:
        self.now = to_utc(now)
        rows = session.execute(
            select(NodeItem.impl_code, NodeItem.content_hash, NodeItem.status).where(
                NodeItem.node == self.system
            )
        )
        self.prior = {impl: (digest, status) for impl, digest, status in rows}
        if not self.prior:
            # The system's first sync: every copy is new, so fetch at once.
            self._in_library.fetch_now()
            self._elsewhere.fetch_now()
        self.catalogue = {e.basic_code: e for e in session.scalars(select(BaseCatalogueEntry))}
        event.listen(session, "after_flush", self._flushed)

    def _written(self, row: NodeItem) -> None:
        self._unflushed[row.impl_code] = row
        self._unflushed_by_code.setdefault(row.basic_code, {})[row.impl_code] = row

    def _flushed(self, session: Session, context: object) -> None:
        self._unflushed.clear()
        self._unflushed_by_code.clear()

    def write(
        self, session: Session, batch: Batch, envelope: Envelope, counts: StoreCounts
    ) -> None:
        self.envelopes += 1
        self.counts, self.location = counts, envelope.location
        record = envelope.record
        findings = list(envelope.findings)
        if record is not None and not isinstance(record, Item):
            findings.append(
                Finding("sync.kind", f"an item stream yielded a {record.kind} record", None)
            )
        elif record is not None:
            findings += check_record(record, self.options)
            where = envelope.location
            seen = self.uniqueness.setdefault(where.file, BatchUniqueness())
            findings += seen.check(record, where)
            findings += self._outside(record, findings)
        counts.warnings += sum(f.severity is Severity.WARNING for f in findings)
        errors = [f for f in findings if f.severity is Severity.ERROR]
        if not isinstance(record, Item) or errors:
            self._quarantine(session, batch, envelope, errors or findings, counts)
        else:
            counts.read += 1
            self.result.bump("read")
            self._copy(session, batch, record)
        self.crash.record_done()

    def _outside(self, item: Item, findings: list[Finding]) -> list[Finding]:
        """A finding when the system files the item under a region not its own or below
        it (see :mod:`tongyuan.sync.ownership`); none for a malformed region code, which
        has its own finding already."""
        if any(f.rule == "region.format" for f in findings):
            return []
        if self.ownership.may_file(self.system, item.region_code):
            return []
        home = self.ownership.home_region(self.system)
        whose = f"node {home}" if home == self.system else f"department of node {home}"
        return [
            Finding(
                "item.region.outside_system",
                f"system {self.system} ({whose}) delivered an item filed under region "
                f"{item.region_code}, which is neither {home} nor below it",
                "region_code",
            )
        ]

    def finish(self, session: Session, batch: Batch, counts: StoreCounts) -> None:
        if self.snapshot and self.envelopes:
            if self.snapshot_complete:
                gone = sorted(
                    impl
                    for impl, (digest, status) in self.prior.items()
                    if impl not in self.seen and digest != GONE_HASH
                )
                for impl in gone:
                    self._gone(session, batch, impl)
            else:
                batch.meta = {**batch.meta, "snapshot_incomplete": 1}
        event.remove(session, "after_flush", self._flushed)
        counts.added = self.result.tally["added"]
        counts.changed = self.result.tally["changed"] + self.result.tally["cancelled"]
        counts.unchanged = self.result.tally["unchanged"] + self.result.tally["stale"]
        batch.meta = {**batch.meta, "node": self.system, "counts": self.result.counts}
        self.result.batch_id = batch.id

    # -- one copy ------------------------------------------------------------------

    def _quarantine(
        self,
        session: Session,
        batch: Batch,
        envelope: Envelope,
        findings: list[Finding],
        counts: StoreCounts,
    ) -> None:
        impl = envelope.record.impl_code if isinstance(envelope.record, Item) else None
        impl = impl or envelope.raw.get("impl_code")
        if isinstance(impl, str) and impl:
            self.seen.add(impl.strip())
        else:
            self.snapshot_complete = False
        add_quarantined(
            session, batch.id, kind="item", location=envelope.location, payload=envelope.raw,
            findings=findings, protector=self.protector,
        )  # fmt: skip
        counts.read += 1
        counts.quarantined += 1
        counts.rules.update({f.rule for f in findings})
        self.result.bump("read")
        self.result.bump("quarantined")

    def _copy(self, session: Session, batch: Batch, item: Item) -> None:
        impl = item.impl_code
        self.seen.add(impl)
        digest = item.content_hash()
        prior = self.prior.get(impl)
        if prior is not None and prior[0] == digest:
            self.result.bump("unchanged")
            return
        if prior is not None and self._stale(session, item, digest):
            self.result.bump("stale")
            return
        self._own_findings(session)
        status = item.status.value
        data = item.model_dump(mode="json", exclude_none=True)
        if prior is None:
            row = NodeItem(node=self.system, impl_code=impl, basic_code=item.basic_code,
                           content_hash=digest, status=status, data=data, batch_id=batch.id,
                           seen_at=self.now)  # fmt: skip
            session.add(row)
        else:
            found = session.get(NodeItem, (self.system, impl))
            assert found is not None
            row = found
            row.basic_code, row.content_hash, row.status = item.basic_code, digest, status
            row.data, row.batch_id, row.seen_at = data, batch.id, self.now
        self._written(row)
        self.prior[impl] = (digest, status)
        previous_status = prior[1] if prior is not None else None
        if status == CANCELLED:
            withdrawn = self._withdraw(session, batch, item)
            if withdrawn != "cancelled":
                # Read, so counted: a cancelled copy re-read with only its update time
                # changed (already a tombstone), or another system's item (judged).
                self.result.bump(withdrawn)
            outcome = "cancelled"
        elif status != PUBLISHED:
            self._left_published(session, batch, item)
            self.result.bump("held")
            self.result.held_items.append(impl)
            outcome = "held"
        else:
            # Observers judge a published copy before it is written, so they can refuse it.
            refusal = self._notify(session, batch, impl, item, status, previous_status,
                                   "published")  # fmt: skip
            if refusal is None:
                entry = self._base(session, batch, item)
                self._implementation(session, batch, item, entry)
            else:
                self.result.bump("refused")
                self.result.held_items.append(impl)
            return
        self._notify(session, batch, impl, item, status, previous_status, outcome)

    def _stale(self, session: Session, item: Item, digest: str) -> bool:
        """Whether the copy is an older export of this system read again.

        A re-read drop folder (docs/operations.md, Backfills) delivers the system's older
        exports again: applying them would put back states the system left (a cancelled
        item published again, review steps it never took). Both must hold: the record is
        older than the copy the hub holds (its ``updated_at`` earlier), and its content is
        exactly that of a version of the item this system wrote that was replaced since.
        The time alone is not enough — a clock running ahead (or a year mistyped) would
        make every later real change look older and drop it — and the content alone is
        not either: an item cancelled and then reinstated as it was is new, and newer. A
        copy of an item another system owns is never written to the library, so its
        re-read cannot be told apart and is applied as before.
        """
        if item.updated_at is None:
            return False
        row = session.get(NodeItem, (self.system, item.impl_code))
        held = row.data.get("updated_at") if row is not None else None
        if not isinstance(held, str):
            return False
        try:
            if to_utc(item.updated_at) >= to_utc(datetime.fromisoformat(held)):
                return False
        except ValueError:
            return False
        # The library stored the copy as it was, or merged with the issuer's elements.
        hashes = {digest, self._merged(item, self.catalogue.get(item.basic_code)).content_hash()}
        found = session.scalar(
            select(ItemVersion.id)
            .where(
                ItemVersion.impl_code == item.impl_code,
                ItemVersion.source == self.label,
                ItemVersion.content_hash.in_(sorted(hashes)),
                ItemVersion.valid_to.is_not(None),
            )
            .limit(1)
        )
        return found is not None

    def _own_findings(self, session: Session) -> None:
        """The findings on this system's copies, fetched once its first copy changes."""
        self.findings.load(session, "other_node", self.system)

    def _gone(self, session: Session, batch: Batch, impl: str) -> None:
        self._own_findings(session)
        row = session.get(NodeItem, (self.system, impl))
        assert row is not None
        previous_status = row.status
        row.content_hash, row.status, row.batch_id, row.seen_at = (
            GONE_HASH, CANCELLED, batch.id, self.now,
        )  # fmt: skip
        self._written(row)
        self.prior[impl] = (GONE_HASH, CANCELLED)
        item = Item.model_validate(row.data)
        if previous_status in (PUBLISHED, CANCELLED):
            self._withdraw(session, batch, item)
        self._notify(session, batch, impl, item, CANCELLED, previous_status, "gone")

    def _notify(
        self,
        session: Session,
        batch: Batch,
        impl: str,
        item: Item | None,
        status: str,
        previous_status: str | None,
        outcome: str,
    ) -> str | None:
        """Tell every observer; the first refusal any of them gives, or None."""
        if not _OBSERVERS:
            return None
        event = CopyEvent(self.system, batch.id, impl, item, status, previous_status, outcome,
                          self.now, self.dry_run)  # fmt: skip
        refusals = [observer(session, event) for observer in list(_OBSERVERS)]
        return next((r for r in refusals if r), None)

    # -- base elements -------------------------------------------------------------

    def _base(self, session: Session, batch: Batch, item: Item) -> BaseCatalogueEntry:
        """The catalogue entry in force for the item's 基本编码, after this copy's say."""
        code = item.basic_code
        mine = base_elements(item)
        entry = self.catalogue.get(code)
        issuer_node = self.ownership.base_owner(code)
        if entry is None:
            kind = (
                "issuer" if issuer_node == self.system
                else "provisional" if issuer_node is not None
                else "first_source"
            )  # fmt: skip
            issuer = base_issuer(code)
            entry = BaseCatalogueEntry(
                basic_code=code, issuer=issuer if issuer != NATIONAL else NATIONAL,
                owner_node=self.system, owner_kind=kind, name=item.name, elements=mine,
                content_hash=json_hash(mine), version=1, batch_id=batch.id,
                updated_at=self.now,
            )  # fmt: skip
            session.add(entry)
            self.catalogue[code] = entry
            self._rejudge_base(session, batch, entry, skip=item.impl_code)
            return entry
        if entry.owner_kind != "issuer" and issuer_node != self.system:
            self._stand_in(session, batch, entry, judged=item)
            return entry
        takeover = issuer_node == self.system and entry.owner_kind != "issuer"
        if entry.owner_node == self.system or takeover:
            changed = entry.elements != mine
            if takeover:
                entry.owner_node, entry.owner_kind = self.system, "issuer"
            if changed:
                entry.elements, entry.name = mine, item.name
                entry.content_hash = json_hash(mine)
                entry.version += 1
                self.result.bump("base_changed")
            if changed or takeover:
                entry.batch_id, entry.updated_at = batch.id, self.now
                self._rejudge_base(session, batch, entry, skip=item.impl_code)
                # A stand-in re-versioned nobody's copy: the issuer's first say brings
                # every item of the code to its values, whether they differ from the
                # stand-in's or not.
                self._reversion_base(session, batch, entry, skip=item.impl_code)
            self.findings.resolve_all(
                batch, self.now, item.impl_code, self.system, scopes=("base",)
            )
            return entry
        self.findings.judge(
            session, batch, self.now, scope="base", impl_code=item.impl_code, basic_code=code,
            owner_node=entry.owner_node, other_node=self.system, owner=entry.elements,
            other=mine,
        )  # fmt: skip
        return entry

    def _stand_in(
        self, session: Session, batch: Batch, entry: BaseCatalogueEntry, *, judged: Item | None
    ) -> None:
        """Elect the stand-in of a code whose issuer has not supplied it, and judge copies.

        Until the issuer's copy arrives nobody may rewrite another system's base elements:
        every system keeps its own copy in the library, and a copy that differs from the
        stand-in's is a finding naming both values. The stand-in is elected among the
        published copies by :meth:`Ownership.stand_in_rank` (the topology, never the sync
        order), so the catalogue entry and the findings end the same whichever system
        synced first. ``judged`` is this system's copy that changed (judged here even when
        the entry does not change); ``None`` when the system withdrew a copy.
        """
        rank = self.ownership.stand_in_rank
        if (
            judged is not None
            and entry.owner_node != self.system
            and rank(self.system) > rank(entry.owner_node)
        ):
            # A copy ranked below the stand-in changes nothing of the election: it is only
            # judged. (Electing again for every copy read cost a query, and a flush of the
            # batch's pending rows, per copy: a first sync of 100k items took 4× longer.)
            self.findings.judge(
                session, batch, self.now, scope="base", impl_code=judged.impl_code,
                basic_code=entry.basic_code, owner_node=entry.owner_node,
                other_node=self.system, owner=entry.elements, other=base_elements(judged),
            )  # fmt: skip
            return
        elected = self._elect(session, entry.basic_code)
        if elected is None:
            return  # no published copy left: the entry keeps its last values meanwhile
        node, copy = elected
        elements = base_elements(copy)
        if (node, elements) != (entry.owner_node, entry.elements):
            if elements != entry.elements:
                entry.elements, entry.name = elements, str(copy.get("name", entry.name))
                entry.content_hash = json_hash(elements)
                entry.version += 1
                self.result.bump("base_changed")
            entry.owner_node, entry.batch_id, entry.updated_at = node, batch.id, self.now
            self._rejudge_base(session, batch, entry, skip="")
            return
        if judged is not None:
            self.findings.judge(
                session, batch, self.now, scope="base", impl_code=judged.impl_code,
                basic_code=entry.basic_code, owner_node=entry.owner_node,
                other_node=self.system, owner=entry.elements, other=base_elements(judged),
            )  # fmt: skip

    def _elect(self, session: Session, basic_code: str) -> tuple[str, Mapping[str, Any]] | None:
        """The stand-in's system and copy among the published copies of a code.

        Read without flushing: an election comes with every copy delivered by a system
        ranked at or above the stand-in, and a flush of the batch's pending rows for
        each made a first sync of 100k items twice as slow. This system's copies written
        since the last flush are laid over what the library holds.
        """
        with session.no_autoflush:
            stored = session.execute(
                select(NodeItem.node, NodeItem.impl_code).where(
                    NodeItem.basic_code == basic_code, NodeItem.status == PUBLISHED
                )
            ).all()
            pending = self._unflushed_by_code.get(basic_code, {})
            copies = [
                (node, impl)
                for node, impl in stored
                if node != self.system or impl not in self._unflushed
            ]
            copies += [
                (self.system, impl)
                for impl, row in pending.items()
                if row.basic_code == basic_code and row.status == PUBLISHED
            ]
            if not copies:
                return None
            rank = self.ownership.stand_in_rank
            node, impl = min(copies, key=lambda c: (rank(c[0]), c[1]))
            row = pending.get(impl) if node == self.system else None
            if row is None:
                row = session.get(NodeItem, (node, impl))
                assert row is not None
            return node, row.data

    def _rejudge_base(
        self, session: Session, batch: Batch, entry: BaseCatalogueEntry, *, skip: str
    ) -> None:
        """Judge every published copy of the code against the catalogue's new values."""
        self.findings.load(session, "basic_code", entry.basic_code)
        copies = session.scalars(
            select(NodeItem).where(
                NodeItem.basic_code == entry.basic_code, NodeItem.status == PUBLISHED
            )
        )
        for copy in copies:
            if copy.node == self.system and copy.impl_code == skip:
                continue
            self.findings.judge(
                session, batch, self.now, scope="base", impl_code=copy.impl_code,
                basic_code=entry.basic_code, owner_node=entry.owner_node, other_node=copy.node,
                owner=entry.elements, other=base_elements(copy.data),
            )  # fmt: skip

    def _reversion_base(
        self, session: Session, batch: Batch, entry: BaseCatalogueEntry, *, skip: str
    ) -> None:
        """Give every current item of the code the catalogue's base elements (四级四同)."""
        current = session.scalars(
            select(ItemVersion).where(
                ItemVersion.basic_code == entry.basic_code,
                ItemVersion.valid_to.is_(None),
                ItemVersion.is_tombstone.is_(False),
            )
        ).all()
        for version in current:
            if version.impl_code == skip or base_elements(version.data) == entry.elements:
                continue
            updated = Item.model_validate({**version.data, **entry.elements})
            errors = self._merged_errors(updated, entry)
            if errors:
                system = system_of_label(version.source) or version.source
                where = SourceLocation(
                    f"{source_label(system)} {version.impl_code} (re-versioned to the base "
                    f"catalogue of {entry.basic_code}, version {entry.version})",
                    1,
                )
                self._refuse_merged(session, batch, updated, where, errors)
                continue
            before = dict(version.data)
            write_item(session, batch.id, updated, source=version.source, now=self.now)
            self.result.bump("changed")
            self._record("changed", updated, before)

    # -- implementation elements ---------------------------------------------------

    def _current(self, session: Session, impl: str) -> ItemVersion | None:
        """The library's current version (tombstones included); a code the library is
        known not to hold needs no query (see :class:`CodesFetchedLater`)."""
        if self._in_library.holds(session, impl) is False:
            return None
        return session.scalars(
            select(ItemVersion).where(ItemVersion.impl_code == impl, ItemVersion.valid_to.is_(None))
        ).one_or_none()

    def _held_elsewhere(self, session: Session, impl: str) -> bool:
        """Whether any other system has a copy of the item."""
        held = self._elsewhere.holds(session, impl)
        if held is not None:
            return held
        other = select(NodeItem.node).where(
            NodeItem.impl_code == impl, NodeItem.node != self.system
        )
        return session.scalars(other.limit(1)).first() is not None

    def _authority(self, session: Session, item: Item, current: ItemVersion | None) -> str | None:
        """The system whose values for this item are in force, ``None`` when nobody's are.

        The owner once it has supplied the item (published or cancelled); before that the
        system that supplied the library's current version.
        """
        owner = self.ownership.implementation_owner(item)
        if owner is not None:
            if owner == self.system:
                return owner
            copy = session.get(NodeItem, (owner, item.impl_code))
            if copy is not None and copy.status in (PUBLISHED, CANCELLED):
                return owner
        if current is None:
            return None
        return system_of_label(current.source) or current.source

    def _implementation(
        self, session: Session, batch: Batch, item: Item, entry: BaseCatalogueEntry
    ) -> None:
        impl = item.impl_code
        # Only the issuer's base elements replace a copy's own (and may make it break a
        # rule: refused). A stand-in's never do, nor refuse a copy: a copy that synced
        # before the stand-in was elected could not be refused the same way, and the
        # outcome must not depend on the sync order. A copy raising its own statutory
        # limit above the stand-in's is stored with a base finding on 法定时限 naming both,
        # and its claim does not complete (judged against the pushed base item).
        stored = self._merged(item, entry)
        current = self._current(session, impl)
        authority = self._authority(session, item, current)
        if authority is None or authority == self.system:
            errors = self._merged_errors(stored, entry) if stored is not item else []
            if errors:
                where = self.location or SourceLocation(source_label(self.system), 1)
                self._refuse_merged(session, batch, stored, where, errors)
                return
            # A tombstone's data is the last content with status cancelled: a reinstated
            # item's diff shows status: cancelled → published, as `items history` does.
            before = None if current is None else dict(current.data)
            outcome = write_item_over(
                session, batch.id, stored, current, source=self.label, now=self.now
            )
            self._in_library.add(impl)
            self.result.bump(outcome)
            if outcome != "unchanged":
                self._record(outcome, stored, before)
                self._rejudge_item(session, batch, stored, tombstone=False)
            self.findings.resolve_all(
                batch, self.now, impl, self.system, scopes=("implementation", "status")
            )
            return
        assert current is not None
        self.result.bump("judged")
        self._judge_copy(session, batch, item, authority, current)

    @staticmethod
    def _merged(item: Item, entry: BaseCatalogueEntry | None) -> Item:
        """The item as the library stores it: with the issuer's base elements, if the
        issuer supplied the code and they differ from the copy's own."""
        if entry is None or entry.owner_kind != "issuer" or base_elements(item) == entry.elements:
            return item
        return Item.model_validate({**item.model_dump(mode="json", exclude_none=True),
                                    **entry.elements})  # fmt: skip

    def _merged_errors(self, merged: Item, entry: BaseCatalogueEntry) -> list[Finding]:
        """Errors of the standard in a copy that carries the owner's base elements.

        A copy valid as its system sent it can break a rule once the base catalogue's
        values replace its own (a promised limit of 25 days under a statutory 20 that
        the province issued): such a version is never stored nor delivered.
        """
        context = (
            f" (with the base elements of {entry.owner_node}, 基本编码 {entry.basic_code}; "
            "the library keeps its last valid version)"
        )
        return [
            Finding(f.rule, f.message + context, f.field, f.severity)
            for f in check_record(merged, self.options)
            if f.severity is Severity.ERROR
        ]

    def _refuse_merged(
        self,
        session: Session,
        batch: Batch,
        merged: Item,
        where: SourceLocation,
        errors: list[Finding],
    ) -> None:
        """Quarantine a copy whose merged version breaks a rule, as a bad record is: the
        fix belongs to its system (its own limit must fit the owner's base elements).

        The payload is the merged version, the one that breaks the rule: a replay checks
        it again and fails the same way (the copy as sent would pass and go into the
        library with the wrong base elements), and once the system's corrected copy is
        stored a replay finds that later delivery and closes the entry.
        """
        add_quarantined(
            session, batch.id, kind="item", location=where,
            payload=merged.model_dump(mode="json", exclude_none=True), findings=errors,
            protector=self.protector,
        )  # fmt: skip
        self.counts.quarantined += 1
        self.counts.rules.update({f.rule for f in errors})
        self.result.bump("quarantined")

    def _judge_copy(
        self,
        session: Session,
        batch: Batch,
        copy: Item | Mapping[str, Any],
        authority: str,
        current: ItemVersion,
        *,
        other: str | None = None,
    ) -> None:
        data = copy.model_dump(mode="json", exclude_none=True) if isinstance(copy, Item) else copy
        other = other or self.system
        impl, basic = str(data["impl_code"]), str(data["basic_code"])
        self.findings.judge(
            session, batch, self.now, scope="implementation", impl_code=impl, basic_code=basic,
            owner_node=authority, other_node=other, owner=implementation_elements(current.data),
            other=implementation_elements(data),
        )  # fmt: skip
        owner_status = CANCELLED if current.is_tombstone else PUBLISHED
        self.findings.judge(
            session, batch, self.now, scope="status", impl_code=impl, basic_code=basic,
            owner_node=authority, other_node=other, owner={"status": owner_status},
            other={"status": data.get("status", PUBLISHED)},
        )  # fmt: skip

    def _rejudge_item(
        self, session: Session, batch: Batch, stored: Item, *, tombstone: bool
    ) -> None:
        """After this system changed the library's item, judge the other systems' copies."""
        if not self._held_elsewhere(session, stored.impl_code):
            return
        current = self._current(session, stored.impl_code)
        assert current is not None
        self.findings.load(session, "impl_code", stored.impl_code)
        copies = session.scalars(
            select(NodeItem).where(
                NodeItem.impl_code == stored.impl_code, NodeItem.node != self.system
            )
        )
        for copy in copies:
            if copy.status == PUBLISHED:
                self._judge_copy(session, batch, copy.data, self.system, current, other=copy.node)
            elif copy.status == CANCELLED:
                # A withdrawn copy agrees with a tombstone and with nothing else.
                data = {**copy.data, "status": CANCELLED}
                if tombstone:
                    self.findings.resolve_all(batch, self.now, stored.impl_code, copy.node,
                        scopes=("implementation", "status"),
                    )  # fmt: skip
                else:
                    self.findings.judge(
                        session, batch, self.now, scope="status", impl_code=stored.impl_code,
                        basic_code=stored.basic_code, owner_node=self.system,
                        other_node=copy.node, owner={"status": PUBLISHED},
                        other={"status": data["status"]},
                    )  # fmt: skip

    def _left_published(self, session: Session, batch: Batch, item: Item) -> None:
        """This system's copy is not published any more (cancelled, gone, or back in
        review): it is not judged on its base elements, and if it stood in for the
        issuer another published copy stands in now — whatever the status it moved to,
        or the stand-in would depend on which system synced first."""
        self.findings.resolve_all(batch, self.now, item.impl_code, self.system, scopes=("base",))
        entry = self.catalogue.get(item.basic_code)
        if entry is not None and entry.owner_kind != "issuer" and entry.owner_node == self.system:
            self._stand_in(session, batch, entry, judged=None)

    def _withdraw(self, session: Session, batch: Batch, item: Item) -> str:
        """The system no longer offers the item: a tombstone if it is the item's authority.

        Returns what it came to: ``cancelled`` (counted here, also for an item gone from
        a snapshot), ``unchanged`` (nothing in the library to cancel, or already
        cancelled) or ``judged`` (another system's item: a status finding).
        """
        impl = item.impl_code
        current = self._current(session, impl)
        authority = self._authority(session, item, current)
        self._left_published(session, batch, item)
        if current is None or authority is None:
            return "unchanged"
        if authority == self.system:
            before = dict(current.data)
            outcome = "unchanged"
            if cancel_item(session, batch.id, impl, source=self.label, now=self.now):
                outcome = "cancelled"
                self.result.bump("cancelled")
                self._record("cancelled", current.as_record(), before)
                self._rejudge_item(session, batch, item, tombstone=True)
            self.findings.resolve_all(
                batch, self.now, impl, self.system, scopes=("implementation", "status")
            )
            return outcome
        self.findings.resolve_all(batch, self.now, impl, self.system, scopes=("implementation",))
        owner_status = CANCELLED if current.is_tombstone else PUBLISHED
        self.findings.judge(
            session, batch, self.now, scope="status", impl_code=impl, basic_code=item.basic_code,
            owner_node=authority, other_node=self.system, owner={"status": owner_status},
            other={"status": CANCELLED},
        )  # fmt: skip
        return "judged"

    def _record(self, kind: str, item: Item, before: Mapping[str, Any] | None) -> None:
        if kind == "cancelled":
            self.diff.record(ItemChange(item.impl_code, item.name, "cancelled"))
            return
        after = item.model_dump(mode="json", exclude_none=True)
        elements = element_changes(before, after) if before is not None else ()
        self.diff.record(ItemChange(item.impl_code, item.name, kind, elements))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- entry point


@dataclass(frozen=True, slots=True)
class ItemSystem:
    """One item system of the topology: a node's or a department's."""

    code: str
    source: Any  # AdapterRef


def find_system(topology: Any, code: str) -> ItemSystem:
    """The node or department item system with this code; ValueError lists the known ones."""
    node = topology.nodes.get(code)
    if node is not None:
        return ItemSystem(code, node.source)
    for dept in getattr(topology, "departments", ()) or ():
        if dept.code == code:
            return ItemSystem(code, dept.source)
    known = sorted(topology.nodes) + [d.code for d in getattr(topology, "departments", ())]
    raise ValueError(f"no node or department {code!r} in the topology (known: {', '.join(known)})")


def open_source(settings: Settings, ref: Any) -> Source:
    """The configured source adapter of an item system's AdapterRef.

    A topology's AdapterRef opens itself (its secrets and base folder); a bare reference
    (adapter name + mapping or file) is opened here, relative paths taken from the hub home.
    """
    if hasattr(ref, "open"):
        adapter = ref.open()
    else:
        cls = load_adapter(ref.adapter)
        config = ref.config
        adapter = (
            cls.from_config(dict(config), base_dir=settings.home)
            if isinstance(config, Mapping)
            else cls.from_config(Path(config))
        )
    if not isinstance(adapter, Source):
        raise TypeError(f"adapter {ref.adapter!r} is a sink; an item system needs a source")
    return adapter


def _record_failure(settings: Settings, code: str, stream: str, error: str) -> str:
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            batch = record_failed_batch(
                session, f"{BATCH_KIND}.failed", f"{source_label(code)}/{stream}", error=error,
                meta={"node": code}, settings=settings,
            )  # fmt: skip
            return batch.id
    finally:
        engine.dispose()


def sync_node(
    settings: Settings,
    topology: Any,
    code: str,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> NodeSyncResult:
    """Pull one node's (or department's) items into the shared item library.

    Returns the batch id (``None`` for a dry run), the counts and the element-level diff.
    A failure of the source or the database ends the run as a failed batch (nothing of
    it stored, the source not acknowledged) and is returned with its reason.
    """
    system = find_system(topology, code)
    result = NodeSyncResult(node=code, status="committed", batch_id=None, diff=NodeDiff(code))
    ref = system.source
    stream = getattr(ref, "stream", "items") or "items"
    crash = CrashPoints(code, os.environ.get(ENV_CRASH))
    writer = ItemSyncWriter(
        code, Ownership.of(topology), snapshot=bool(getattr(ref, "snapshot", False)),
        protector=PiiProtector(settings.pii_key()), result=result, crash=crash, dry_run=dry_run,
    )  # fmt: skip
    try:
        source = open_source(settings, ref)
    except Exception as exc:
        result.status, result.error = "failed", describe_error(exc)
        log.error("sync of %s: cannot open its item system: %s", code, result.error)
        if not dry_run:
            result.batch_id = _record_failure(settings, code, stream, result.error)
        return result
    pulled = pull(
        settings, source, stream, source_name=source_label(code), writer=writer,
        batch_kind=BATCH_KIND, batch_meta={"node": code}, dry_run=dry_run, now=now,
        checkpoint=crash,
    )  # fmt: skip
    if pulled.status == "failed":
        failed = NodeSyncResult(node=code, status="failed", batch_id=pulled.batch_id,
                                diff=NodeDiff(code), error=pulled.error)  # fmt: skip
        return failed
    result.status = "dry-run" if dry_run else "committed"
    result.batch_id = None if dry_run else pulled.batch_id
    result.problems = list(pulled.problems)  # shown by `sync items`, as by `pull`/`ingest`
    return result
