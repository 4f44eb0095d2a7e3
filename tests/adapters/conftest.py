"""Fixtures of the adapter tests: a reference-source configuration in a scratch folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

# tests/adapters holds helper modules (broken_adapters) the kit imports by MODULE:CLASS.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture
def reference_config(tmp_path: Path) -> dict[str, Any]:
    """Configuration of the reference source: a SQLite file in this test's folder."""
    return {"database": str(tmp_path / "cases.sqlite"), "source_system": "SZ-MARKET"}


@pytest.fixture
def reference_yaml(tmp_path: Path, reference_config: dict[str, Any]) -> Path:
    """The same configuration as a YAML file (relative database path, as departments write)."""
    path = tmp_path / "adapter.yaml"
    path.write_text(
        yaml.safe_dump({**reference_config, "database": "cases.sqlite"}), encoding="utf-8"
    )
    return path
