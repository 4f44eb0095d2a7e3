"""``tongyuan report``: writes the site from the database and opens it when asked."""

from __future__ import annotations

import os
import subprocess
import sys
import webbrowser

import pytest
from report_rows import seed_history
from typer.testing import CliRunner

from tongyuan.cli import app
from tongyuan.config import ENV_DATABASE_URL, ENV_HOME

runner = CliRunner()


@pytest.fixture
def env(hub, monkeypatch):
    monkeypatch.setenv(ENV_HOME, str(hub.settings.home))
    monkeypatch.setenv(ENV_DATABASE_URL, hub.settings.database_url)
    return hub


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_report_writes_site_and_prints_paths(env):
    seed_history(env.engine)
    result = runner.invoke(app, ["report"], terminal_width=300)
    assert result.exit_code == 0, result.output
    index = env.settings.reports_dir / "index.html"
    assert index.exists() and str(index) in result.output
    assert "3 run(s), 4 rule(s), 3 with failing records." in result.output
    assert (env.settings.exports_dir / "quality-report.xlsx").exists()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_open_uses_the_system_browser(env, monkeypatch):
    opened: list[str] = []

    class Browser:
        def open(self, url: str) -> bool:
            opened.append(url)
            return True

    monkeypatch.setattr(webbrowser, "get", lambda: Browser())
    result = runner.invoke(app, ["report", "--open"])
    assert result.exit_code == 0, result.output
    assert opened == [(env.settings.reports_dir / "index.html").resolve().as_uri()]
    assert "No finished quality run yet" in result.output


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_open_without_a_browser_says_so(env, monkeypatch):
    def no_browser():
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr(webbrowser, "get", no_browser)
    result = runner.invoke(app, ["report", "--open"])
    assert result.exit_code == 0
    assert "No browser available" in result.output


def test_missing_database_is_a_clear_error(tmp_path, monkeypatch):
    """More cases (empty home, unmigrated database) in tests/cli/test_read_only_commands.py."""
    monkeypatch.setenv(ENV_HOME, str(tmp_path / "home"))
    result = runner.invoke(app, ["report"], terminal_width=300)
    assert result.exit_code == 2
    assert "no hub database at" in result.output and "tongyuan db upgrade" in result.output
    assert not (tmp_path / "home").exists()


def test_help_has_an_example():
    result = runner.invoke(app, ["report", "--help"], terminal_width=200)
    assert result.exit_code == 0 and "Example:" in result.output


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_report_names_departments_as_the_topology_declares(env, tmp_path):
    from test_report_evidence import _add_licenses, _rule_by_department

    from tongyuan.topology import example_path, load_topology

    department = load_topology(example_path(), home=env.settings.home).departments[0]
    _add_licenses(env.engine, department.code, ["ABC 伪造"])
    _rule_by_department(env, [department.code], ["K-1"])
    for args in (["report"], ["report", "--topology", str(example_path())]):
        result = runner.invoke(app, args, terminal_width=300)
        assert result.exit_code == 0, result.output
        index = (env.settings.reports_dir / "index.html").read_text("utf-8")
        assert f"<bdi>{department.name}</bdi>（{department.code}）" in index
        assert "ABC 伪造" not in index
    missing = runner.invoke(app, ["report", "--topology", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "none.yaml" in missing.output


def test_the_cli_module_runs_as_a_script():
    done = subprocess.run(
        [sys.executable, "-m", "tongyuan.cli.app", "report", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    assert "Example:" in done.stdout
