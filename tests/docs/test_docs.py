"""Docs stay true: README starts with the two commands, every rule and command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from standards.validation.rules import RULES
from tongyuan.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_readme_starts_with_make_demo_then_make_test():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^(make \w+)", text, flags=re.MULTILINE)
    assert commands[:2] == ["make demo", "make test"]


def test_every_rule_is_in_the_rules_doc():
    doc = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    missing = [rule for rule in RULES if f"`{rule}`" not in doc]
    assert not missing, f"docs/rules.md lacks {missing}"


def test_doc_links_resolve():
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", md.read_text(encoding="utf-8")):
            assert (md.parent / target).exists(), f"{md.name} links to missing {target}"


@pytest.mark.parametrize(
    "command",
    [
        ["generate"],
        ["validate"],
        ["demo"],
        ["db", "upgrade"],
        ["db", "downgrade"],
        ["db", "current"],
    ],
)
def test_every_command_has_help_with_an_example(command):
    result = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example:" in result.output
