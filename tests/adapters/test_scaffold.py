"""`tongyuan adapter new`: a department package that passes the conformance kit unchanged."""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from adapters.conformance.kit import run_kit
from adapters.mapping import Mapping
from adapters.scaffold import ScaffoldError, adapter_names, create_adapter_package
from adapters.sdk.registry import ENTRY_POINT_GROUP, load_adapter
from tongyuan.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch):
    """Put a scaffolded package on sys.path (no pip install) and forget it afterwards."""

    def add(root: Path) -> None:
        monkeypatch.syspath_prepend(str(root))
        importlib.invalidate_caches()

    before = set(sys.modules)
    yield add
    for name in set(sys.modules) - before:
        if name.endswith("_adapter") or "_adapter." in name:
            del sys.modules[name]


@pytest.mark.parametrize(
    "name", ["../x", "market cases", "Market", "", "1abc", "a--b", "a_b", "x/y", "a" * 41, "-a"]
)
def test_unusable_names_are_refused(name, tmp_path):
    with pytest.raises(ScaffoldError, match="is not usable"):
        create_adapter_package(name, out=tmp_path)
    result = runner.invoke(app, ["adapter", "new", name, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_names_derived_from_the_adapter_name():
    names = adapter_names("market-supervision")
    assert names.dist == "tongyuan-adapter-market-supervision"
    assert names.module == "market_supervision_adapter"
    assert names.class_name == "MarketSupervisionCases"
    assert names.env_prefix == "MARKET_SUPERVISION"
    assert adapter_names("market-cases").class_name == "MarketCases"


def test_unknown_kind_and_existing_folder_are_refused(tmp_path):
    with pytest.raises(ScaffoldError, match="unknown kind 'ftp'"):
        create_adapter_package("market", kind="ftp", out=tmp_path)
    (tmp_path / "tongyuan-adapter-market").mkdir()
    with pytest.raises(ScaffoldError, match="already exists"):
        create_adapter_package("market", out=tmp_path)


def test_sql_scaffold_passes_the_kit_unchanged(tmp_path, monkeypatch, on_path):
    created = create_adapter_package("market-cases", kind="sql", out=tmp_path)
    root = created.root
    assert root == tmp_path / "tongyuan-adapter-market-cases"
    for rel in ("pyproject.toml", "README.md", "adapter.yaml", "tests/test_conformance.py",
                "market_cases_adapter/source.py", "market_cases_adapter/mapping.yaml",
                "market_cases_adapter/sample.py", "sample/market-cases.sqlite"):  # fmt: skip
        assert (root / rel).is_file(), rel

    # The entry point parses and names the class the kit is run against.
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "tongyuan-adapter-market-cases"
    assert "tongyuan" in project["dependencies"]
    target = project["entry-points"][ENTRY_POINT_GROUP]["market-cases"]
    assert target == "market_cases_adapter.source:MarketCases"

    on_path(root)
    cls = load_adapter(target)
    assert cls.__name__ == "MarketCases" and cls.default_stream == "cases"
    source_text = (root / "market_cases_adapter/source.py").read_text(encoding="utf-8")
    assert 'stream = "cases"' in source_text and 'mapping = "mapping.yaml"' in source_text

    # The mapping exercises codes, Chinese dates and history from columns.
    mapping = Mapping.load(root / "market_cases_adapter/mapping.yaml")
    assert mapping.kind == "case" and {"SLSJ", "BJJG", "SQRZJLX"} <= mapping.columns

    monkeypatch.setenv("MARKET_CASES_DB_URL", f"sqlite:///{tmp_path / 'kit.sqlite'}")
    report = run_kit(cls, root / "adapter.yaml", rows=5_000)
    assert report.passed, [(r.name, r.reason) for r in report.results if r.status != "pass"]


def test_files_scaffold_passes_the_kit_unchanged(tmp_path, on_path):
    created = create_adapter_package("market-drop", kind="files", out=tmp_path)
    root = created.root
    export = root / "sample" / "drop" / "cases_000001.csv"
    header = export.read_bytes().splitlines()[1]
    assert "身份证".encode("gbk") in header or "营业执照".encode("gbk") in header  # GBK export
    on_path(root)
    cls = load_adapter("market_drop_adapter.source:MarketDropCases")
    source = cls.from_config(root / "adapter.yaml")
    with source.read("cases") as read:
        envelopes = list(read)  # not committed: the sample stays in place
    assert len(envelopes) == 200 and all(e.ok for e in envelopes)
    config = {"path": str(tmp_path / "kit-drop"), "settle_seconds": 0.2}
    report = run_kit(cls, config, rows=5_000, base_dir=root)
    assert report.passed, [(r.name, r.reason) for r in report.results if r.status != "pass"]
    # As the README runs it, on adapter.yaml: the kit drives sample/drop (a scratch
    # folder it may empty, marked) and leaves the example export in sample/exports.
    report = run_kit(cls, root / "adapter.yaml", rows=2_000, only=["no_change"])
    assert report.passed, [(r.name, r.reason) for r in report.results if r.status != "pass"]
    assert (root / "sample" / "exports" / export.name).read_bytes().splitlines()[1] == header


def test_http_scaffold_passes_the_kit_unchanged(tmp_path, on_path):
    created = create_adapter_package("market-api", kind="http", out=tmp_path)
    root = created.root
    page = json.loads((root / "sample" / "cases-page.json").read_text(encoding="utf-8"))
    assert [row["ID"] for row in page["data"]] == [1, 2, 3]
    on_path(root)
    cls = load_adapter("market_api_adapter.source:MarketApiCases")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The configuration as shipped, on a free port: the harness starts the sample API.
    config = yaml.safe_load((root / "adapter.yaml").read_text(encoding="utf-8"))
    config["base_url"] = f"http://127.0.0.1:{port}/api"
    report = run_kit(cls, config, rows=2_000, base_dir=root)
    assert report.passed, [(r.name, r.reason) for r in report.results if r.status != "pass"]
    # `python -m market_api_adapter.sample` (as the README runs it with `serve`) imports
    # the package first: it must not have imported the sample module already
    ran = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "market_api_adapter.sample"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(REPO)])},
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr


def test_sample_data_reads_as_standard_cases(tmp_path, monkeypatch, on_path):
    created = create_adapter_package("market", kind="sql", out=tmp_path)
    on_path(created.root)
    cls = load_adapter("market_adapter.source:MarketCases")
    sample = created.root / "sample" / "market.sqlite"
    monkeypatch.setenv("MARKET_DB_URL", f"sqlite:///{sample}")
    source = cls.from_config(created.root / "adapter.yaml")
    source.check()
    with source.read("cases") as read:
        envelopes = list(read)
    assert len(envelopes) == 200 and all(e.ok for e in envelopes)
    decided = [e.record for e in envelopes if e.record.decided_at is not None]
    assert decided and all(c.events[-1].state.value == "11" for c in decided)


def test_cli_new_and_the_generated_tests_pass(tmp_path):
    result = runner.invoke(
        app, ["adapter", "new", "market-cases", "--out", str(tmp_path)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    root = tmp_path / "tongyuan-adapter-market-cases"
    assert "tongyuan adapter check market_cases_adapter.source:MarketCases" in result.output
    lint = subprocess.run(
        [str(REPO / ".venv/bin/ruff"), "check", "--no-cache", "."],
        cwd=root, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root, capture_output=True, text=True, timeout=180,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 passed" in done.stdout
