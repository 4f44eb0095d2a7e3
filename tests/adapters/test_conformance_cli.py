"""`tongyuan adapter check` and `list`, and the kit as a pytest base class."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from broken_adapters import ReferenceSource
from typer.testing import CliRunner

from adapters.conformance.base import AdapterConformanceTests
from standards.privacy import contains_citizen_id
from tongyuan.cli import app

runner = CliRunner()
HERE = Path(__file__).resolve().parent


def _check(*args: str):
    return runner.invoke(app, ["adapter", "check", *args], terminal_width=200)


def test_check_prints_a_passing_table_and_exits_zero(reference_yaml):
    result = _check("broken_adapters:ReferenceSource", "--config", str(reference_yaml),
                    "--rows", "2000")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "rows sharing a boundary cursor value" in result.output
    assert result.output.count("PASS") == 10
    assert "all 10 checks passed" in result.output


def test_check_exits_one_and_names_the_failure(reference_yaml):
    result = _check("broken_adapters:GreaterOrEqualSource", "--config", str(reference_yaml),
                    "--rows", "2000")  # fmt: skip
    assert result.exit_code == 1
    assert "FAIL" in result.output and "`>=`" in result.output
    assert "4 of 10 checks did not pass: no_change, change, restart, boundary" in result.output
    assert not contains_citizen_id(result.output)


def test_check_json_is_one_object(reference_yaml):
    result = _check("broken_adapters:DroppedBadRowSource", "--config", str(reference_yaml),
                    "--json", "--check", "bad_rows", "--check", "config")  # fmt: skip
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["adapter"] == "broken_adapters:DroppedBadRowSource"
    assert {c["name"]: c["status"] for c in data["checks"]} == {
        "config": "pass",
        "bad_rows": "fail",
    }
    assert "5 dropped" in data["checks"][1]["reason"]


def test_check_refuses_unknown_adapters_files_and_checks(reference_yaml, tmp_path):
    missing_class = _check("broken_adapters:NoSuchSource", "--config", str(reference_yaml))
    assert missing_class.exit_code == 2
    assert "not a Source or Sink" in missing_class.output
    no_module = _check("no_such_module:Source", "--config", str(reference_yaml))
    assert no_module.exit_code == 2 and "cannot import adapter module" in no_module.output
    no_file = _check("broken_adapters:ReferenceSource", "--config", str(tmp_path / "x.yaml"))
    assert no_file.exit_code == 2 and "configuration file not found" in no_file.output
    bad_check = _check("sql", "--config", str(reference_yaml), "--check", "speed")
    assert bad_check.exit_code == 2 and "unknown checks speed" in bad_check.output


def test_list_shows_the_builtin_adapters():
    result = runner.invoke(app, ["adapter", "list"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in ("sql", "files", "sftp", "http"):
        assert re.search(rf"│ {name}\s+│ adapters\.builtin\.{name}:", result.output)
    assert "built-in" in result.output


class TestReferenceThroughTheBaseClass(AdapterConformanceTests):
    adapter = ReferenceSource
    rows = 5_000

    def configuration(self, scratch: Path) -> dict[str, str]:
        return {"database": str(scratch / "cases.sqlite"), "source_system": "SZ-MARKET"}


def test_base_class_failures_carry_the_kit_reason(tmp_path):
    """A broken adapter's generated tests fail, each with the kit's reason."""
    test_file = tmp_path / "test_broken.py"
    test_file.write_text(
        textwrap.dedent(
            """
            from broken_adapters import GreaterOrEqualSource
            from adapters.conformance.base import AdapterConformanceTests

            class TestBroken(AdapterConformanceTests):
                adapter = GreaterOrEqualSource
                rows = 1_000

                def configuration(self, scratch):
                    return {"database": str(scratch / "c.db"), "source_system": "SZ"}
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         "--rootdir", str(tmp_path), str(test_file)],
        capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": f"{HERE}:{HERE.parent.parent}", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "4 failed, 6 passed" in out
    assert re.search(r"FAILED \S*test_broken\.py::TestBroken::test_boundary", out)
    assert "rows sharing a boundary cursor value: fail: 10 more rows" in out
