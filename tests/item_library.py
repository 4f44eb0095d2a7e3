"""Publishing items into a test hub's item library, as a file load does: cases are
checked against the library, so a test that ingests cases loads their item first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from standards.formats import write_records
from standards.records import StandardRecord
from tongyuan.config import Settings
from tongyuan.loading import Loader


def publish_items(settings: Settings, folder: Path, items: Sequence[StandardRecord]) -> None:
    """Load ``items`` (written to ``folder/items.xml``) into the hub's item library."""
    folder.mkdir(parents=True)
    write_records(folder / "items.xml", list(items))
    loader = Loader(settings)
    try:
        assert not loader.load([folder]).failed
    finally:
        loader.close()
