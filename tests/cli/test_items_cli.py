"""`tongyuan items history`: every version of an item, what changed and which batch did it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from standards.formats import write_records
from tongyuan.cli import app
from tongyuan.sync.systems import build_level_systems, outbox_of, write_exports
from tongyuan.topology import example_path, load_topology

runner = CliRunner()
DISTRICT = "620102"
CITIZEN_ID = "11010519491231002X"


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), terminal_width=200)


@pytest.fixture
def edited():  # type: ignore[no-untyped-def]
    """A district synced, then one item edited (an ID typed into its conditions), synced again."""
    topo = load_topology(example_path("lanzhou"))
    systems = build_level_systems(topo, plant=False)
    write_exports(systems)
    assert _invoke("sync", "items", "--topology", "lanzhou", "--node", DISTRICT).exit_code == 0
    item = systems.exports[DISTRICT][0]
    changed = item.model_copy(
        update={"promised_limit_days": item.promised_limit_days - 1,
                "conditions": f"联系人证件 {CITIZEN_ID}"}
    )  # fmt: skip
    write_records(outbox_of(topo, DISTRICT) / "items-0002-edit.xml", [changed])
    assert _invoke("sync", "items", "--topology", "lanzhou", "--node", DISTRICT).exit_code == 0
    return item, changed


def test_history_lists_every_version_with_its_changes_and_ledger_entry(edited) -> None:  # type: ignore[no-untyped-def]
    item, changed = edited
    result = _invoke("items", "history", item.impl_code, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["impl_code"] == item.impl_code
    first, second = doc["versions"]
    assert (first["version"], second["version"]) == (1, 2)
    assert first["valid_to"] == second["valid_from"] and second["valid_to"] is None
    assert {c["element"] for c in first["changes"]} >= {"name", "basic_code"}
    changes = {c["element"]: (c["before"], c["after"]) for c in second["changes"]}
    assert set(changes) == {"promised_limit_days", "conditions"}
    assert changes["promised_limit_days"] == (item.promised_limit_days, changed.promised_limit_days)
    for version in (first, second):
        batch = version["batch"]
        assert batch["kind"] == "sync.items" and DISTRICT in batch["source"]
        assert isinstance(batch["ledger_seq"], int)
    assert first["batch"]["ledger_seq"] < second["batch"]["ledger_seq"]
    # The ID typed into an element is masked in every form of the output.
    assert CITIZEN_ID not in result.stdout and "1101" in changes["conditions"][1]
    text = _invoke("items", "history", item.impl_code)
    assert text.exit_code == 0, text.output
    assert "2 version(s)" in text.output and "promised_limit_days" in text.output
    assert CITIZEN_ID not in text.output


def test_a_code_typed_with_separators_and_lower_case_is_found(edited) -> None:  # type: ignore[no-untyped-def]
    item, _ = edited
    typed = f"{item.impl_code[:18].lower()}-{item.impl_code[18:]}"
    result = _invoke("items", "history", typed, "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["versions"]) == 2


def test_an_item_the_library_never_held_exits_1() -> None:
    _invoke("db", "upgrade")
    result = _invoke("items", "history", "1144030000000000000000000000000")
    assert result.exit_code == 1
    assert "no item with 实施编码" in result.output
