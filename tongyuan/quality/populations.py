"""The populations the suites check: current items, cases, licenses, claims, reviews.

Each is a SELECT the database runs (a GX query asset): the four key columns first, then
what the rules look at, so that every rule is a predicate over one row. Facts that live
in other rows are columns too: the highest level's copy of an item's base elements (a
window over the items), whether a case's item is published or its serial repeats (joins
to small sets), whether an accepted or decided case lacks the time (a lookup of its
events, only where the time is missing), and the case's illegal or out-of-order event
steps (one pass over ``case_events``). These are joined only for queries that read
them. Nothing here is loaded into Python.
"""

from __future__ import annotations

from standards.validation.state_machine import INITIAL_STATES, TRANSITIONS
from tongyuan.quality.checks import Derived, Population, SuiteContext, region_level
from tongyuan.quality.finding_keys import finding_value
from tongyuan.quality.sql import in_list, quote

_CASE_KEYS = (
    "c.serial AS record_key, c.region_code AS region_code, "
    "substr(c.impl_code, 19, 1) AS level, substr(c.impl_code, 1, 18) AS department"
)
ITEM_TEXT_ELEMENTS: tuple[str, ...] = (
    "legal_basis",
    "conditions",
    "location",
    "process",
    "query_channels",
    "consult_channels",
    "complaint_channels",
    "authority_name",
)
ACCEPTED = "'3'"
DECIDED = "('11', '12', '13')"
# Ended without a decision: 撤件, 不受理, 不予受理, 撤回, 撤销.
ENDED = "('2', '4', '5', '14', '15')"


def items(ctx: SuiteContext) -> Population:
    """Items in force: the current, not cancelled version of every 实施编码.

    ``ref_*`` are the base elements of the reference copy of the item's 基本编码: the one
    at the highest level (smallest 行使层级, then smallest 实施编码) within the scope.
    """
    d = ctx.dialect
    name = d.blank_to_null("v.name")
    elements = {el: d.blank_to_null(d.json_text("v.data", el)) for el in ITEM_TEXT_ELEMENTS}
    reference = "OVER (PARTITION BY v.basic_code ORDER BY v.exercise_level, v.impl_code)"
    columns = (
        "v.impl_code AS record_key, v.region_code AS region_code, "
        "v.exercise_level AS level, v.authority_uscc AS department, "
        "v.impl_code AS impl_code, v.basic_code AS basic_code, "
        f"{name} AS name, v.item_type AS item_type, v.status AS status, "
        "v.exercise_level AS exercise_level, v.authority_uscc AS authority_uscc, "
        "v.statutory_limit_days AS statutory_limit_days, "
        "v.promised_limit_days AS promised_limit_days, "
        + ", ".join(f"{expr} AS {el}" for el, expr in elements.items())
    )
    ref = Derived(
        ("ref_name", "ref_item_type", "ref_legal_basis", "ref_statutory_limit_days"),
        f"FIRST_VALUE({name}) {reference} AS ref_name, "
        f"FIRST_VALUE(v.item_type) {reference} AS ref_item_type, "
        f"FIRST_VALUE({elements['legal_basis']}) {reference} AS ref_legal_basis, "
        f"FIRST_VALUE(v.statutory_limit_days) {reference} AS ref_statutory_limit_days",
    )
    return Population(
        "items",
        "item",
        columns,
        "item_versions v",
        f"v.valid_to IS NULL AND NOT v.is_tombstone AND {ctx.in_scope('v.region_code')}",
        (ref,),
    )


def _legal_step(prev_state: str, state: str) -> str:
    """True when ``prev_state`` → ``state`` is a transition of the state machine.

    A CASE on the previous state with each state's successors: cheaper per event than
    concatenating the pair and looking it up in the list of legal pairs.
    """
    branches = " ".join(
        f"WHEN {quote(a.value)} THEN {state} IN {in_list(sorted(b.value for b in targets))}"
        for a, targets in sorted(TRANSITIONS.items(), key=lambda kv: kv[0].value)
        if targets
    )
    return f"CASE {prev_state} {branches} ELSE FALSE END"


def event_steps(ctx: SuiteContext) -> str:
    """Cases with an illegal or out-of-order event step, and which (one pass over events).

    An event's previous one is the event of the same case with the next lower ``seq``.
    PostgreSQL finds it with LAG. SQLite's window functions cost three times index
    lookups, so SQLite looks it up: first at ``seq - 1`` (where the library's
    numbering puts it), and only where there is none (a case's first event, or a gap)
    as the greatest lower ``seq``.
    """
    initial = in_list(sorted(s.value for s in INITIAL_STATES))
    if ctx.dialect.name == "postgresql":
        source = (
            "(SELECT e.case_id AS case_id, e.state AS state, e.at AS at, "
            "LAG(e.state) OVER (PARTITION BY e.case_id ORDER BY e.seq) AS prev_state, "
            "LAG(e.at) OVER (PARTITION BY e.case_id ORDER BY e.seq) AS prev_at, "
            "ROW_NUMBER() OVER (PARTITION BY e.case_id ORDER BY e.seq) AS position "
            "FROM case_events e) s"
        )
        first = "s.position = 1"
        case_id, state, at, prev_state, prev_at = (
            "s.case_id",
            "s.state",
            "s.at",
            "s.prev_state",
            "s.prev_at",
        )
    else:
        source = (
            "case_events e LEFT JOIN case_events p1 ON p1.case_id = e.case_id "
            "AND p1.seq = e.seq - 1 LEFT JOIN case_events p2 ON p2.case_id = e.case_id "
            "AND p2.seq = CASE WHEN p1.id IS NULL THEN (SELECT MAX(x.seq) FROM case_events x "
            "WHERE x.case_id = e.case_id AND x.seq < e.seq) END"
        )
        first = "p1.id IS NULL AND p2.id IS NULL"
        case_id, state, at = "e.case_id", "e.state", "e.at"
        prev_state, prev_at = "COALESCE(p1.state, p2.state)", "COALESCE(p1.at, p2.at)"
    transition = (
        f"({first} AND {state} NOT IN {initial}) OR "
        f"(NOT ({first}) AND NOT ({_legal_step(prev_state, state)}))"
    )
    order = f"NOT ({first}) AND {at} < {prev_at}"
    return (
        f"SELECT {case_id} AS case_id, "
        f"MAX(CASE WHEN {transition} THEN 1 ELSE 0 END) AS bad_transition, "
        f"MAX(CASE WHEN {order} THEN 1 ELSE 0 END) AS bad_order "
        f"FROM {source} WHERE ({transition}) OR ({order}) GROUP BY {case_id}"
    )


def _case_columns(ctx: SuiteContext) -> str:
    d = ctx.dialect
    return (
        f"{_CASE_KEYS}, "
        "c.id AS case_id, c.serial AS serial, c.impl_code AS impl_code, "
        "c.current_state AS current_state, c.accepted_at AS accepted_at, "
        "c.decided_at AS decided_at, c.promised_deadline AS promised_deadline, "
        f"{d.blank_to_null('c.applicant_name')} AS applicant_name, "
        "c.applicant_id_type AS applicant_id_type, "
        "c.applicant_id_masked AS applicant_id_masked, "
        f"{d.blank_to_null('c.applicant_id_hash')} AS applicant_id_hash"
    )


def cases(ctx: SuiteContext) -> Population:
    """Every case, keyed by its unified serial; the authority and level come from 实施编码.

    With a ``case_timeliness`` table (ingestion computes working-day deadlines there)
    each case carries its timeliness status and deadline.
    """
    columns = _case_columns(ctx)
    events = Derived(
        ("accepted_unrecorded", "decided_unrecorded"),
        "CASE WHEN c.accepted_at IS NULL AND EXISTS (SELECT 1 FROM case_events a "
        f"WHERE a.case_id = c.id AND a.state = {ACCEPTED}) THEN 1 ELSE 0 END "
        "AS accepted_unrecorded, "
        "CASE WHEN c.decided_at IS NULL AND EXISTS (SELECT 1 FROM case_events a "
        f"WHERE a.case_id = c.id AND a.state IN {DECIDED}) THEN 1 ELSE 0 END "
        "AS decided_unrecorded",
    )
    # Lookups against small sets, not per-row probes of big B-trees: interleaved random
    # reads of the case table and another large index cost SQLite several times their
    # sum. The 实施编码 that cases name but no published item has are found walking the
    # cases' impl_code index in order (few, usually none); each case is then looked up
    # in that set.
    published = Derived(
        ("item_published",),
        "CASE WHEN up.impl_code IS NULL THEN 1 ELSE 0 END AS item_published",
        "LEFT JOIN (SELECT DISTINCT u.impl_code AS impl_code FROM cases u LEFT JOIN "
        "(SELECT DISTINCT v.impl_code AS impl_code FROM item_versions v "
        "WHERE v.valid_to IS NULL AND NOT v.is_tombstone AND v.status = 'published') pv "
        f"ON pv.impl_code = u.impl_code WHERE pv.impl_code IS NULL "
        f"AND {ctx.in_scope('u.region_code')}) up ON up.impl_code = c.impl_code",
    )
    repeated = Derived(
        ("serial_repeated",),
        "CASE WHEN dup.serial IS NULL THEN 0 ELSE 1 END AS serial_repeated",
        f"LEFT JOIN (SELECT r.serial AS serial FROM cases r WHERE {ctx.in_scope('r.region_code')} "
        "GROUP BY r.serial HAVING COUNT(*) > 1) dup ON dup.serial = c.serial",
    )
    derived = [
        events,
        published,
        repeated,
    ]
    if "case_timeliness" in ctx.tables:
        derived.append(
            Derived(
                (
                    "timeliness_status",
                    "deadline",
                    "timeliness_as_of",
                    "received_at",
                    "prereview_deadline",
                    "prereview_at",
                ),
                "t.status AS timeliness_status, t.deadline AS deadline, "
                "t.as_of AS timeliness_as_of, t.received_at AS received_at, "
                "t.prereview_deadline AS prereview_deadline, t.prereview_at AS prereview_at",
                "LEFT JOIN case_timeliness t ON t.case_id = c.id",
            )
        )
    return Population(
        "cases", "case", columns, "cases c", ctx.in_scope("c.region_code"), tuple(derived)
    )


def case_times(ctx: SuiteContext) -> Population:
    """The cases that existed on the run's day (an event on or before it), for the
    timeliness rules, with the day each case ended without a decision (``ended_at``) and
    its 受理 and 办结 times as its history has them (``accepted_event_at``,
    ``decided_event_at``).

    A quality run ``--as-of`` a past day counted cases that did not exist yet that day;
    the rules judge each case by its events up to that day (:mod:`..suites.timeliness`).
    """
    whole = cases(ctx)
    # The records per group are the cases' less those without an event by the day: the
    # NOT EXISTS probe is as dear as this EXISTS, but only the few it finds are grouped.
    events_by_day = (
        "(SELECT 1 FROM case_events x WHERE x.case_id = c.id "
        f"AND {ctx.dialect.happened_by('x.at', ctx.as_of)})"
    )
    ended = Derived(
        ("ended_at",),
        f"CASE WHEN c.current_state IN {ENDED} THEN (SELECT MAX(z.at) FROM case_events z "
        f"WHERE z.case_id = c.id AND z.state IN {ENDED}) END AS ended_at",
    )
    # 受理 and 办结 as the history says (its first such event, as the deadline was
    # computed): ingestion keeps the columns equal to it, but a column emptied behind the
    # hub's back (completeness: accepted_unrecorded) must not make a case never late, or
    # one decided on time late for ever. The history is read only where the column is empty.
    first = (
        "(SELECT e.at FROM case_events e WHERE e.case_id = c.id AND e.state {} "
        "ORDER BY e.seq LIMIT 1)"
    )
    times = Derived(
        ("accepted_event_at", "decided_event_at"),
        f"COALESCE(c.accepted_at, {first.format('= ' + ACCEPTED)}) AS accepted_event_at, "
        f"COALESCE(c.decided_at, {first.format('IN ' + DECIDED)}) AS decided_event_at",
    )
    return Population(
        "case_times",
        "case",
        whole.columns,
        whole.source,
        f"{whole.where} AND EXISTS {events_by_day}",
        (*whole.derived, ended, times),
        narrows=whole,
        left_out=f"NOT EXISTS {events_by_day}",
    )


def case_steps(ctx: SuiteContext) -> Population:
    """Every case with its illegal or out-of-order event steps.

    The same records as :func:`cases`, validated apart: the pass over the events is as
    long as the rest of the case rules together, and as a population of its own GX runs
    it in a checkpoint beside theirs (the records per group are counted once for both).
    """
    steps = Derived(
        ("bad_transition", "bad_order"),
        "COALESCE(s.bad_transition, 0) AS bad_transition, COALESCE(s.bad_order, 0) AS bad_order",
        f"LEFT JOIN ({event_steps(ctx)}) s ON s.case_id = c.id",
    )
    return Population(
        "case_steps", "case", _case_columns(ctx), "cases c", ctx.in_scope("c.region_code"), (steps,)
    )


def licenses(ctx: SuiteContext) -> Population:
    """E-license catalogue entries; the level is the related item's, the issuer the department."""
    columns = (
        "l.identifier AS record_key, l.region_code AS region_code, "
        "substr(l.item_code, 19, 1) AS level, l.issuer_code AS department, "
        "l.issuer_code AS issuer_code, l.status AS status, l.valid_to AS valid_to, "
        "l.indication AS indication, l.subindication AS subindication, "
        "l.holder_id_type AS holder_id_type, l.holder_id_masked AS holder_id_masked"
    )
    return Population("licenses", "license", columns, "licenses l", ctx.in_scope("l.region_code"))


def claims(ctx: SuiteContext) -> Population:
    """Base items pushed down to a node to be claimed (认领), one row per node and 基本编码."""
    columns = (
        "k.node || '/' || k.basic_code AS record_key, k.node AS region_code, "
        f"{region_level('k.node')} AS level, NULL AS department, "
        "k.status AS status, k.deadline AS deadline, k.deadline_problem AS deadline_problem, "
        "k.completed_at AS completed_at, k.cancelled_at AS cancelled_at"
    )
    pushed = ctx.dialect.happened_by("k.pushed_at", ctx.as_of)
    # Only claims pushed by the run's day existed then (a past --as-of day).
    return Population(
        "claims", "claim", columns, "item_claims k", f"{ctx.in_scope('k.node')} AND {pushed}"
    )


def system_region(ctx: SuiteContext, system: str, impl_code: str) -> str:
    """The region an item system's copy of an item is filed under, as a SQL expression.

    A node's system is named by its region code (6 digits, GB/T 2260) and is its own
    region. A department's item system is named by the department's USCC, which is no
    region: its copy is filed under the region of the copy itself (the item's
    ``region_code`` as the department sent it, cut to the county), which is the node the
    department belongs to; the topology is not in the database, and the copy is what
    the department's items are filed under everywhere else (the item population). A
    copy the hub no longer holds falls back to the USCC's registration region (GB 32100
    characters 3–8).
    """
    copy_region = ctx.dialect.json_text("sys_copy.data", "region_code")
    return (
        f"(CASE WHEN length({system}) = 6 THEN {system} ELSE COALESCE("
        f"(SELECT substr({copy_region}, 1, 6) FROM node_items sys_copy "
        f"WHERE sys_copy.node = {system} AND sys_copy.impl_code = {impl_code}), "
        f"substr({system}, 3, 6)) END)"
    )


def reviews(ctx: SuiteContext) -> Population:
    """Item copies in the review workflow, one row per node and 实施编码.

    The node is an item system: a region's, or a department's (a USCC), whose rows are
    filed under the region its copy belongs to (:func:`system_region`).
    """
    region = system_region(ctx, "r.node", "r.impl_code")
    columns = (
        f"r.node || '/' || r.impl_code AS record_key, {region} AS region_code, "
        "substr(r.impl_code, 19, 1) AS level, substr(r.impl_code, 1, 18) AS department, "
        "r.status AS status, r.review_due AS review_due, r.correction_due AS correction_due, "
        "r.deadline_problem AS deadline_problem"
    )
    return Population("reviews", "review", columns, "item_reviews r", ctx.in_scope(region))


def findings(ctx: SuiteContext, scopes: tuple[str, ...], name: str) -> Population:
    """Open cross-level disagreements the item sync recorded, one row per open finding.

    The library's copy of an item carries its owners' values (the sync never lets a
    disagreeing copy overwrite them), so a rule over the items can never see what a
    lower level's system really holds; the sync's open ``consistency_findings`` are the
    disagreements. Every row is a failure: the key names the item, the element, both
    systems and both values; the region is that of the system whose copy disagrees,
    the level and department those of the item's 实施编码.
    """
    region = system_region(ctx, "f.other_node", "f.impl_code")
    key = (
        "f.impl_code || ' ' || f.element || '：' || f.owner_node || '=' || "
        f"{finding_value(ctx.dialect, 'f.owner_value')} || ' ≠ ' || f.other_node || '=' || "
        f"{finding_value(ctx.dialect, 'f.other_value')}"
    )
    columns = (
        f"{key} AS record_key, {region} AS region_code, "
        "substr(f.impl_code, 19, 1) AS level, substr(f.impl_code, 1, 18) AS department, "
        "f.scope AS scope, f.element AS element, f.status AS status"
    )
    where = f"f.status = 'open' AND f.scope IN {in_list(scopes)} AND {ctx.in_scope(region)}"
    return Population(name, "finding", columns, "consistency_findings f", where)
