"""The report's splits by region, level and department add up to the overall scorecard,
for the integrity theme too, whose material-file and ledger checks belong to no region."""

from __future__ import annotations

import re

from ingest_world import DEPT, World
from lxml import html
from std_factories import make_case

from tongyuan.ingest import ingest_department
from tongyuan.quality import run_quality
from tongyuan.report import build_report


def test_integrity_splits_add_up_to_the_scorecard(world: World) -> None:
    world.deliver("cases_001.xml", [make_case(serial=None, dept_case_no="S-1")])
    assert ingest_department(world.settings, world.topology, DEPT).added == 1
    summary = run_quality(world.settings, suites=["integrity"])
    ledger = {(r.rule, r.kind): r.evaluated for r in summary.rules}
    assert ledger[("ledger.chain", "ledger")] > 0
    doc = html.fromstring(build_report(world.settings).index.read_text(encoding="utf-8"))
    card = doc.xpath('//div[@class="card"][@data-theme="integrity"]')[0]
    overall = tuple(
        int(card.xpath(f'.//*[@data-field="{name}"]')[0].text) for name in ("evaluated", "failed")
    )
    for dim in ("region_code", "level", "department"):
        tables = doc.xpath(f'//table[@id="table-{dim}"]')
        assert tables, f"no {dim} split although integrity records were checked"
        table = tables[0]
        heads = [th.text_content() for th in table.xpath(".//th")]
        column = heads.index("真实性与完整性")
        evaluated = failed = 0
        for row in table.xpath(".//tbody/tr"):
            title = row.xpath("./td")[column].get("title") or ""
            if match := re.fullmatch(r"检查 (\d+)，不通过 (\d+)", title):
                evaluated += int(match.group(1))
                failed += int(match.group(2))
        assert (evaluated, failed) == overall, dim
