"""Delivering items between levels: a node's aggregate up, base items and claims down.

**Up.** A node's aggregate is its own items and those of every node below it, as the
item library holds them (current versions). Only published items leave a node; a
cancelled one leaves as a record with status ``cancelled`` (the library's tombstone), so
the cancellation reaches every level above, and only when the receiver was once sent the
item. It is written through the parent node's sink (the ``files-sink`` into the parent's
``inbox`` in the embedded default).

**Down.** A node pushes to each child the base items the child's level is expected to
implement: for every 基本编码 held by the node or a level above it, the highest holder's
item, with the base elements from the base catalogue when their owner is the node or a
level above it. A base item is
expected at a level when some system of that level in the topology implements it — the
item model carries one 行使层级 per implementation, not the base item's set of levels,
so the levels are read from the implementations. Each pushed base item opens a claim
for the child (:mod:`tongyuan.sync.claims`); a cancelled one is pushed as cancelled and
cancels the claim, and every published item of that 基本编码 in the child's region gets
an open consistency finding (:func:`_judge_cancelled_bases`): the lower levels' own items
are theirs to cancel. After the push the child's claims are judged against its system.

**Idempotent and resumable.** Every edge keeps a ledger (``item_deliveries``) of the
content hash last delivered per item, and a delivery sends only items whose hash differs:
re-delivering the same state writes nothing and costs one indexed query. The sink names
a file by its content, and the ledger commits after the file is in place: a run killed
in between re-sends the same items, which the sink recognises as the same file.

**One bad item stops nothing else.** An item XML cannot carry (a control character in a
field, stored before the readers refused such text) is withheld from the edge: logged
and listed in the delivery (``withheld``, naming the item, the field and the rule), left
out of the ledger so that it goes once the system sends a corrected copy, while the
other items go. A sink that fails altogether fails its edge only (``error``), and the
run goes on with the other nodes and children.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from adapters.sdk import Sink
from standards.codes.enums import ReviewStatus
from standards.privacy import mask_text
from standards.records import Item
from standards.validation.xml_chars import check_xml_chars
from standards.workdays import WorkCalendar
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.db.errors import describe_error
from tongyuan.libraries.base import to_utc
from tongyuan.libraries.batches import close_batch, open_batch
from tongyuan.libraries.claims import ItemDelivery
from tongyuan.libraries.consistency import (
    GONE_HASH,
    BaseCatalogueEntry,
    ConsistencyFinding,
    NodeItem,
)
from tongyuan.libraries.items import ItemVersion
from tongyuan.sync.claims import DEFAULT_CLAIM_DAYS, record_push, update_claims
from tongyuan.sync.ownership import BASE_CANCELLED, region_within, system_of_label

log = logging.getLogger(__name__)

PUBLISHED = ReviewStatus.PUBLISHED.value
CANCELLED = ReviewStatus.CANCELLED.value
STREAM = "items"
_IN_CHUNK = 500


@dataclass(slots=True)
class Delivery:
    """What went (or, in a dry run, would go) along one edge."""

    to_node: str
    items: int = 0
    cancelled: int = 0
    unchanged: int = 0
    file: str = ""
    skipped: str | None = None  # why nothing was delivered (no sink)
    # Items left out because they cannot be written: "impl_code field: rule message".
    withheld: list[str] = field(default_factory=list)
    error: str | None = None  # the sink failed: nothing of this edge was delivered


@dataclass(slots=True)
class DeliveryResult:
    """The outcome of :func:`deliver_up` or :func:`push_down` for one node.

    ``batch_id`` is ``None`` for a dry run or when the node has nowhere to deliver.
    """

    node: str
    direction: str
    batch_id: str | None
    deliveries: list[Delivery] = field(default_factory=list)
    claims: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def error(self) -> str | None:
        """The failed edges, one line each; ``None`` when every edge delivered."""
        failed = [f"{d.to_node}: {d.error}" for d in self.deliveries if d.error]
        return "; ".join(failed) if failed else None

    @property
    def counts(self) -> dict[str, int]:
        """Plain counts (the only figures besides the batch id that cross XCom)."""
        out = {
            "delivered": sum(d.items for d in self.deliveries),
            "cancelled": sum(d.cancelled for d in self.deliveries),
            "unchanged": sum(d.unchanged for d in self.deliveries),
            "files": sum(1 for d in self.deliveries if d.file),
            "targets": len(self.deliveries),
            "withheld": sum(len(d.withheld) for d in self.deliveries),
            "failed": sum(1 for d in self.deliveries if d.error),
        }
        out.update(self.claims)
        return out


# --------------------------------------------------------------------------- shared


def _code(node: Any) -> str:
    return node if isinstance(node, str) else str(node.code)


def _region_codes(topology: Any, code: str) -> list[str]:
    """The node and every node below it."""
    return [code, *(_code(n) for n in topology.descendants(code))]


def _open_sink(node: Any) -> Sink:
    ref = getattr(node, "sink", None)
    if ref is None:
        raise LookupError(f"node {_code(node)} has no sink")
    adapter = ref.open()
    if not isinstance(adapter, Sink):
        raise TypeError(f"node {_code(node)}: adapter {ref.adapter!r} is not a sink")
    return adapter


def _writable(records: list[Item], delivery: Delivery, edge: str) -> list[Item]:
    """The records XML can carry; the others are listed in ``delivery.withheld``.

    Readers refuse such text now, but a row stored before they did (or by a path that
    missed it) must not stop the edge: without this the writer refused the whole file,
    every run, and nothing after it was delivered.
    """
    out: list[Item] = []
    for record in records:
        findings = check_xml_chars(record)
        if not findings:
            out.append(record)
            continue
        for finding in findings:
            delivery.withheld.append(f"{record.impl_code} {finding.field}: {finding.rule}")
        log.warning(
            "%s: item %s withheld, it cannot be written as XML: %s",
            edge, record.impl_code, mask_text("; ".join(f.message for f in findings)),
        )  # fmt: skip
    return out


def _write(
    sink: Sink, records: list[Item], delivery: Delivery, edge: str
) -> tuple[list[Item], str] | None:
    """Write through the sink; the records it took and where, or None when it failed.

    A failing sink (a folder gone, a refused connection, a defect) fails this edge, not
    the run: the ledger is not touched, so the same items are due next time.
    """
    try:
        written = sink.write(STREAM, records)
    except Exception as exc:
        delivery.error = describe_error(exc)
        log.error("%s: delivery failed: %s", edge, delivery.error)
        return None
    refused = set(written.refused)
    for message in written.errors:
        delivery.withheld.append(message)
        log.warning("%s: the sink left out a record: %s", edge, mask_text(message))
    taken = [r for r in records if r.key() not in refused] if refused else records
    return taken, written.location


def _ledger(
    session: Session, direction: str, from_node: str, to_node: str
) -> dict[str, tuple[str, str]]:
    rows = session.execute(
        select(ItemDelivery.impl_code, ItemDelivery.content_hash, ItemDelivery.status).where(
            ItemDelivery.direction == direction,
            ItemDelivery.from_node == from_node,
            ItemDelivery.to_node == to_node,
        )
    )
    return {impl: (digest, status) for impl, digest, status in rows}


def _due(
    candidates: Iterable[tuple[str, str, bool]], ledger: dict[str, tuple[str, str]]
) -> tuple[list[str], int]:
    """Items whose content the receiver does not hold yet, and how many it does.

    A cancellation goes only to a receiver that was sent the item and not its cancellation.
    """
    due, unchanged = [], 0
    for impl, digest, tombstone in candidates:
        sent = ledger.get(impl)
        if sent is not None and sent[0] == digest:
            unchanged += 1
        elif tombstone and (sent is None or sent[1] == CANCELLED):
            continue
        else:
            due.append(impl)
    return due, unchanged


def _versions(session: Session, impl_codes: Sequence[str]) -> dict[str, ItemVersion]:
    found: dict[str, ItemVersion] = {}
    for start in range(0, len(impl_codes), _IN_CHUNK):
        chunk = impl_codes[start : start + _IN_CHUNK]
        for version in session.scalars(
            select(ItemVersion).where(
                ItemVersion.impl_code.in_(chunk), ItemVersion.valid_to.is_(None)
            )
        ):
            found[version.impl_code] = version
    return found


def _record_ledger(
    session: Session,
    direction: str,
    from_node: str,
    to_node: str,
    records: Iterable[Item],
    *,
    file: str,
    batch_id: str,
    now: datetime,
) -> None:
    records = list(records)
    existing: dict[str, ItemDelivery] = {}
    codes = [item.impl_code for item in records]
    for start in range(0, len(codes), _IN_CHUNK):
        for row in session.scalars(
            select(ItemDelivery).where(
                ItemDelivery.direction == direction,
                ItemDelivery.from_node == from_node,
                ItemDelivery.to_node == to_node,
                ItemDelivery.impl_code.in_(codes[start : start + _IN_CHUNK]),
            )
        ):
            existing[row.impl_code] = row
    for item in records:
        row = existing.get(item.impl_code)
        if row is None:
            row = ItemDelivery(
                direction=direction, from_node=from_node, to_node=to_node,
                impl_code=item.impl_code,
            )  # fmt: skip
            session.add(row)
        row.content_hash = item.content_hash()
        row.status = item.status.value
        row.file = file
        row.batch_id = batch_id
        row.delivered_at = now


# --------------------------------------------------------------------------- up


def _aggregate_due(
    session: Session, regions: Sequence[str], from_node: str, to_node: str
) -> tuple[list[str], int]:
    """Items of the regions the parent was not sent in this form, and how many it was.

    The comparison with the ledger runs in the database (an outer join), so an unchanged
    aggregate of 100k items costs one scan and returns no rows. Township and village
    items (12-digit region codes) belong to their county's node.
    """
    sent = aliased(ItemDelivery)
    in_scope = (
        ItemVersion.valid_to.is_(None),
        _in_regions(regions),
        or_(ItemVersion.status == PUBLISHED, ItemVersion.is_tombstone.is_(True)),
    )
    joined = and_(
        sent.direction == "up",
        sent.from_node == from_node,
        sent.to_node == to_node,
        sent.impl_code == ItemVersion.impl_code,
    )
    differing = session.execute(
        select(ItemVersion.impl_code, ItemVersion.content_hash, ItemVersion.is_tombstone,
               sent.content_hash, sent.status)
        .outerjoin(sent, joined)
        .where(*in_scope, or_(sent.content_hash.is_(None),
                              sent.content_hash != ItemVersion.content_hash))
        .order_by(ItemVersion.impl_code)
    ).all()  # fmt: skip
    total = session.scalar(select(func.count()).select_from(ItemVersion).where(*in_scope)) or 0
    ledger = {impl: (digest, status) for impl, _, _, digest, status in differing if digest}
    due, _ = _due(((impl, digest, bool(tomb)) for impl, digest, tomb, _, _ in differing), ledger)
    return due, total - len(differing)


def _in_regions(regions: Sequence[str]) -> Any:
    """Region codes of the nodes, and longer (township, village) codes under them.

    A single node (a district) is written as index ranges (``r < code < r + "~"`` holds
    exactly the longer codes that start with ``r``), so the database reads its items
    through the region index. A subtree holds most items of the library: there one scan
    of the current items beats an index lookup per item, and a ``substr`` condition
    (which no index serves) keeps the planner on the scan.
    """
    if len(regions) == 1:
        (region,) = regions
        return or_(
            ItemVersion.region_code == region,
            and_(ItemVersion.region_code > region, ItemVersion.region_code < region + "~"),
        )
    return or_(
        ItemVersion.region_code.in_(regions),
        and_(
            func.length(ItemVersion.region_code) > 6,
            func.substr(ItemVersion.region_code, 1, 6).in_(regions),
        ),
    )


def deliver_up(
    settings: Settings,
    topology: Any,
    code: str,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> DeliveryResult:
    """Deliver the node's aggregate (own + descendants' published items) to its parent.

    The root has no parent and delivers nothing. Sends only what the parent has not been
    sent yet (see the module docstring); ``dry_run`` computes it and writes nothing.
    """
    parent = topology.parent(code)
    result = DeliveryResult(node=code, direction="up", batch_id=None, dry_run=dry_run)
    if parent is None:
        return result
    to_node = _code(parent)
    delivery = Delivery(to_node)
    result.deliveries.append(delivery)
    if getattr(parent, "sink", None) is None:
        delivery.skipped = f"node {to_node} has no sink"
        log.warning("deliver up %s -> %s: %s", code, to_node, delivery.skipped)
        return result
    now = to_utc(now or datetime.now(UTC))
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            regions = _region_codes(topology, code)
            due, delivery.unchanged = _aggregate_due(session, regions, code, to_node)
            versions = _versions(session, due)
            records = [versions[impl].as_record() for impl in due]
            delivery.items = len(records)
            delivery.cancelled = sum(1 for r in records if r.status is ReviewStatus.CANCELLED)
            if dry_run:
                return result
            batch = open_batch(
                session, "deliver.up", f"node:{code}->node:{to_node}",
                meta={"node": code, "to": to_node},
            )  # fmt: skip
            result.batch_id = batch.id
            edge = f"deliver up {code} -> {to_node}"
            sendable = _writable(records, delivery, edge)
            sent: list[Item] = []
            if sendable:
                outcome = _write(_open_sink(parent), sendable, delivery, edge)
                if outcome is not None:
                    sent, delivery.file = outcome
                    _record_ledger(
                        session, "up", code, to_node, sent, file=delivery.file,
                        batch_id=batch.id, now=now,
                    )  # fmt: skip
            delivery.items = len(sent)
            delivery.cancelled = sum(1 for r in sent if r.status is ReviewStatus.CANCELLED)
            close_batch(
                session, batch, read=len(records) + delivery.unchanged,
                accepted=len(sent), quarantined=len(records) - len(sent),
                unchanged=delivery.unchanged,
                status="failed" if delivery.error else "committed", settings=settings,
            )  # fmt: skip
            session.commit()
    finally:
        engine.dispose()
    log.info(
        "deliver up %s -> %s: %d items (%d cancelled), %d unchanged",
        code, to_node, delivery.items, delivery.cancelled, delivery.unchanged,
    )  # fmt: skip
    return result


# --------------------------------------------------------------------------- down


def _ancestors(topology: Any, code: str) -> list[str]:
    """The node and every node above it, the root first."""
    chain = [code]
    parent = topology.parent(code)
    while parent is not None:
        chain.append(_code(parent))
        parent = topology.parent(_code(parent))
    return chain[::-1]


def _base_items(
    session: Session, topology: Any, code: str, wanted: set[str]
) -> dict[str, ItemVersion]:
    """Per wanted 基本编码 held at ``code`` or above: the highest holder's current version.

    Holders are chosen on narrow rows; only the winners are loaded whole.
    """
    chain = _ancestors(topology, code)
    rank = {region: i for i, region in enumerate(chain)}
    rows = session.execute(
        select(ItemVersion.basic_code, ItemVersion.region_code, ItemVersion.impl_code).where(
            ItemVersion.valid_to.is_(None),
            ItemVersion.region_code.in_(chain),
            or_(ItemVersion.status == PUBLISHED, ItemVersion.is_tombstone.is_(True)),
        )
    )
    best: dict[str, tuple[int, str]] = {}
    for basic, region, impl in rows:
        if basic not in wanted:
            continue
        key = (rank[region], impl)
        if basic not in best or key < best[basic]:
            best[basic] = key
    versions = _versions(session, sorted(impl for _, impl in best.values()))
    return {basic: versions[impl] for basic, (_, impl) in best.items() if impl in versions}


def _implemented_at(session: Session, topology: Any, level: str) -> set[str]:
    """基本编码 that some system of this level implements (published or held in review).

    Read from the systems' copies (``node_items``), which every item in the library came
    through, by the primary key's leading column.
    """
    nodes = [c for c, n in topology.nodes.items() if getattr(n.level, "value", n.level) == level]
    systems = nodes + [d.code for c in nodes for d in topology.departments_of(c)]
    return set(
        session.scalars(
            select(NodeItem.basic_code)
            .where(NodeItem.node.in_(systems), NodeItem.content_hash != GONE_HASH)
            .distinct()
        )
    )


def _catalogue_above(
    session: Session, topology: Any, code: str, basic_codes: list[str]
) -> dict[str, BaseCatalogueEntry]:
    """Catalogue entries whose base elements this node or a level above it owns.

    An entry owned further down (a national code whose first source was a district)
    is not this node's to pass on: the holder's own values go down instead.
    """
    chain = _ancestors(topology, code)
    owners = set(chain) | {d.code for c in chain for d in topology.departments_of(c)}
    found: dict[str, BaseCatalogueEntry] = {}
    for start in range(0, len(basic_codes), _IN_CHUNK):
        chunk = basic_codes[start : start + _IN_CHUNK]
        for entry in session.scalars(
            select(BaseCatalogueEntry).where(BaseCatalogueEntry.basic_code.in_(chunk))
        ):
            if entry.owner_node in owners:
                found[entry.basic_code] = entry
    return found


@dataclass(frozen=True, slots=True)
class _Pushed:
    """A base item ready to push: computed once per push, shared by every child."""

    item: Item
    digest: str
    data: dict[str, Any]

    @classmethod
    def of(cls, item: Item) -> _Pushed:
        return cls(item, item.content_hash(), item.model_dump(mode="json", exclude_none=True))


def _with_catalogue(
    session: Session, version: ItemVersion, entry: BaseCatalogueEntry | None
) -> Item:
    """The holder's item with the base elements its level stands for.

    Those of the catalogue when the node or a level above owns them; otherwise the
    holder's own say, from its system's copy (the library's version carries the
    elements of an owner further down).
    """
    data = dict(version.data)
    if entry is not None:
        data.update({k: v for k, v in entry.elements.items() if v is not None})
    else:
        system = system_of_label(version.source) or version.region_code
        copy = session.get(NodeItem, (system, version.impl_code))
        if copy is not None and copy.content_hash != GONE_HASH:
            data.update({k: copy.data[k] for k in Item.BASE_ELEMENTS if k in copy.data})
    return Item.model_validate(data)


def push_down(
    settings: Settings,
    topology: Any,
    code: str,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    calendar: WorkCalendar | None = None,
    claim_days: int = DEFAULT_CLAIM_DAYS,
) -> DeliveryResult:
    """Push base items to each child of ``code`` and track the claims they make.

    See the module docstring for which base items go to which child. ``claim_days`` is
    the claim deadline in working days; ``dry_run`` writes nothing, not even claims.
    """
    children = list(topology.children(code))
    result = DeliveryResult(node=code, direction="down", batch_id=None, dry_run=dry_run)
    if not children:
        return result
    now = to_utc(now or datetime.now(UTC))
    calendar = calendar or WorkCalendar.default()
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            expected: dict[str, set[str]] = {}
            for child in children:
                level = getattr(child.level, "value", child.level)
                if level not in expected:
                    expected[level] = _implemented_at(session, topology, level)
            base = _base_items(session, topology, code, set().union(*expected.values()))
            catalogue = _catalogue_above(session, topology, code, list(base))
            records = {
                basic: _Pushed.of(_with_catalogue(session, version, catalogue.get(basic)))
                for basic, version in base.items()
            }
            batch = None
            if not dry_run:
                batch = open_batch(
                    session, "deliver.down", f"node:{code}", meta={"node": code},
                )  # fmt: skip
                result.batch_id = batch.id
            moved = 0
            for child in children:
                level = getattr(child.level, "value", child.level)
                moved += _push_child(
                    session, code, child, records, expected[level],
                    batch_id=None if batch is None else batch.id, now=now,
                    calendar=calendar, claim_days=claim_days, result=result, topology=topology,
                )  # fmt: skip
            if dry_run:
                return result
            assert batch is not None
            delivered = sum(d.items for d in result.deliveries)
            unchanged = sum(d.unchanged for d in result.deliveries)
            withheld = sum(len(d.withheld) for d in result.deliveries)
            close_batch(
                session, batch, read=delivered + withheld + unchanged, accepted=delivered,
                quarantined=withheld, unchanged=unchanged,
                status="failed" if result.error else "committed", settings=settings,
            )  # fmt: skip
            result.claims["claims_moved"] = moved
            session.commit()
    finally:
        engine.dispose()
    return result


def _push_child(
    session: Session,
    code: str,
    child: Any,
    base: dict[str, _Pushed],
    expected: set[str],
    *,
    topology: Any,
    batch_id: str | None,
    now: datetime,
    calendar: WorkCalendar,
    claim_days: int,
    result: DeliveryResult,
) -> int:
    child_code = _code(child)
    delivery = Delivery(child_code)
    result.deliveries.append(delivery)
    pushed = sorted((p for b, p in base.items() if b in expected), key=lambda p: p.item.impl_code)
    records = [p.item for p in pushed]
    ledger = _ledger(session, "down", code, child_code)
    due_codes, delivery.unchanged = _due(
        ((p.item.impl_code, p.digest, p.item.status is ReviewStatus.CANCELLED) for p in pushed),
        ledger,
    )
    due_set = set(due_codes)
    due = [r for r in records if r.impl_code in due_set]
    delivery.items = len(due)
    delivery.cancelled = sum(1 for r in due if r.status is ReviewStatus.CANCELLED)
    if batch_id is None:  # dry run
        return 0
    if child.sink is None:
        delivery.skipped = f"node {child_code} has no sink"
        log.warning("push down %s -> %s: %s", code, child_code, delivery.skipped)
    elif due:
        edge = f"push down {code} -> {child_code}"
        sendable = _writable(due, delivery, edge)
        outcome = _write(_open_sink(child), sendable, delivery, edge) if sendable else None
        due, delivery.file = outcome if outcome is not None else ([], "")
        delivery.items = len(due)
        delivery.cancelled = sum(1 for r in due if r.status is ReviewStatus.CANCELLED)
        _record_ledger(
            session, "down", code, child_code, due, file=delivery.file,
            batch_id=batch_id, now=now,
        )  # fmt: skip
    for record in due:
        record_push(
            session, child_code, code, record, now=now, batch_id=batch_id,
            calendar=calendar, claim_days=claim_days,
        )  # fmt: skip
    if batch_id is not None:
        regions = _region_codes(topology, child_code)
        _judge_cancelled_bases(session, regions, pushed, batch_id=batch_id, now=now)
    data = {p.item.basic_code: p.data for p in pushed}
    counts = update_claims(session, topology, child_code, now, batch_id=batch_id, pushed=data)
    for status, n in counts.by_status.items():
        key = f"claims_{status}"
        result.claims[key] = result.claims.get(key, 0) + n
    log.info(
        "push down %s -> %s: %d base items (%d cancelled), %d unchanged; claims %s",
        code, child_code, delivery.items, delivery.cancelled, delivery.unchanged,
        counts.by_status,
    )  # fmt: skip
    return counts.moved


def _judge_cancelled_bases(
    session: Session, regions: list[str], pushed: list[_Pushed], *, batch_id: str, now: datetime
) -> None:
    """A finding per published item in the child's region whose base item is cancelled.

    When a level above cancels (注销) a base item, the claims below are cancelled, but
    the lower levels' own implementations stay published: cancelling another level's
    data is not the hub's to do. Each such item gets an open ``status`` finding (element
    ``base_status``: owner the level that cancelled, other the system holding the item),
    resolved once the item is cancelled too or the base item is published again.
    """
    cancelled = {
        p.item.basic_code: p.item for p in pushed if p.item.status is ReviewStatus.CANCELLED
    }
    wanted: dict[tuple[str, str], tuple[ItemVersion, Item]] = {}
    codes = sorted(cancelled)
    for start in range(0, len(codes), _IN_CHUNK):
        for version in session.scalars(
            select(ItemVersion).where(
                ItemVersion.valid_to.is_(None),
                ItemVersion.is_tombstone.is_(False),
                ItemVersion.status == PUBLISHED,
                ItemVersion.basic_code.in_(codes[start : start + _IN_CHUNK]),
                _in_regions(regions),
            )
        ):
            holder = system_of_label(version.source) or version.region_code
            wanted[(version.impl_code, holder)] = (version, cancelled[version.basic_code])
    basics = sorted({p.item.basic_code for p in pushed})
    existing: dict[tuple[str, str], ConsistencyFinding] = {}
    for start in range(0, len(basics), _IN_CHUNK):
        for row in session.scalars(
            select(ConsistencyFinding).where(
                ConsistencyFinding.element == BASE_CANCELLED,
                ConsistencyFinding.basic_code.in_(basics[start : start + _IN_CHUNK]),
            )
        ):
            existing[(row.impl_code, row.other_node)] = row
    for key, (version, base) in wanted.items():
        row = existing.get(key)
        if row is None:
            session.add(
                ConsistencyFinding(
                    scope="status", basic_code=version.basic_code, impl_code=version.impl_code,
                    element=BASE_CANCELLED, owner_value=CANCELLED, other_value=PUBLISHED,
                    owner_node=base.region_code, other_node=key[1], status="open",
                    first_batch_id=batch_id, batch_id=batch_id, first_seen=now, last_seen=now,
                    resolved_at=None,
                )
            )  # fmt: skip
            continue
        if row.status != "open":
            row.status, row.resolved_at, row.first_seen = "open", None, now
        row.owner_node, row.batch_id, row.last_seen = base.region_code, batch_id, now
    # Resolve this child's findings that no longer hold (the item was cancelled too, or
    # its base item is published again). Only items of the child's region are judged here.
    for key, row in existing.items():
        if key in wanted or row.status != "open":
            continue
        version = session.scalars(
            select(ItemVersion).where(
                ItemVersion.impl_code == row.impl_code, ItemVersion.valid_to.is_(None)
            )
        ).one_or_none()
        region = None if version is None else version.region_code
        if region is not None and not region_within(region, regions[0]):
            continue
        row.status, row.resolved_at, row.batch_id, row.last_seen = "resolved", now, batch_id, now
