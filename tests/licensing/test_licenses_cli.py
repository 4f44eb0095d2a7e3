"""`tongyuan licenses verify`: counts as JSON, and exit 2 for an unusable trust directory."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from signing.pki import init_pki
from tongyuan.cli import app
from tongyuan.config import load_settings
from tongyuan.db import upgrade

runner = CliRunner()


def test_json_counts_then_nothing_new(tmp_path: Path) -> None:
    upgrade(load_settings().database_url)
    trust = tmp_path / "pki"
    init_pki(trust, algorithms=("ecdsa",))
    result = runner.invoke(app, ["licenses", "verify", "--trust", str(trust), "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["checked"] == 0 and counts["run_id"]
    table = runner.invoke(app, ["licenses", "verify", "--all", "--trust", str(trust)])
    assert table.exit_code == 0 and "checked" in table.stdout


def test_missing_trust_directory_exits_2(tmp_path: Path) -> None:
    upgrade(load_settings().database_url)
    result = runner.invoke(app, ["licenses", "verify", "--trust", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "trust directory unusable" in result.output
