"""docs/auditors.md stays true to the quality suites and the report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tongyuan.report.rule_table import BEGIN, END, quality_rules, rule_table_markdown
from tongyuan.report.themes import KNOWN_THEMES

DOC = Path(__file__).resolve().parents[2] / "docs" / "auditors.md"


def test_rule_table_is_generated_from_the_current_suites():
    doc = DOC.read_text(encoding="utf-8")
    section = doc[doc.index(BEGIN) : doc.index(END) + len(END)]
    assert section == rule_table_markdown(), (
        "docs/auditors.md is stale: run `python -m tongyuan.report.rule_table`"
    )


def test_every_quality_rule_is_listed_with_its_regulation():
    doc = DOC.read_text(encoding="utf-8")
    rules = quality_rules()
    assert {r.suite for r in rules} == {
        "completeness",
        "consistency",
        "rules",
        "timeliness",
        "integrity",
    }
    for rule in rules:
        line = next((ln for ln in doc.splitlines() if f"`{rule.rule}`" in ln), None)
        assert line is not None, f"docs/auditors.md lacks {rule.rule}"
        assert rule.source in line and rule.title in line


def test_listing_the_rules_does_not_import_great_expectations():
    code = (
        "import sys; from tongyuan.report.rule_table import quality_rules; "
        "assert quality_rules(); assert 'great_expectations' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_guide_explains_every_theme_and_the_offline_ledger_check():
    doc = DOC.read_text(encoding="utf-8")
    for theme in KNOWN_THEMES:
        assert theme.label in doc, theme.key
    assert "tongyuan ledger verify" in doc and "tongyuan report" in doc
    for figure in ("通过率", "检查数", "不通过数", "签名有效率", "4403**********1234"):
        assert figure in doc
