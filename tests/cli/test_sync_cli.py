"""`tongyuan sync items`: dry-run diffs that write nothing, real runs, one node or all."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from standards.formats import write_records
from tongyuan.cli import app
from tongyuan.config import load_settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.items import ItemVersion
from tongyuan.sync.systems import (
    build_level_systems,
    changed_items,
    inbox_of,
    outbox_of,
    write_exports,
)
from tongyuan.topology import example_path, load_topology

runner = CliRunner()
CITY, DISTRICT = "620100", "620102"


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["sync", "items", *args], terminal_width=200)


def _library() -> tuple[int, int]:
    engine = make_engine(load_settings().database_url)
    try:
        with make_session_factory(engine)() as s:
            return (
                s.scalar(select(func.count()).select_from(ItemVersion)) or 0,
                s.scalar(select(func.count()).select_from(Batch)) or 0,
            )
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _migrated_hub(request: pytest.FixtureRequest) -> None:
    """`tongyuan db upgrade` first, as operations.md says: a dry run migrates nothing."""
    if request.node.name.startswith("test_check_"):  # `sync check` touches no database
        return
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def lanzhou():  # type: ignore[no-untyped-def]
    """The shipped Lanzhou example with generated level systems under TONGYUAN_HOME."""
    topo = load_topology(example_path("lanzhou"))
    systems = build_level_systems(topo, plant=False)
    write_exports(systems)
    return topo, systems


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def test_help_shows_examples() -> None:
    for args in (["sync", "--help"], ["sync", "items", "--help"], ["sync", "check", "--help"]):
        result = runner.invoke(app, args, terminal_width=200)
        assert result.exit_code == 0, result.output
        assert "Example:" in result.output
    result = runner.invoke(app, ["sync", "items", "--help"], terminal_width=200)
    for option in ("--topology", "--node", "--dry-run", "--json", "TONGYUAN_TOPOLOGY"):
        assert option in result.output


def test_a_broken_topology_exits_2_with_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        textwrap.dedent("""\
        name: bad
        nodes:
          - {code: "440305", parent: "440000", source: {adapter: filez}}
          - {code: "440305", source: {adapter: files, config: {path: x}}}
        """),
        encoding="utf-8",
    )
    result = _invoke("--topology", str(bad))
    assert result.exit_code == 2
    for fragment in ("nodes[0].source.adapter", "unknown adapter 'filez'", "nodes[1].code",
                     "duplicate node 440305", "nodes[0].parent"):  # fmt: skip
        assert fragment in result.output
    assert _invoke("--topology", "atlantis").exit_code == 2


def test_an_unknown_node_exits_2(lanzhou) -> None:  # type: ignore[no-untyped-def]
    result = _invoke("--topology", "lanzhou", "--node", "620103")
    assert result.exit_code == 2
    assert "620103" in result.output and "620102" in result.output


def test_node_dry_run_prints_the_diff_and_writes_nothing(lanzhou) -> None:  # type: ignore[no-untyped-def]
    topo, systems = lanzhou
    outbox = outbox_of(topo, DISTRICT)
    before = _files(outbox)
    result = _invoke("--topology", "lanzhou", "--node", DISTRICT, "--dry-run")
    assert result.exit_code == 0, result.output
    exported = systems.exports[DISTRICT]
    assert "dry run: nothing written" in result.output
    assert f"diff {DISTRICT}: {len(exported)} added, 0 changed, 0 cancelled" in result.output
    assert f"+ {exported[0].impl_code} {exported[0].name}" in result.output
    # Nothing stored, nothing acknowledged, nothing delivered.
    assert _library() == (0, 0)
    assert _files(outbox) == before
    assert _files(inbox_of(topo, CITY)) == []  # type: ignore[arg-type]


def test_node_sync_then_a_change_shows_before_and_after(lanzhou) -> None:  # type: ignore[no-untyped-def]
    topo, systems = lanzhou
    result = _invoke("--topology", "lanzhou", "--node", DISTRICT)
    assert result.exit_code == 0, result.output
    exported = systems.exports[DISTRICT]
    versions, batches = _library()
    assert versions == len(exported) and batches >= 1
    assert f"sync {DISTRICT}: committed batch" in result.output
    assert f"deliver {DISTRICT}: committed" in result.output
    assert _files(inbox_of(topo, CITY))  # type: ignore[arg-type]  # the aggregate went up

    # The district edits one item: a dry run shows the element before and after.
    edited = changed_items(exported, 1 / len(exported), seed=5)
    assert len(edited) == 1
    old = next(i for i in exported if i.impl_code == edited[0].impl_code)
    write_records(outbox_of(topo, DISTRICT) / "items-0002-edit.xml", edited)
    dry = _invoke("--topology", "lanzhou", "--node", DISTRICT, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    document = json.loads(dry.stdout)
    assert document["dry_run"] is True and document["topology"] == "lanzhou"
    (step,) = [s for s in document["steps"] if s["step"] == "sync"]
    assert step["status"] == "dry-run" and step["batch_id"] is None
    (change,) = step["diff"]["changed"]
    assert change["impl_code"] == old.impl_code
    elements = {e["element"]: (e["before"], e["after"]) for e in change["elements"]}
    if old.promised_limit_days != edited[0].promised_limit_days:
        assert elements["promised_limit_days"] == (
            old.promised_limit_days,
            edited[0].promised_limit_days,
        )
    else:
        assert elements["consult_channels"][1].endswith("（更新）")
    assert _library() == (versions, batches)

    text = _invoke("--topology", "lanzhou", "--node", DISTRICT, "--dry-run")
    assert f"~ {old.impl_code}" in text.output
    assert " → " in text.output


def test_a_department_system_alone(tmp_path: Path) -> None:
    topo = load_topology(example_path("shenzhen"))
    (dept,) = topo.departments
    result = _invoke("--node", dept.code, "--dry-run", "--json")
    # The department database does not exist in this fresh home: the step fails, clearly.
    assert result.exit_code == 1
    (step,) = json.loads(result.stdout)["steps"]
    assert step["node"] == dept.code and step["status"] == "failed" and step["error"]
    assert _library() == (0, 0)


def test_whole_topology_dry_run_then_run(lanzhou) -> None:  # type: ignore[no-untyped-def]
    topo, systems = lanzhou
    dry = _invoke("--topology", "lanzhou", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    steps = json.loads(dry.stdout)["steps"]
    synced = {s["node"]: s for s in steps if s["step"] == "sync"}
    assert set(synced) == set(topo.nodes)
    for code, items in systems.exports.items():
        assert len(synced[code]["diff"]["added"]) == len(items)
    assert _library() == (0, 0)

    real = _invoke("--topology", "lanzhou")
    assert real.exit_code == 0, real.output
    assert _library()[0] == systems.item_count
    again = _invoke("--topology", "lanzhou", "--dry-run", "--json")
    steps = json.loads(again.stdout)["steps"]
    assert all(
        not (s["diff"]["added"] or s["diff"]["changed"] or s["diff"]["cancelled"])
        for s in steps
        if s["step"] == "sync"
    )


def test_default_topology_is_the_shenzhen_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TONGYUAN_TOPOLOGY", raising=False)
    result = _invoke("--dry-run", "--json")
    document = json.loads(result.stdout)
    assert document["topology"] == "shenzhen"
    assert Path(document["file"]) == example_path("shenzhen")


def test_check_prints_the_tree_and_touches_nothing() -> None:
    result = runner.invoke(app, ["sync", "check"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "topology shenzhen" in result.output and "OK" in result.output
    assert "  440300 深圳市 [市级]" in result.output
    assert "    440305 南山区 [县级]" in result.output
    assert "department 深圳市市场监督管理局 (114403000040578006)" in result.output
    assert not (load_settings().home / "tongyuan.db").exists()


def test_check_prints_every_departments_item_and_case_systems() -> None:
    result = runner.invoke(app, ["sync", "check"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "6 nodes, 1 department (1 item system, 1 case system) — OK" in result.output
    assert (
        "    department 深圳市市场监督管理局 (114403000040578006)\n"
        "      items: source sql, streams items\n"
        "      cases: source files, stream cases, schedule */30 * * * *\n"
    ) in result.output
    # A department that only delivers cases is in the tree too, with its signing.
    result = runner.invoke(app, ["sync", "check", "-t", "lanzhou"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "3 nodes, 1 department (0 item systems, 1 case system) — OK" in result.output
    assert (
        "    department 兰州市市场监督管理局 (11620100013927648E)\n"
        "      cases: source files, stream cases, schedule 0 * * * *, signed deliveries\n"
        "    620102 城关区"
    ) in result.output


def test_check_prints_the_default_case_schedule_airflow_uses(tmp_path: Path) -> None:
    """A case system without case_schedule is ingested by case_ingest every half hour."""
    topology = tmp_path / "no-case-schedule.yaml"
    text = example_path("lanzhou").read_text(encoding="utf-8")
    assert '    case_schedule: "0 * * * *"\n' in text
    topology.write_text(text.replace('    case_schedule: "0 * * * *"\n', ""), encoding="utf-8")
    result = runner.invoke(app, ["sync", "check", "-t", str(topology)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert (
        "      cases: source files, stream cases, schedule */30 * * * * (the default: no "
        "case_schedule given), signed deliveries\n"
    ) in result.output
    assert "manual runs only" not in result.output


def test_check_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        'name: bad\nnodes:\n  - {code: "440300", parent: "440300", schedule: "1 2 3",'
        " source: {adapter: files, config: {path: x, streams: {items: {kind: item}}}}}\n"
        'departments:\n  - {name: x, code: 91110000600037341X, node: "440300"}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["sync", "check", "--topology", str(bad)], terminal_width=200)
    assert result.exit_code == 2
    for fragment in ("nodes[0].parent: node 440300 is its own parent", "nodes[0].schedule",
                     "departments[0].code: [uscc.check]", "nodes: no root"):  # fmt: skip
        assert fragment in result.output
    assert "91110000600037341X" in result.output  # a USCC, not a personal ID: not masked


def _edit(item, **values):  # type: ignore[no-untyped-def]
    from standards.records import Item

    return Item.model_validate({**item.model_dump(mode="json", exclude_none=True), **values})


def test_diffs_mask_personal_ids_in_element_values(lanzhou) -> None:  # type: ignore[no-untyped-def]
    topo, systems = lanzhou
    assert _invoke("--topology", "lanzhou", "--node", DISTRICT).exit_code == 0
    item = systems.exports[DISTRICT][0]
    clear = "11010519491231002X"  # a valid citizen ID in free text
    edited = _edit(item, location=f"联系人身份证{clear}", name=f"{item.name}{clear}")
    write_records(outbox_of(topo, DISTRICT) / "items-0002-id.xml", [edited])
    text = _invoke("--topology", "lanzhou", "--node", DISTRICT, "--dry-run")
    as_json = _invoke("--topology", "lanzhou", "--node", DISTRICT, "--dry-run", "--json")
    for result in (text, as_json):
        assert result.exit_code == 0, result.output
        assert clear not in result.output
    assert "location: " in text.output and "1101**********002X" in text.output
    (step,) = [s for s in json.loads(as_json.stdout)["steps"] if s["step"] == "sync"]
    (change,) = step["diff"]["changed"]
    after = {e["element"]: e["after"] for e in change["elements"]}
    assert after["location"] == "联系人身份证1101**********002X"


def test_the_sync_line_shows_refused_copies(lanzhou) -> None:  # type: ignore[no-untyped-def]
    topo, systems = lanzhou
    assert _invoke("--topology", "lanzhou", "--node", DISTRICT).exit_code == 0
    item = systems.exports[DISTRICT][0]
    outbox = outbox_of(topo, DISTRICT)
    write_records(outbox / "items-0002-cancel.xml", [_edit(item, status="cancelled")])
    assert _invoke("--topology", "lanzhou", "--node", DISTRICT).exit_code == 0
    # Back to published without passing the reviews again: refused, and the line says so.
    write_records(outbox / "items-0003-again.xml", [_edit(item, process=item.process + "。")])
    result = _invoke("--topology", "lanzhou", "--node", DISTRICT)
    assert result.exit_code == 0, result.output
    assert f"sync {DISTRICT}: committed" in result.output and "refused 1" in result.output


def test_check_prints_control_characters_in_names_escaped(tmp_path: Path) -> None:
    topology = tmp_path / "t.yaml"
    topology.write_text(
        'name: "t\\e[2K"\nallow_unknown_regions: true\nnodes:\n'
        '  - {code: "440300", name: "深圳\\e]0;x\\a\\u202e市", source: {adapter: files, '
        "config: {path: x, streams: {items: {kind: item}}}}}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["sync", "check", "--topology", str(topology)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "topology t\\x1b[2K (" in result.output
    assert "440300 深圳\\x1b]0;x\\x07\\u202e市 [市级]" in result.output


def test_a_second_sync_while_one_runs_exits_3_and_writes_nothing(lanzhou) -> None:  # type: ignore[no-untyped-def]
    """Two `sync items` at once raced with raw IntegrityErrors (QA race_sync.sh)."""
    from tongyuan.db.locks import exclusive_lock
    from tongyuan.sync.run_all import SYNC_LOCK

    settings = load_settings()
    with exclusive_lock(settings.database_url, SYNC_LOCK, fallback_dir=settings.home):
        busy = _invoke("--topology", "lanzhou")
        dry = _invoke("--topology", "lanzhou", "--dry-run", "--json")  # takes no lock
    assert busy.exit_code == 3, busy.output
    assert "another `tongyuan sync items` of this hub is running" in busy.output
    assert _library() == (0, 0)
    assert dry.exit_code == 0, dry.output
    assert _invoke("--topology", "lanzhou").exit_code == 0


def test_an_airflow_run_and_a_manual_sync_keep_out_of_each_other(lanzhou) -> None:  # type: ignore[no-untyped-def]
    """The DAG's steps share the sync lock (they run in parallel), a manual `sync items`
    holds it exclusively: neither writes beside the other."""
    from tongyuan.db.locks import exclusive_lock, shared_lock
    from tongyuan.orchestration import tasks
    from tongyuan.sync.run_all import SYNC_LOCK

    settings = load_settings()
    path = str(example_path("lanzhou"))
    with shared_lock(settings.database_url, SYNC_LOCK, fallback_dir=settings.home):
        busy = _invoke("--topology", "lanzhou")  # a DAG step is running
        step = tasks.sync_node(path, DISTRICT)  # another step of the same run goes ahead
    assert busy.exit_code == 3, busy.output
    assert step["code"] == DISTRICT and step["counts"]["added"] > 0
    refused = pytest.raises(
        tasks.StepFailed, match="a `tongyuan sync items` of this hub is running"
    )
    with exclusive_lock(settings.database_url, SYNC_LOCK, fallback_dir=settings.home), refused:
        tasks.deliver_up(path, DISTRICT)
