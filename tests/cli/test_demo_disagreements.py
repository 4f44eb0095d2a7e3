"""The demo's table of disagreements masks a value before cutting it to the column."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rich.console import Console

import tongyuan.cli.demo_items as demo_items
import tongyuan.libraries.consistency as consistency
from tongyuan.config import Settings
from tongyuan.db import upgrade

ID = "440305198503120017"


@pytest.mark.parametrize("offset", range(18, 40))
def test_an_id_near_the_cut_is_masked_not_left_as_17_digits(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, offset: int
) -> None:
    upgrade(settings.database_url)
    value = "说" * offset + ID + "请核对"
    finding = SimpleNamespace(
        impl_code="1144030500448535FQ4000700137002", element="legal_basis",
        owner_node="440300", owner_value=value, other_node="440305", other_value="同上",
    )  # fmt: skip
    monkeypatch.setattr(consistency, "open_findings", lambda session: [finding])
    console = Console(record=True, width=300)
    monkeypatch.setattr(demo_items, "console", console)
    topology = SimpleNamespace(nodes={}, departments=[])
    demo_items.print_disagreements(settings, topology)  # type: ignore[arg-type]
    shown = console.export_text()
    assert ID[:4] in shown or "…" in shown
    for digits in range(8, 18):
        assert ID[:digits] not in shown.replace("*", "#"), (offset, shown)
