"""``sync_all`` (the CLI's whole run): a node with a failed pull neither delivers nor pushes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tongyuan.sync import run_all
from tongyuan.topology import example_path, load_topology


def test_a_node_whose_department_pull_failed_does_not_deliver_or_push(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The city's department system fails to pull, and so does 440306: the city neither
    delivers to the province nor pushes to its counties, 440306 does not deliver; the rest
    go on — the rule the item_sync DAG applies too (tests/dags/test_item_sync_plan.py)."""
    topology = load_topology(example_path("shenzhen"))
    (dept,) = [d.code for d in topology.departments_of("440300")]
    failing = {dept, "440306"}
    calls: list[tuple[str, str]] = []

    def pull(settings: Any, topo: Any, code: str, **_: Any) -> Any:
        calls.append(("sync", code))
        return SimpleNamespace(status="failed" if code in failing else "ok")

    def step(kind: str) -> Any:
        def record(settings: Any, topo: Any, code: str, **_: Any) -> Any:
            calls.append((kind, code))
            return SimpleNamespace(status="ok")

        return record

    monkeypatch.setattr(run_all, "sync_node", pull)
    monkeypatch.setattr(run_all, "deliver_up", step("deliver"))
    monkeypatch.setattr(run_all, "push_down", step("push"))
    monkeypatch.setattr(run_all, "install_review_tracking", lambda: None)
    list(run_all.sync_all(None, topology))  # type: ignore[arg-type]
    assert {c for k, c in calls if k == "sync"} >= {dept, "440300", "440306", "440000"}
    delivered = {c for k, c in calls if k == "deliver"}
    assert delivered == {"440304", "440305", "440307"}
    assert {c for k, c in calls if k == "push"} == {"440000"}
