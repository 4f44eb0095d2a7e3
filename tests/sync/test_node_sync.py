"""sync_node on SQLite and PostgreSQL: change detection, ownership, findings, tombstones,
held items, dry run."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select
from test_node_sync_world import (
    BAOAN,
    CITY,
    NANSHAN,
    PROVINCE,
    changed,
    drop,
    dump,
    generated_items,
    make_topology,
)

from standards.codes.enums import ExerciseLevel, ReviewStatus
from standards.records import Item
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.consistency import BaseCatalogueEntry, ConsistencyFinding, NodeItem
from tongyuan.libraries.items import current_item, item_history
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.sync import (
    CopyEvent,
    format_diffs,
    register_copy_observer,
    sync_node,
    unregister_copy_observer,
)

ITEMS = generated_items()


@pytest.fixture(autouse=True)
def _no_review_tracking() -> Iterator[None]:
    """These tests look at sync_node alone: no review observer left by an earlier test.

    (``sync_all`` installs the review tracker for the whole process; with it, an item that
    left a snapshot and comes back published would be refused as cancelled → published.)
    """
    from tongyuan.sync.review import observe_copy

    unregister_copy_observer(observe_copy)
    yield
    unregister_copy_observer(observe_copy)


@pytest.fixture(params=["one_by_one", "switching", "all_at_once"])
def lookups(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How a re-sync looks up the library: item by item (the default for a few changed
    copies), switching to fetching everything after the first, or everything at once."""
    import tongyuan.sync.node_sync as node_sync

    limit = {"one_by_one": node_sync.POINT_LOOKUPS, "switching": 1, "all_at_once": 0}
    monkeypatch.setattr(node_sync, "POINT_LOOKUPS", limit[request.param])
    return str(request.param)


@pytest.fixture
def hub(settings: Settings, db_url: str) -> Settings:
    return dataclasses.replace(settings, database_url=db_url)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "world"


def _session(hub: Settings) -> Iterator[object]:
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


@pytest.fixture
def read(hub: Settings) -> Iterator[object]:
    yield from _session(hub)


def _local(node: str) -> Item:
    """A published item of ``node`` whose 基本编码 the province issued (44…)."""
    return next(i for i in ITEMS[node] if i.basic_code.startswith("44"))


def _national(node: str) -> Item:
    return next(i for i in ITEMS[node] if i.basic_code.startswith("00"))


def _province_twin(district_item: Item) -> Item:
    """The province's own implementation of the district item's base item."""
    authority = ITEMS[PROVINCE][0]
    impl = authority.authority_uscc + ExerciseLevel.PROVINCE.value + district_item.basic_code
    return changed(
        district_item,
        impl_code=impl,
        handling_code=impl + "01",
        authority_uscc=authority.authority_uscc,
        authority_name=authority.authority_name,
        region_code=PROVINCE,
        exercise_level=ExerciseLevel.PROVINCE,
    )


class _Statements:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: object) -> None:
        self.count += 1


def test_first_sync_adds_items_and_fills_the_catalogue(hub: Settings, root: Path) -> None:
    topo = make_topology(root)
    drop(root, NANSHAN, ITEMS[NANSHAN])
    result = sync_node(hub, topo, NANSHAN)
    assert result.status == "committed" and result.batch_id
    assert result.counts["added"] == len(ITEMS[NANSHAN]) == result.counts["read"]
    assert len(result.diff.added) == len(ITEMS[NANSHAN])
    for session in _session(hub):
        for item in ITEMS[NANSHAN]:
            stored = current_item(session, item.impl_code)
            assert stored is not None and stored.source == f"node:{NANSHAN}"
            assert stored.content_hash == item.content_hash()
        entries = {e.basic_code: e for e in session.scalars(select(BaseCatalogueEntry))}
        assert {i.basic_code for i in ITEMS[NANSHAN]} == set(entries)
        # A national code: the top node supplies it, the district stands in until it does.
        national = entries[_national(NANSHAN).basic_code]
        assert (national.owner_kind, national.owner_node, national.issuer) == (
            "provisional",
            NANSHAN,
            "national",
        )
        # A Guangdong code: the province issues it, the district stands in until it supplies.
        local = entries[_local(NANSHAN).basic_code]
        assert (local.owner_kind, local.owner_node, local.issuer) == (
            "provisional",
            NANSHAN,
            PROVINCE,
        )
        batch = session.get(Batch, result.batch_id)
        assert batch is not None and batch.kind == "sync.items" and batch.status == "committed"
        assert batch.read_count == len(ITEMS[NANSHAN])


def test_unchanged_resync_writes_no_version_and_costs_few_queries(
    hub: Settings, root: Path
) -> None:
    topo = make_topology(root)
    drop(root, CITY, ITEMS[CITY])
    sync_node(hub, topo, CITY)
    before = dump(hub.database_url)
    drop(root, CITY, ITEMS[CITY])  # the same full export, delivered again
    statements = _Statements()
    event.listen(Engine, "before_cursor_execute", statements)
    try:
        again = sync_node(hub, topo, CITY)
    finally:
        event.remove(Engine, "before_cursor_execute", statements)
    assert again.counts["unchanged"] == len(ITEMS[CITY]) == again.counts["read"]
    assert again.counts["added"] == again.counts["changed"] == 0
    assert again.diff.empty
    after = dump(hub.database_url)
    assert after["versions"] == before["versions"]
    assert after["catalogue"] == before["catalogue"]
    # Independent of the number of items: state, node hashes, catalogue, batch, state save.
    assert statements.count < 20 < len(ITEMS[CITY])


@pytest.mark.usefixtures("lookups")
def test_a_real_change_writes_exactly_one_version_with_its_element_diff(
    hub: Settings, root: Path
) -> None:
    topo = make_topology(root)
    drop(root, BAOAN, ITEMS[BAOAN])
    sync_node(hub, topo, BAOAN)
    target = ITEMS[BAOAN][3]
    edited = changed(target, promised_limit_days=target.promised_limit_days + 1)
    drop(root, BAOAN, [edited if i is target else i for i in ITEMS[BAOAN]])
    result = sync_node(hub, topo, BAOAN)
    assert result.counts["changed"] == 1
    assert result.counts["unchanged"] == len(ITEMS[BAOAN]) - 1
    [change] = result.diff.changed
    assert change.impl_code == target.impl_code
    assert [(e.element, e.before, e.after) for e in change.elements] == [
        ("promised_limit_days", target.promised_limit_days, target.promised_limit_days + 1)
    ]
    for session in _session(hub):
        history = item_history(session, target.impl_code)
        assert [v.version_no for v in history] == [1, 2]
        assert history[-1].promised_limit_days == target.promised_limit_days + 1
        others = [item_history(session, i.impl_code) for i in ITEMS[BAOAN] if i is not target]
        assert all(len(h) == 1 for h in others)


def _findings(hub: Settings) -> list[ConsistencyFinding]:
    for session in _session(hub):
        rows = list(session.scalars(select(ConsistencyFinding)))
        session.expunge_all()
        return rows
    raise AssertionError("unreachable")


@pytest.mark.parametrize("order", ["province_first", "district_first"])
@pytest.mark.usefixtures("lookups")
def test_a_district_cannot_overwrite_a_base_element(hub: Settings, root: Path, order: str) -> None:
    topo = make_topology(root)
    theirs = _local(NANSHAN)
    ours = _province_twin(theirs)
    wrong = changed(theirs, statutory_limit_days=theirs.statutory_limit_days + 10)
    drop(root, PROVINCE, [*ITEMS[PROVINCE], ours])
    drop(root, NANSHAN, [wrong if i is theirs else i for i in ITEMS[NANSHAN]])
    sequence = [PROVINCE, NANSHAN] if order == "province_first" else [NANSHAN, PROVINCE]
    batches = {code: sync_node(hub, topo, code) for code in sequence}
    for session in _session(hub):
        entry = session.get(BaseCatalogueEntry, theirs.basic_code)
        assert entry is not None
        assert (entry.owner_node, entry.owner_kind) == (PROVINCE, "issuer")
        assert entry.elements["statutory_limit_days"] == ours.statutory_limit_days
        stored = current_item(session, theirs.impl_code)
        assert stored is not None
        # The district's item is in the library with the province's base elements…
        assert stored.statutory_limit_days == ours.statutory_limit_days
        assert stored.source == f"node:{NANSHAN}"  # …and its own implementation elements.
        assert stored.data["location"] == theirs.location
        # Change detection still follows what the district sent.
        copy = session.get(NodeItem, (NANSHAN, theirs.impl_code))
        assert copy is not None and copy.content_hash == wrong.content_hash()
    [finding] = [f for f in _findings(hub) if f.status == "open"]
    assert (finding.scope, finding.element, finding.impl_code, finding.basic_code) == (
        "base",
        "statutory_limit_days",
        theirs.impl_code,
        theirs.basic_code,
    )
    assert (finding.owner_node, finding.owner_value) == (PROVINCE, ours.statutory_limit_days)
    assert (finding.other_node, finding.other_value) == (NANSHAN, wrong.statutory_limit_days)
    assert finding.batch_id == batches[sequence[-1]].batch_id
    if order == "district_first":
        # The province's catalogue arrives last: the district's item is re-versioned to it.
        [reversioned] = [
            c for c in batches[PROVINCE].diff.changed if c.impl_code == theirs.impl_code
        ]
        assert [(e.element, e.before, e.after) for e in reversioned.elements] == [
            ("statutory_limit_days", wrong.statutory_limit_days, ours.statutory_limit_days)
        ]
        assert batches[PROVINCE].counts["changed"] == 1
    # The district corrects its value: the finding is resolved, not deleted.
    drop(root, NANSHAN, ITEMS[NANSHAN])
    fixed = sync_node(hub, topo, NANSHAN)
    assert fixed.counts["findings_resolved"] == 1
    [after] = _findings(hub)
    assert after.status == "resolved" and after.resolved_at is not None


@pytest.mark.parametrize("order", ["province_first", "district_first"])
def test_a_copy_that_breaks_a_rule_with_the_owners_base_elements_is_not_stored(
    hub: Settings, root: Path, order: str
) -> None:
    """Valid as sent (promised ≤ its own statutory limit), invalid once the province's
    statutory limit replaces its own: neither written nor re-versioned, but quarantined."""
    topo = make_topology(root)
    theirs = _local(NANSHAN)
    ours = _province_twin(theirs)
    limit = ours.statutory_limit_days
    wrong = changed(theirs, statutory_limit_days=limit + 10, promised_limit_days=limit + 5)
    drop(root, PROVINCE, [ours])
    drop(root, NANSHAN, [wrong])
    sequence = [PROVINCE, NANSHAN] if order == "province_first" else [NANSHAN, PROVINCE]
    results = {code: sync_node(hub, topo, code) for code in sequence}
    reporter = results[sequence[-1]]
    assert reporter.counts["quarantined"] == 1
    assert not [c for c in reporter.diff.changed if c.impl_code == theirs.impl_code]
    for session in _session(hub):
        stored = current_item(session, theirs.impl_code)
        if order == "province_first":
            assert stored is None  # never in the library
        else:  # the district's own version stays; the invalid re-version is not written
            assert stored is not None and len(item_history(session, theirs.impl_code)) == 1
            assert stored.statutory_limit_days == limit + 10
        [entry] = session.scalars(select(QuarantineEntry)).all()
        assert entry.rule == "item.time_limit" and entry.batch_id == reporter.batch_id
        assert entry.kind == "item"
        # Where it came from: the district's file, or its library copy being re-versioned.
        place = ".xml" if order == "province_first" else f"node:{NANSHAN} {theirs.impl_code}"
        assert place in entry.source_file
        assert f"statutory limit {limit}" in entry.message
        # The payload is the merged version (what breaks the rule), so a replay fails the
        # same way instead of storing the copy with its own base elements.
        shown = entry.payload_masked
        assert (shown["statutory_limit_days"], shown["promised_limit_days"]) == (limit, limit + 5)
    # The disagreement itself stays an open base finding.
    [finding] = [f for f in _findings(hub) if f.status == "open"]
    assert (finding.element, finding.other_node) == ("statutory_limit_days", NANSHAN)
    assert reporter.status == "committed" and results[sequence[0]].status == "committed"


def test_national_code_belongs_to_the_top_node_whatever_order_the_nodes_sync(
    hub: Settings, root: Path
) -> None:
    """A 00 code enters through the province: a district's variant, first or not, is a finding."""
    topo = make_topology(root)
    first = _national(NANSHAN)
    other = next(i for i in ITEMS[BAOAN] if i.basic_code == first.basic_code)
    renamed = changed(other, name=other.name + "（旧称）")
    ours = _province_twin(first)
    drop(root, BAOAN, [renamed])
    drop(root, NANSHAN, [first])
    drop(root, PROVINCE, [*ITEMS[PROVINCE], ours])
    # The district with the wrong name syncs first and stands in for the province…
    sync_node(hub, topo, BAOAN)
    sync_node(hub, topo, NANSHAN)
    # …until the province supplies the code and takes it over.
    sync_node(hub, topo, PROVINCE)
    open_findings = [f for f in _findings(hub) if f.status == "open"]
    assert [(f.element, f.owner_node, f.other_node) for f in open_findings] == [
        ("name", PROVINCE, BAOAN)
    ]
    assert (open_findings[0].owner_value, open_findings[0].other_value) == (
        ours.name,
        renamed.name,
    )
    for session in _session(hub):
        entry = session.get(BaseCatalogueEntry, first.basic_code)
        assert entry is not None
        assert (entry.owner_node, entry.owner_kind) == (PROVINCE, "issuer")
        stored = current_item(session, other.impl_code)
        assert stored is not None and stored.name == ours.name


def test_a_non_owner_copy_of_an_implementation_is_a_finding_not_a_write(
    hub: Settings, root: Path
) -> None:
    topo = make_topology(root)
    theirs = ITEMS[NANSHAN][0]
    aggregated = changed(theirs, location="深圳市政务服务中心一楼")  # the city's stale copy
    drop(root, NANSHAN, [theirs])
    drop(root, CITY, [aggregated])
    sync_node(hub, topo, NANSHAN)
    city = sync_node(hub, topo, CITY)
    assert city.counts["judged"] == 1 and city.counts["added"] == city.counts["changed"] == 0
    for session in _session(hub):
        assert len(item_history(session, theirs.impl_code)) == 1
    [finding] = _findings(hub)
    assert (finding.scope, finding.element, finding.owner_node, finding.other_node) == (
        "implementation",
        "location",
        NANSHAN,
        CITY,
    )
    assert (finding.owner_value, finding.other_value) == (theirs.location, aggregated.location)


@pytest.mark.usefixtures("lookups")
def test_the_owner_takes_over_from_a_stand_in_and_the_stand_in_gets_findings(
    hub: Settings, root: Path
) -> None:
    topo = make_topology(root)
    theirs = ITEMS[NANSHAN][0]
    stale = changed(theirs, location="深圳市政务服务中心一楼")
    drop(root, CITY, [stale])
    drop(root, NANSHAN, [theirs])
    sync_node(hub, topo, CITY)  # the city delivers first: it stands in
    sync_node(hub, topo, NANSHAN)
    for session in _session(hub):
        stored = current_item(session, theirs.impl_code)
        assert stored is not None
        assert (stored.data["location"], stored.source) == (theirs.location, f"node:{NANSHAN}")
    [finding] = [f for f in _findings(hub) if f.status == "open"]
    assert (finding.element, finding.owner_node, finding.other_node) == ("location", NANSHAN, CITY)
    # The city cannot take it back.
    drop(root, CITY, [changed(stale, location="别处")])
    sync_node(hub, topo, CITY)
    for session in _session(hub):
        stored = current_item(session, theirs.impl_code)
        assert stored is not None and stored.data["location"] == theirs.location


@pytest.mark.usefixtures("lookups")
def test_a_cancellation_record_becomes_a_tombstone(hub: Settings, root: Path) -> None:
    topo = make_topology(root)
    drop(root, NANSHAN, ITEMS[NANSHAN])
    sync_node(hub, topo, NANSHAN)
    target = ITEMS[NANSHAN][5]
    drop(root, NANSHAN, [changed(target, status=ReviewStatus.CANCELLED)])
    result = sync_node(hub, topo, NANSHAN)
    assert result.counts["cancelled"] == 1
    assert [c.impl_code for c in result.diff.cancelled] == [target.impl_code]
    for session in _session(hub):
        assert current_item(session, target.impl_code) is None
        history = item_history(session, target.impl_code)
        assert [v.is_tombstone for v in history] == [False, True]
        assert history[-1].status == "cancelled"


def test_a_reinstated_item_s_diff_shows_its_status_change(hub: Settings, root: Path) -> None:
    """`sync items --diff` printed a reinstated item with no element line; `items history`
    shows status: cancelled → published."""
    from tongyuan.sync import format_diffs

    topo = make_topology(root)
    drop(root, NANSHAN, ITEMS[NANSHAN])
    sync_node(hub, topo, NANSHAN)
    target = ITEMS[NANSHAN][5]
    drop(root, NANSHAN, [changed(target, status=ReviewStatus.CANCELLED)])
    sync_node(hub, topo, NANSHAN)
    drop(root, NANSHAN, [target])
    result = sync_node(hub, topo, NANSHAN)
    assert "status: cancelled → published" in format_diffs([result.diff], max_items=10)


# What happened to each copy read: every read copy lands in exactly one of these.
_OUTCOMES = ("unchanged", "added", "changed", "cancelled", "held", "refused", "judged",
             "quarantined")  # fmt: skip


def _each_read_counted(counts: dict[str, int]) -> bool:
    return counts["read"] == sum(counts[name] for name in _OUTCOMES)


def test_a_cancelled_copy_read_again_with_only_its_update_time_changed_is_unchanged(
    hub: Settings, root: Path
) -> None:
    """A department system bumps GXSJ on a cancelled row: the copy's hash changes, the
    library has nothing left to cancel. It was read, so it is counted (was: read 1 and
    every outcome 0)."""
    topo = make_topology(root)
    drop(root, NANSHAN, ITEMS[NANSHAN])
    sync_node(hub, topo, NANSHAN)
    cancelled = changed(ITEMS[NANSHAN][5], status=ReviewStatus.CANCELLED,
                        updated_at=datetime(2026, 3, 2, 9, tzinfo=UTC))  # fmt: skip
    drop(root, NANSHAN, [cancelled])
    assert sync_node(hub, topo, NANSHAN).counts["cancelled"] == 1
    drop(root, NANSHAN, [changed(cancelled, updated_at=datetime(2026, 3, 3, 9, tzinfo=UTC))])
    again = sync_node(hub, topo, NANSHAN).counts
    assert (again["read"], again["unchanged"], again["cancelled"]) == (1, 1, 0)
    assert _each_read_counted(again)


def test_a_non_owner_cancellation_is_a_status_finding(hub: Settings, root: Path) -> None:
    topo = make_topology(root)
    theirs = ITEMS[NANSHAN][0]
    drop(root, NANSHAN, [theirs])
    drop(root, CITY, [changed(theirs, status=ReviewStatus.CANCELLED)])
    sync_node(hub, topo, NANSHAN)
    judged = sync_node(hub, topo, CITY).counts
    assert (judged["read"], judged["judged"]) == (1, 1) and _each_read_counted(judged)
    for session in _session(hub):
        assert current_item(session, theirs.impl_code) is not None
    [finding] = _findings(hub)
    assert (finding.scope, finding.owner_value, finding.other_value) == (
        "status",
        "published",
        "cancelled",
    )


def test_absence_cancels_only_in_snapshot_streams(hub: Settings, root: Path) -> None:
    topo = make_topology(root, snapshot=frozenset({NANSHAN}))
    for code in (NANSHAN, BAOAN):
        drop(root, code, ITEMS[code])
        sync_node(hub, topo, code)
    gone_nanshan, gone_baoan = ITEMS[NANSHAN][0], ITEMS[BAOAN][0]
    drop(root, NANSHAN, ITEMS[NANSHAN][1:])
    drop(root, BAOAN, ITEMS[BAOAN][1:])
    snap = sync_node(hub, topo, NANSHAN)
    incremental = sync_node(hub, topo, BAOAN)
    assert snap.counts["cancelled"] == 1 and incremental.counts["cancelled"] == 0
    # A read that delivers nothing is no snapshot: nothing is cancelled.
    assert sync_node(hub, topo, NANSHAN).counts["cancelled"] == 0
    for session in _session(hub):
        assert current_item(session, gone_nanshan.impl_code) is None
        assert current_item(session, gone_baoan.impl_code) is not None
    # It comes back: the history goes on.
    drop(root, NANSHAN, ITEMS[NANSHAN])
    back = sync_node(hub, topo, NANSHAN)
    assert back.counts["changed"] == 1 and back.counts["unchanged"] == len(ITEMS[NANSHAN]) - 1
    for session in _session(hub):
        assert len(item_history(session, gone_nanshan.impl_code)) == 3


def test_unpublished_items_are_held_and_observed(hub: Settings, root: Path) -> None:
    topo = make_topology(root)
    draft = changed(ITEMS[NANSHAN][0], status=ReviewStatus.REVIEWED)
    seen: list[CopyEvent] = []

    def observer(session: object, event: CopyEvent) -> None:
        seen.append(event)

    register_copy_observer(observer)
    try:
        drop(root, NANSHAN, [draft, ITEMS[NANSHAN][1]])
        result = sync_node(hub, topo, NANSHAN)
    finally:
        unregister_copy_observer(observer)
    assert result.counts["held"] == 1 and result.held_items == [draft.impl_code]
    assert {(e.impl_code, e.outcome) for e in seen} == {
        (draft.impl_code, "held"),
        (ITEMS[NANSHAN][1].impl_code, "published"),
    }
    for session in _session(hub):
        assert current_item(session, draft.impl_code) is None
        copy = session.get(NodeItem, (NANSHAN, draft.impl_code))
        assert copy is not None and copy.status == "reviewed"


def test_dry_run_writes_nothing_and_reports_the_element_diff(hub: Settings, root: Path) -> None:
    topo = make_topology(root, snapshot=frozenset({BAOAN}))
    *first, new = ITEMS[BAOAN]
    drop(root, BAOAN, first)
    sync_node(hub, topo, BAOAN)
    edited, gone = first[1], first[2]
    export = [changed(edited, location="新地址")] + [
        i for i in ITEMS[BAOAN] if i not in (edited, gone)
    ]
    drop(root, BAOAN, export)
    before = dump(hub.database_url)
    for session in _session(hub):
        batches = session.scalars(select(Batch.id)).all()
    preview = sync_node(hub, topo, BAOAN, dry_run=True)
    assert preview.status == "dry-run" and preview.batch_id is None
    assert dump(hub.database_url) == before
    for session in _session(hub):
        assert session.scalars(select(Batch.id)).all() == batches
    assert [c.impl_code for c in preview.diff.added] == [new.impl_code]
    assert [c.impl_code for c in preview.diff.cancelled] == [gone.impl_code]
    [change] = preview.diff.changed
    assert [(e.element, e.before, e.after) for e in change.elements] == [
        ("location", edited.location, "新地址")
    ]
    text = format_diffs([preview.diff])
    assert f"~ {edited.impl_code}" in text and "新地址" in text
    # The source was not acknowledged: the real run sees the same export and does the same.
    real = sync_node(hub, topo, BAOAN)
    assert real.diff.as_dict() == preview.diff.as_dict()
    assert real.counts == preview.counts


def test_a_problem_the_pull_reports_reaches_the_sync_result_and_its_output(
    hub: Settings, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source's close() failing after the commit is a problem of the pull, not a
    failure (pull, ingest print it); `sync items` dropped it: exit 0, nothing shown."""
    import tongyuan.sync.node_sync as node_sync
    from tongyuan.cli.sync_cmd import _describe

    real = node_sync.pull
    said = "adapter x, stream items: close() raised RuntimeError: 110105194912310021 gone"

    def pull_with_a_problem(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        result = real(*args, **kwargs)
        result.problems.append(said)
        return result

    monkeypatch.setattr(node_sync, "pull", pull_with_a_problem)
    topo = make_topology(root)
    drop(root, NANSHAN, ITEMS[NANSHAN])
    result = sync_node(hub, topo, NANSHAN)
    assert result.status == "committed" and result.problems == [said]
    step = _describe(result)
    assert step["problems"] == ["adapter x, stream items: close() raised RuntimeError: "
                                "1101**********0021 gone"]  # fmt: skip
