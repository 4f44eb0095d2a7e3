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


def _leaf_commands() -> list[list[str]]:
    """Every command a user can run, found by walking the CLI (new ones are covered too)."""
    import typer.main

    out: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        if hasattr(command, "commands"):  # a group (typer ships its own click)
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            out.append(path)

    walk(typer.main.get_command(app), [])
    return out


def test_the_cli_has_every_documented_group():
    names = {path[0] for path in _leaf_commands()}
    expected = {"generate", "validate", "demo", "db", "pull", "adapter", "sync", "ingest"}
    expected |= {"cases", "quarantine", "materials", "pki", "verify", "licenses", "ledger"}
    expected |= {"quality", "report"}
    assert expected <= names


@pytest.mark.parametrize("command", _leaf_commands(), ids=" ".join)
def test_every_command_has_help_with_an_example(command):
    result = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert re.search(r"Examples?:", result.output), f"{' '.join(command)} --help has no example"


def test_the_calendar_file_example_in_operations_md_is_accepted(tmp_path: Path) -> None:
    """The documented way to add a year must load: a copied example that the placeholder
    rule refuses stops every calendar-dependent command."""
    from standards.workdays import load_override_file

    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    example = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "years:" in b)
    path = tmp_path / "calendar.yaml"
    path.write_text(example, encoding="utf-8")
    schedule = load_override_file(path)[2027]
    assert schedule.source.startswith("国办发明电")
