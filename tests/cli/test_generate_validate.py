"""generate → validate: clean data validates clean; every planted defect is found, exactly."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from tongyuan.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    result = runner.invoke(
        app, ["generate", "--out", str(out), "--seed", "11", "--items", "120", "--cases", "1500"]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def dirty_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("dirty")
    result = runner.invoke(
        app,
        [
            "generate",
            "--out",
            str(out),
            "--seed",
            "12",
            "--items",
            "200",
            "--cases",
            "2000",
            "--bad-rate",
            "0.05",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_bad_rate_zero_validates_clean(clean_dir):
    result = runner.invoke(app, ["validate", str(clean_dir), "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 0, report["errors"][:5]
    assert report["valid"] is True and report["errors"] == []
    assert set(report["records_by_kind"]) == {"item", "case", "material", "license"}


def test_every_planted_defect_is_reported_with_its_rule(dirty_dir):
    result = runner.invoke(app, ["validate", str(dirty_dir), "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    expected = json.loads((dirty_dir / "expected_defects.json").read_text(encoding="utf-8"))
    planted = Counter((d["file"], d["record"], d["rule"]) for d in expected["defects"])
    found = Counter(
        (e["file"].removeprefix(str(dirty_dir) + "/"), e["record"], e["rule"])
        for e in report["errors"]
    )
    assert found == planted
    kinds = {d["kind"] for d in expected["defects"]}
    assert kinds == {"item", "case", "material", "license"}
    # Each error says where and what.
    for e in report["errors"]:
        assert e["file"] and e["record"] and e["rule"] and e["message"]


def test_human_output_names_file_record_and_rule(dirty_dir):
    result = runner.invoke(app, ["validate", str(dirty_dir)], terminal_width=200)
    assert result.exit_code == 1
    assert "invalid" in result.stdout and "case.events" in result.stdout
