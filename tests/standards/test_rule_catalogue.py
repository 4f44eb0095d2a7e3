"""Every rule the code can raise has a Chinese title and a source in the catalogue.

Quarantine listings and auditors' reports print a rule's title from
:data:`standards.validation.rules.RULES`; a rule missing there is shown as its bare id.
"""

from __future__ import annotations

import re
from pathlib import Path

from standards.validation.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
_FINDING = re.compile(r'Finding\(\s*"([a-z0-9_]+(?:\.[a-z0-9_]+)+)"')


def test_every_rule_a_finding_names_is_in_the_catalogue():
    raised: dict[str, str] = {}
    for package in ("standards", "tongyuan", "adapters"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for match in _FINDING.finditer(path.read_text(encoding="utf-8")):
                raised.setdefault(match.group(1), str(path.relative_to(ROOT)))
    assert "item.basic_code.other_province" in raised  # the scan finds the rules
    missing = {rule: where for rule, where in raised.items() if rule not in RULES}
    assert missing == {}
