"""Claims (认领): base items pushed down to a node, tracked until the node fills them in.

A claim moves ``pushed`` → ``claimed`` (the node's system returns an item with that
基本编码) → ``completed`` (that item's local elements are filled in); a claim not
completed by its deadline — ``claim_days`` working days after the push, statutory
holidays and 调休 counted — becomes ``overdue`` (and still completes later, keeping
``overdue_since``). A base item cancelled above cancels its claims.

"Filled in" is judged on the elements a lower level must supply itself
(:data:`CLAIM_ELEMENTS`): each present and not a placeholder (待填写, 暂无, …), and the
promised time limit no longer than the statutory one of the *base* item (the pushed
one, never the copy's own: a copy saying 100 days statutory under a base of 30 is what
the sync quarantines once the issuer supplied the code, and stores with a finding while
only a stand-in holds it). An item whose values are the pushed ones unchanged has not been
filled in by anyone local either, so the location and the contact channels must also
differ from the pushed item's.

Only an implementation the item library holds completes a claim: it is judged on the
library's current version, and a copy the library does not hold (quarantined, held in
review, cancelled) leaves the claim ``claimed`` with :data:`NOT_IN_LIBRARY` among its
missing elements. Completed claims are judged again when what they were judged on
changed (the node's copies, the library's versions of them, the base item's elements
compared; see :func:`_judged_keys`): a claim whose item is cancelled, or whose item
stops fitting the base (the base's statutory limit lowered below the promised one),
re-opens. Open claims are judged at every update (their deadline moves them). Every status move is
recorded as a claim event (``item_claim_events``) with the item judged and the reason.

The sync engine calls :func:`update_claims` after each node's sync; :func:`record_push`
is called by :func:`tongyuan.sync.deliver.push_down`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from standards.codes.enums import ReviewStatus
from standards.records import Item
from standards.workdays import CalendarUnknown, WorkCalendar
from tongyuan.libraries.base import json_hash, local_date, to_utc
from tongyuan.libraries.claims import OPEN_CLAIM_STATUSES, Claim, ClaimEvent
from tongyuan.libraries.consistency import GONE_HASH, NodeItem
from tongyuan.libraries.items import ItemVersion

DEFAULT_CLAIM_DAYS = 5

CLAIM_ELEMENTS: tuple[str, ...] = (
    "location",
    "conditions",
    "process",
    "promised_limit_days",
    "query_channels",
    "consult_channels",
    "complaint_channels",
)
# Elements that are local by nature: a copy of the upper level's value is not filled in.
LOCAL_ELEMENTS: tuple[str, ...] = (
    "location",
    "query_channels",
    "consult_channels",
    "complaint_channels",
)
PLACEHOLDERS: frozenset[str] = frozenset(
    {"", "-", "--", "/", "无", "暂无", "待填写", "待补充", "待认领", "待完善", "tbd", "todo", "n/a"}
)
# In ``missing`` while the node's item has no published version in the item library.
NOT_IN_LIBRARY = "library_version"
# Claims judged again at an update: the open ones, and the completed ones (to re-open)
# whose inputs changed.
JUDGED_CLAIM_STATUSES: tuple[str, ...] = (*OPEN_CLAIM_STATUSES, "completed")
# The base item's elements a claim is judged against (see :func:`unfilled_elements`).
_BASE_ELEMENTS: tuple[str, ...] = ("statutory_limit_days", *LOCAL_ELEMENTS)
_PUBLISHED = ReviewStatus.PUBLISHED.value
_IN_CHUNK = 500


@dataclass(slots=True)
class ClaimCounts:
    """How many claims of a node each status holds after an update, and what moved."""

    node: str
    by_status: dict[str, int] = field(default_factory=dict)
    moved: int = 0

    def as_counts(self) -> dict[str, int]:
        return {**{f"claims_{k}": v for k, v in self.by_status.items()}, "claims_moved": self.moved}


def unfilled_elements(
    item: Mapping[str, Any], pushed: Mapping[str, Any] | None = None
) -> list[str]:
    """The claim elements of ``item`` (JSON form) a node has not filled in, in order.

    The promised limit must fit the statutory limit of ``pushed`` (the base item) and
    the item's own: a copy cannot fill in its promise by raising its statutory limit.
    """
    missing = []
    for name in CLAIM_ELEMENTS:
        value = item.get(name)
        placeholder = isinstance(value, str) and value.strip().lower() in PLACEHOLDERS
        copied = pushed is not None and name in LOCAL_ELEMENTS and value == pushed.get(name)
        if value is None or placeholder or copied:
            missing.append(name)
    promised = item.get("promised_limit_days")
    limits = [
        limit
        for limit in (
            item.get("statutory_limit_days"),
            None if pushed is None else pushed.get("statutory_limit_days"),
        )
        if isinstance(limit, int)
    ]
    if (
        "promised_limit_days" not in missing
        and isinstance(promised, int)
        and limits
        and promised > min(limits)
    ):
        missing.append("promised_limit_days")
    return missing


def claim_deadline(
    calendar: WorkCalendar, pushed_at: datetime, days: int
) -> tuple[date | None, str | None]:
    """The last working day to complete a claim pushed at ``pushed_at`` (or why unknown)."""
    try:
        return calendar.add_working_days(local_date(to_utc(pushed_at)), days), None
    except CalendarUnknown as exc:
        return None, str(exc)


def record_push(
    session: Session,
    node: str,
    from_node: str,
    base: Item,
    *,
    now: datetime,
    batch_id: str,
    calendar: WorkCalendar | None = None,
    claim_days: int = DEFAULT_CLAIM_DAYS,
) -> Claim:
    """Create or refresh the claim a pushed base item makes for ``node``; idempotent.

    A claim is made once per (node, 基本编码): pushing the same or a changed base item
    again refreshes what was pushed but keeps the claim's clock. A cancelled base item
    cancels the claim; a base item that comes back after a cancellation opens a new one.
    """
    now = to_utc(now)
    cancelled = base.status is ReviewStatus.CANCELLED
    claim = session.get(Claim, (node, base.basic_code))
    before = None if claim is None else claim.status
    if claim is None or (claim.status == "cancelled" and not cancelled):
        deadline, problem = claim_deadline(calendar or WorkCalendar.default(), now, claim_days)
        if claim is None:
            claim = Claim(node=node, basic_code=base.basic_code)
            session.add(claim)
        claim.status = "pushed"
        claim.impl_code = None
        claim.missing = list(CLAIM_ELEMENTS)
        claim.pushed_at = now
        claim.deadline, claim.deadline_problem = deadline, problem
        claim.claimed_at = claim.completed_at = claim.overdue_since = claim.cancelled_at = None
        _event(session, claim, before, f"base item pushed by {from_node}", now, batch_id)
    elif cancelled and claim.status != "cancelled":
        claim.status = "cancelled"
        claim.cancelled_at = now
        _event(session, claim, before, f"base item cancelled by {from_node}", now, batch_id)
    claim.from_node = from_node
    claim.base_impl_code = base.impl_code
    claim.base_hash = base.content_hash()
    claim.batch_id = batch_id
    claim.updated_at = now
    session.flush()
    return claim


def _event(
    session: Session,
    claim: Claim,
    before: str | None,
    reason: str,
    now: datetime,
    batch_id: str | None,
) -> None:
    """Record the claim's move from ``before`` to its status now (its history)."""
    session.add(
        ClaimEvent(
            node=claim.node, basic_code=claim.basic_code, from_status=before,
            to_status=claim.status, impl_code=claim.impl_code, reason=reason, at=now,
            batch_id=batch_id,
        )
    )  # fmt: skip


def _move_reason(claim: Claim) -> str:
    """Why a claim stands where it does now, for its event."""
    if claim.impl_code is None:
        return "no item of this 基本编码 in the node's system (none yet, or cancelled)"
    if not claim.missing:
        return f"completed by {claim.impl_code}"
    return f"{claim.impl_code} does not fill in: {', '.join(claim.missing)}"


def _systems_of(topology: Any, code: str) -> list[str]:
    """The systems whose items count as the node's: the node's own and its departments'."""
    departments = getattr(topology, "departments_of", None)
    extra = [d.code for d in departments(code)] if departments is not None else []
    return [code, *extra]


def _copies(
    session: Session, systems: Sequence[str], basic_codes: Sequence[str]
) -> dict[str, list[NodeItem]]:
    found: dict[str, list[NodeItem]] = {}
    for start in range(0, len(basic_codes), _IN_CHUNK):
        chunk = basic_codes[start : start + _IN_CHUNK]
        rows = session.scalars(
            select(NodeItem)
            .where(
                NodeItem.node.in_(systems),
                NodeItem.basic_code.in_(chunk),
                NodeItem.content_hash != GONE_HASH,
            )
            .order_by(NodeItem.impl_code)
        )
        for row in rows:
            found.setdefault(row.basic_code, []).append(row)
    return found


def _library(session: Session, impl_codes: Sequence[str]) -> dict[str, ItemVersion]:
    """The item library's current published versions of these 实施编码 (no tombstones)."""
    found: dict[str, ItemVersion] = {}
    for start in range(0, len(impl_codes), _IN_CHUNK):
        rows = session.scalars(
            select(ItemVersion).where(
                ItemVersion.impl_code.in_(impl_codes[start : start + _IN_CHUNK]),
                ItemVersion.valid_to.is_(None),
                ItemVersion.is_tombstone.is_(False),
                ItemVersion.status == _PUBLISHED,
            )
        )
        found.update((row.impl_code, row) for row in rows)
    return found


def update_claims(
    session: Session,
    topology: Any,
    code: str,
    now: datetime,
    *,
    batch_id: str | None = None,
    pushed: Mapping[str, Mapping[str, Any]] | None = None,
) -> ClaimCounts:
    """Re-judge the open claims of node ``code`` against what it holds now, and the
    completed ones whose inputs changed since they were judged.

    Reads the node's (and its departments') item copies as the last sync stored them
    (``node_items``) and the library's versions of them. A completed claim is judged
    again only when its :func:`_judged_key` differs from the one stored at its last
    judgement (a push with nothing changed judges none, at a cost of a few narrow
    queries per 500 claims); only the claims judged are loaded whole, with their
    copies' and base items' documents. Nothing is written for a claim that did not
    move, except its new key (a move also writes a claim event). ``pushed`` maps
    基本编码 to the pushed item's JSON form when the caller has it (push_down does);
    otherwise the pushed item's current version is looked up in the item library.
    """
    now = to_utc(now)
    today = local_date(now)
    rows = session.execute(
        select(Claim.basic_code, Claim.status, Claim.base_impl_code, Claim.judged_key).where(
            Claim.node == code, Claim.status.in_(JUDGED_CLAIM_STATUSES)
        )
    ).all()
    systems = _systems_of(topology, code)
    keys = _judged_keys(session, systems, rows, pushed)
    due = sorted(
        row.basic_code
        for row in rows
        if row.status != "completed" or row.judged_key != keys[row.basic_code]
    )
    result = ClaimCounts(code)
    claims = _claims(session, code, due)
    copies = _copies(session, systems, due)
    library = _library(session, sorted({c.impl_code for found in copies.values() for c in found}))
    bases = _bases(session, claims, pushed)
    for claim in claims:
        before = (claim.status, claim.impl_code, tuple(claim.missing or ()))
        found = copies.get(claim.basic_code, [])
        _judge(claim, found, library, now, today, bases.get(claim.basic_code))
        if claim.judged_key != keys[claim.basic_code]:
            claim.judged_key = keys[claim.basic_code]
        if (claim.status, claim.impl_code, tuple(claim.missing or ())) != before:
            claim.updated_at = now
            if batch_id is not None:
                claim.batch_id = batch_id
            result.moved += 1
            if claim.status != before[0]:
                _event(session, claim, before[0], _move_reason(claim), now, batch_id)
    session.flush()
    result.by_status = claim_counts(session, code)
    return result


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _claims(session: Session, node: str, basic_codes: Sequence[str]) -> list[Claim]:
    """The whole claim rows of ``node`` for these 基本编码 (only the ones judged)."""
    found: list[Claim] = []
    for chunk in _chunks(basic_codes):
        found.extend(
            session.scalars(select(Claim).where(Claim.node == node, Claim.basic_code.in_(chunk)))
        )
    return found


def _judged_keys(
    session: Session,
    systems: Sequence[str],
    claims: Sequence[Any],
    pushed: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, str]:
    """The key of every claim's inputs now, from narrow columns only (no documents).

    A claim's judgement reads: the node's copies of its 基本编码 (which exist, their
    content and status), the library's current published version of each, and the
    base item's elements :func:`unfilled_elements` compares with (the pushed form's
    values, or the library's current version of the base item when not pushed).
    """
    codes = [row.basic_code for row in claims]
    copies: dict[str, list[tuple[str, str, str, str]]] = {}
    for chunk in _chunks(codes):
        for node, impl_code, basic_code, digest, status in session.execute(
            select(
                NodeItem.node, NodeItem.impl_code, NodeItem.basic_code,
                NodeItem.content_hash, NodeItem.status,
            ).where(
                NodeItem.node.in_(systems), NodeItem.basic_code.in_(chunk),
                NodeItem.content_hash != GONE_HASH,
            )
        ):  # fmt: skip
            copies.setdefault(basic_code, []).append((node, impl_code, digest, status))
    impl_codes = sorted({c[1] for found in copies.values() for c in found})
    library = _current_ids(session, impl_codes, published=True)
    unpushed = sorted(
        {row.base_impl_code for row in claims if pushed is None or row.basic_code not in pushed}
    )
    base_versions = _current_ids(session, unpushed, published=False)
    keys: dict[str, str] = {}
    for row in claims:
        if pushed is not None and row.basic_code in pushed:
            data = pushed[row.basic_code]
            base: Any = ["pushed", *(data.get(name) for name in _BASE_ELEMENTS)]
        else:
            base = ["library", base_versions.get(row.base_impl_code)]
        found = sorted(copies.get(row.basic_code, []))
        held = [[*c, library.get(c[1])] for c in found]
        keys[row.basic_code] = json_hash([base, held])
    return keys


def _current_ids(session: Session, impl_codes: Sequence[str], *, published: bool) -> dict[str, str]:
    """The id of the current version of each 实施编码 (published, no tombstone, if asked)."""
    found: dict[str, str] = {}
    for chunk in _chunks(impl_codes):
        query = select(ItemVersion.impl_code, ItemVersion.id).where(
            ItemVersion.impl_code.in_(chunk), ItemVersion.valid_to.is_(None)
        )
        if published:
            query = query.where(
                ItemVersion.is_tombstone.is_(False), ItemVersion.status == _PUBLISHED
            )
        found.update((impl_code, id_) for impl_code, id_ in session.execute(query))
    return found


def _bases(
    session: Session, claims: Sequence[Claim], pushed: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, Mapping[str, Any]]:
    """The base item (JSON form) each claim is judged against, by 基本编码: the pushed
    form when the caller has it, else the library's current version of the pushed item
    (one query per 500 claims)."""
    found: dict[str, Mapping[str, Any]] = {}
    lookup: dict[str, list[str]] = {}
    for claim in claims:
        if pushed is not None and claim.basic_code in pushed:
            found[claim.basic_code] = pushed[claim.basic_code]
        else:
            lookup.setdefault(claim.base_impl_code, []).append(claim.basic_code)
    for chunk in _chunks(sorted(lookup)):
        for impl_code, data in session.execute(
            select(ItemVersion.impl_code, ItemVersion.data).where(
                ItemVersion.impl_code.in_(chunk), ItemVersion.valid_to.is_(None)
            )
        ):
            found.update((basic_code, data) for basic_code in lookup[impl_code])
    return found


def _judge(
    claim: Claim,
    copies: Iterable[NodeItem],
    library: Mapping[str, ItemVersion],
    now: datetime,
    today: date,
    base: Mapping[str, Any] | None,
) -> None:
    copies = [c for c in copies if c.status != ReviewStatus.CANCELLED.value]
    if copies:
        judged = [(_unfilled(c, library.get(c.impl_code), base), c.impl_code) for c in copies]
        missing, impl_code = min(judged, key=lambda m: (len(m[0]), m[1]))
        claim.impl_code, claim.missing = impl_code, missing
        if claim.claimed_at is None:
            claim.claimed_at = now
        if not missing:
            if claim.status != "completed":
                claim.status = "completed"
                claim.completed_at = now
            return
        claim.status = "claimed"
        claim.completed_at = None
    else:  # nothing (any more) in the node's system
        claim.status, claim.impl_code, claim.missing = "pushed", None, list(CLAIM_ELEMENTS)
        claim.completed_at = None
    if claim.deadline is not None and today > claim.deadline:
        claim.status = "overdue"
        if claim.overdue_since is None:
            claim.overdue_since = now


def _unfilled(
    copy: NodeItem, version: ItemVersion | None, base: Mapping[str, Any] | None
) -> list[str]:
    """What keeps a node's copy from completing a claim: judged on the library's version
    (what the hub delivers and reports), or on the copy with :data:`NOT_IN_LIBRARY`
    added when the library holds no published version of it."""
    if version is None:
        return [*unfilled_elements(copy.data, base), NOT_IN_LIBRARY]
    return unfilled_elements(version.data, base)


def claim_counts(session: Session, node: str | None = None) -> dict[str, int]:
    """Claims per status, of one node or of all."""
    query = select(Claim.status, func.count()).group_by(Claim.status)
    if node is not None:
        query = query.where(Claim.node == node)
    return {status: int(n) for status, n in session.execute(query)}


def claims_of(
    session: Session, node: str | None = None, *, status: str | None = None
) -> list[Claim]:
    """Claims, optionally of one node and one status, by node and 基本编码."""
    query = select(Claim)
    if node is not None:
        query = query.where(Claim.node == node)
    if status is not None:
        query = query.where(Claim.status == status)
    return list(session.scalars(query.order_by(Claim.node, Claim.basic_code)))
