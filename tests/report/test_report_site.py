"""The report site: figures equal the stored results, pages link only inside the site."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from lxml import html
from report_rows import AUTHORITY, CLEAR_ID, RUNS, add_rule, add_run, page_urls, seed_history
from sqlalchemy import update

from tongyuan.libraries.quality import QualityRun
from tongyuan.report import build_report


def _doc(path: Path) -> html.HtmlElement:
    return html.fromstring(path.read_text(encoding="utf-8"))


def _rule_row(doc: html.HtmlElement, expectation: str) -> html.HtmlElement:
    rows = doc.xpath(f'//table[@id="table-rules"]//tr[@data-expectation="{expectation}"]')
    assert len(rows) == 1, expectation
    return rows[0]


def _field(row: html.HtmlElement, name: str) -> int:
    return int(row.xpath(f'.//*[@data-field="{name}"]')[0].text_content())


def test_rule_table_and_drill_down_show_the_stored_counts(hub):
    seed_history(hub.engine)
    result = build_report(hub.settings)
    doc = _doc(result.index)
    # Latest run (run-c): 3 failures per district, 4 overdue in Futian, 1 bad signature.
    expected = {
        "item.required_elements": (200, 6),
        "case.overdue": (100, 4),
        "license.signature_valid": (30, 1),
        "item.base_elements_equal": (100, 0),
    }
    for expectation, (evaluated, failed) in expected.items():
        row = _rule_row(doc, expectation)
        assert (_field(row, "evaluated"), _field(row, "failed")) == (evaluated, failed)
    assert not _rule_row(doc, "item.base_elements_equal").xpath(".//a")  # nothing to drill into
    link = _rule_row(doc, "case.overdue").xpath(".//a/@href")[0]
    page = _doc(result.index.parent / link)
    assert _field(page, "failed") == 4
    keys = page.xpath('//table[@id="table-failures"]/tbody/tr/td[2]')
    assert len(keys) == 4
    shown = [k.text_content() for k in keys]
    assert "SYS-1|1101**********002X" in shown and CLEAR_ID not in "".join(shown)


def test_scorecards_pool_group_rows_by_region_level_and_department(hub):
    seed_history(hub.engine)
    doc = _doc(build_report(hub.settings).index)
    cards = {c.get("data-theme"): c for c in doc.xpath('//div[@class="card"]')}
    assert set(cards) == {"completeness", "consistency", "timeliness", "signature"}
    assert cards["completeness"].xpath('.//div[@class="rate"]')[0].text == "97.0%"  # 194/200
    assert cards["signature"].xpath('.//div[@class="rate"]')[0].text == "96.7%"  # 29/30
    headers = [th.text_content() for th in doc.xpath('//table[@id="table-region_code"]//th')]
    timeliness = headers.index("及时性")
    futian = doc.xpath('//table[@id="table-region_code"]//tr[@data-code="440304"]')[0]
    assert futian.xpath("./td")[timeliness].text_content() == "92.0%"  # 46/50
    assert "福田区" in futian.text_content()
    dept = doc.xpath(f'//table[@id="table-department"]//tr[@data-code="{AUTHORITY}"]')
    assert dept and AUTHORITY in dept[0].text_content()


def test_trend_chart_has_one_point_per_scored_run(hub):
    seed_history(hub.engine)
    add_run(hub.engine, "run-broken", day=9, status="error")
    add_rule(
        hub.engine,
        "run-broken",
        "completeness",
        "item.required_elements",
        [("440304", "4", None, 99, [])],
    )
    add_run(hub.engine, "run-open", day=10, status="running", finished=False)
    doc = _doc(build_report(hub.settings).index)
    charts = doc.xpath('//svg[@class="trend"]')
    assert {c.get("data-theme") for c in charts} == {
        "completeness",
        "consistency",
        "timeliness",
        "signature",
    }
    for chart in charts:
        points = chart.xpath('.//circle[@class="point"]')
        assert len(points) == len(RUNS) == int(chart.get("data-points"))
    rates = [p.get("data-rate") for p in doc.xpath('//svg[@data-theme="completeness"]//circle')]
    assert rates == ["99.0%", "98.0%", "97.0%"]
    runs = doc.xpath('//table[@id="table-runs"]/tbody/tr')
    assert len(runs) == 5  # unscored runs are listed, not scored
    assert "运行中" in runs[0].text_content() and "运行出错" in runs[1].text_content()
    assert _field(_rule_row(doc, "item.required_elements"), "failed") == 6


def test_a_single_suite_run_keeps_the_other_suites_latest_results(hub):
    seed_history(hub.engine)
    add_run(hub.engine, "run-d", day=5, suite="timeliness")
    add_rule(
        hub.engine, "run-d", "timeliness", "case.overdue", [("440304", "3", None, 7, ["CASE-X"])]
    )
    doc = _doc(build_report(hub.settings).index)
    assert _field(_rule_row(doc, "case.overdue"), "failed") == 7
    assert _field(_rule_row(doc, "item.required_elements"), "failed") == 6


def test_a_run_limited_to_one_region_is_shown_apart_not_in_the_headline(hub):
    seed_history(hub.engine)
    add_run(hub.engine, "run-scoped", day=5, suite="timeliness", scope="440305")
    add_rule(hub.engine, "run-scoped", "timeliness", "case.overdue", [("440305", "3", None, 9, [])])
    doc = _doc(build_report(hub.settings).index)
    # The headline keeps the latest whole-topology run (run-c: 4 of 100 overdue)…
    assert _field(_rule_row(doc, "case.overdue"), "failed") == 4
    cards = {c.get("data-theme"): c for c in doc.xpath('//div[@class="card"]')}
    assert cards["timeliness"].xpath('.//div[@class="rate"]')[0].text == "96.0%"
    nanshan = doc.xpath('//table[@id="table-region_code"]//tr[@data-code="440305"]')[0]
    headers = [th.text_content() for th in doc.xpath('//table[@id="table-region_code"]//th')]
    assert nanshan.xpath("./td")[headers.index("及时性")].text_content() == "100.0%"
    points = doc.xpath('//svg[@data-theme="timeliness"]//circle[@class="point"]')
    assert len(points) == len(RUNS)
    assert "范围：全部" in doc.xpath('//p[@class="meta"]')[0].text_content()
    # …and the scoped run is listed apart, labelled with its scope (9 of 100 overdue).
    [row] = doc.xpath('//table[@id="table-scoped"]/tbody/tr')
    assert (row.get("data-scope"), row.get("data-suite")) == ("440305", "timeliness")
    assert "南山区（440305）" in row.text_content()
    assert row.xpath('./td[@data-theme="timeliness"]')[0].text_content() == "91.0%"


def test_a_backdated_run_is_listed_and_drilled_into_never_the_headline(hub):
    """QA: `quality run --suite timeliness --as-of 2026-03-31`, run after today's full run,
    replaced the headline 及时性 (98.3 % became March's 99.3 %), kept today's time in the
    header and plotted March as today's point; no page said which day was judged."""
    seed_history(hub.engine)
    # run-c judged the day it ran (as stored since 0014); run-b stored none (before it).
    with hub.engine.begin() as conn:
        conn.execute(
            update(QualityRun).where(QualityRun.id == "run-c").values(as_of=date(2026, 11, 22))
        )
    add_run(hub.engine, "run-march", day=5, suite="timeliness", as_of=date(2026, 3, 31))
    add_rule(
        hub.engine, "run-march", "timeliness", "case.overdue", [("440304", "3", None, 9, ["OLD-1"])]
    )
    result = build_report(hub.settings)
    doc = _doc(result.index)
    # The headline keeps run-c: 4 of 100 overdue, dated by run-c, three trend points.
    assert _field(_rule_row(doc, "case.overdue"), "failed") == 4
    cards = {c.get("data-theme"): c for c in doc.xpath('//div[@class="card"]')}
    assert cards["timeliness"].xpath('.//div[@class="rate"]')[0].text == "96.0%"
    meta = doc.xpath('//p[@class="meta"]')[0].text_content()
    assert "2026-11-22 09:00" in meta and "基准日：2026-11-22" in meta
    points = doc.xpath('//svg[@data-theme="timeliness"]//circle[@class="point"]')
    assert len(points) == len(RUNS)
    # The backdated run is listed apart with its 基准日, and can be drilled into.
    [row] = doc.xpath('//table[@id="table-backdated"]/tbody/tr')
    assert (row.get("data-as-of"), row.get("data-expectation")) == ("2026-03-31", "case.overdue")
    assert _field(row, "failed") == 9
    page = _doc(result.index.parent / row.xpath(".//a/@href")[0])
    assert _field(page, "failed") == 9 and "OLD-1" in page.text_content()
    assert page.xpath('//*[@data-field="judged-on"]')[0].text_content() == "2026-03-31"
    # The headline's own drill-down of the rule is still run-c's.
    headline = _doc(result.index.parent / _rule_row(doc, "case.overdue").xpath(".//a/@href")[0])
    assert _field(headline, "failed") == 4
    # The run log gives every run's 基准日: stored, or the Beijing day it started.
    log = {
        r.get("data-run"): r.xpath('./td[@data-field="judged-on"]')[0].text_content()
        for r in doc.xpath('//table[@id="table-runs"]/tbody/tr')
    }
    assert log == {
        "run-march": "2026-03-31（回溯）",
        "run-c": "2026-11-22",
        "run-b": "2026-11-21",
        "run-a": "2026-11-20",
    }


def test_the_daily_run_at_six_in_beijing_judges_its_own_day(hub):
    """The quality DAG runs at 06:00 Beijing, 22:00 UTC the day before: judged as of the
    Beijing day, it is the headline, not a backdated run (a UTC comparison would say so)."""
    seed_history(hub.engine)
    # 2026-11-22 22:00 UTC = 2026-11-23 06:00 in Beijing, as_of the Beijing day.
    add_run(hub.engine, "run-dawn", day=2 + 21 / 24, suite="timeliness", as_of=date(2026, 11, 23))
    add_rule(hub.engine, "run-dawn", "timeliness", "case.overdue", [("440304", "3", None, 7, [])])
    doc = _doc(build_report(hub.settings).index)
    assert _field(_rule_row(doc, "case.overdue"), "failed") == 7
    assert not doc.xpath('//table[@id="table-backdated"]/tbody/tr')


def test_a_backfill_shows_only_the_newest_backdated_days_in_full(hub):
    """A backfill (--as-of each day of a quarter) brought every run, with its rows and
    failing keys, into every report for good; the run log still lists them all."""
    from tongyuan.report.data import BACKDATED_DAYS_SHOWN

    seed_history(hub.engine)
    days = BACKDATED_DAYS_SHOWN + 3
    for n in range(days):
        run_id = f"run-back-{n:02d}"
        add_run(hub.engine, run_id, day=3 + n / 100, suite="timeliness", as_of=date(2026, 3, n + 1))
        add_rule(hub.engine, run_id, "timeliness", "case.overdue", [("440304", "3", None, 1, [])])
    doc = _doc(build_report(hub.settings).index)
    listed = {r.get("data-as-of") for r in doc.xpath('//table[@id="table-backdated"]/tbody/tr')}
    newest = {date(2026, 3, n + 1).isoformat() for n in range(days - BACKDATED_DAYS_SHOWN, days)}
    assert listed == newest
    logged = doc.xpath('//table[@id="table-runs"]/tbody/tr')
    assert sum(1 for r in logged if r.get("data-run").startswith("run-back-")) == days


def test_only_scoped_runs_give_no_headline_but_their_own_table(hub):
    add_run(hub.engine, "run-scoped", suite="timeliness", scope="440305")
    add_rule(hub.engine, "run-scoped", "timeliness", "case.overdue", [("440305", "3", None, 9, [])])
    doc = _doc(build_report(hub.settings).index)
    assert not doc.xpath('//section[@id="scorecard"]')
    assert "尚无全范围质量检查结果" in doc.xpath('//p[@id="no-runs"]')[0].text_content()
    assert len(doc.xpath('//table[@id="table-scoped"]/tbody/tr')) == 1


def test_pages_link_only_inside_the_site(hub):
    seed_history(hub.engine)
    result = build_report(hub.settings)
    site = hub.settings.reports_dir
    pages = sorted(site.rglob("*.html"))
    assert len(pages) == 1 + 3  # index + one drill-down per failing rule
    for page in pages:
        for url in page_urls(page):
            assert "://" not in url and not url.startswith("//"), (page.name, url)
            target = (page.parent / url.split("#")[0]).resolve()
            assert target.exists(), (page.name, url)
    css = (site / "assets" / "report.css").read_text(encoding="utf-8")
    assert "@media print" in css and "url(" not in css and "@import" not in css
    assert result.exports.results_csv.exists()


def test_data_docs_note_when_absent_and_link_when_written(hub):
    seed_history(hub.engine)
    doc = _doc(build_report(hub.settings).index)
    assert doc.xpath('//*[@id="data-docs-missing"]') and not doc.xpath('//*[@id="data-docs"]')
    gx = hub.settings.reports_dir / "gx" / "local_site"
    gx.mkdir(parents=True)
    (gx / "index.html").write_text("<html></html>", encoding="utf-8")
    doc = _doc(build_report(hub.settings).index)
    assert doc.xpath('//a[@id="data-docs"]/@href') == ["gx/local_site/index.html"]


def test_empty_history_gives_a_page_that_says_so(hub):
    result = build_report(hub.settings)
    doc = _doc(result.index)
    assert doc.xpath('//*[@id="no-runs"]') and not doc.xpath('//table[@id="table-rules"]')
    assert result.pdf.read_bytes().startswith(b"%PDF")


def test_stale_drill_down_pages_are_removed(hub):
    seed_history(hub.engine)
    build_report(hub.settings)
    stale = hub.settings.reports_dir / "failures" / "timeliness--case.overdue--case.html"
    assert stale.exists()
    add_run(hub.engine, "run-d", day=5, suite="timeliness", status="passed")
    add_rule(hub.engine, "run-d", "timeliness", "case.overdue", [("440304", "3", None, 0, [])])
    build_report(hub.settings)
    assert not stale.exists()


def test_pdf_uses_the_builtin_cid_font_and_embeds_no_font_file(hub):
    seed_history(hub.engine)
    data = build_report(hub.settings).pdf.read_bytes()
    assert data.startswith(b"%PDF") and b"STSong-Light" in data
    assert b"/FontFile" not in data


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_rendering_does_not_import_great_expectations(hub):
    seed_history(hub.engine)
    code = (
        "import sys; from tongyuan.config import load_settings; "
        "from tongyuan.report import build_report; "
        "build_report(load_settings()); "
        "assert 'great_expectations' not in sys.modules, 'GX imported'"
    )
    env = {
        "TONGYUAN_HOME": str(hub.settings.home),
        "TONGYUAN_DATABASE_URL": hub.settings.database_url,
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_stored_text_is_escaped_not_executed(hub):
    add_run(hub.engine, "run-x")
    add_rule(
        hub.engine,
        "run-x",
        "rules",
        "case.events.order",
        [("440304", "3", '"><img src=x onerror=alert(1)>', 1, ["<script>alert(1)</script>"])],
        title="<b>标题</b>",
    )
    result = build_report(hub.settings)
    for page in result.pages:
        doc = _doc(page)
        assert [s.get("src") for s in doc.xpath("//script")] == [
            ("../" if page.parent.name == "failures" else "") + "assets/report.js"
        ]
        assert not doc.xpath("//img") and not doc.xpath("//b")
    text = result.pages[1].read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_long_drill_downs_are_cut_with_a_link_to_the_full_export(hub, monkeypatch):
    from tongyuan.report import render

    monkeypatch.setattr(render, "PAGE_ROWS", 2)
    seed_history(hub.engine)
    result = build_report(hub.settings)
    page = hub.settings.reports_dir / "failures" / "timeliness--case.overdue--case.html"
    doc = _doc(page)
    assert len(doc.xpath('//table[@id="table-failures"]/tbody/tr')) == 2
    href = doc.xpath('//*[@id="page-truncated"]//a/@href')[0]
    assert (page.parent / href).resolve() == result.exports.failing_csv.resolve()
    assert len(result.exports.failing_csv.read_text("utf-8-sig").splitlines()) == 1 + 6 + 4 + 1


def _pdf_text(data: bytes) -> str:
    """The text drawn in the PDF: content streams inflated, the UCS-2 NULs of the CID
    font dropped (as the PII scan reads it), so "99.9%" appears as written."""
    import re
    import zlib

    parts = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        raw = match.group(1).strip()
        try:
            if raw.endswith(b"~>"):
                import base64

                raw = base64.a85decode(raw[:-2])
            parts.append(zlib.decompress(raw))
        except (ValueError, zlib.error):
            parts.append(raw)
    return re.sub(rb"\\000|\x00", b"", b"\n".join(parts)).decode("latin-1")


def test_one_failure_in_many_is_never_shown_as_100_percent_nor_green(hub):
    """One tampered row in 21,933 ledger records: 99.9 %, red, in the page and the PDF."""
    add_run(hub.engine, "run-t")
    add_rule(
        hub.engine,
        "run-t",
        "integrity",
        "ledger.chain",
        [(None, None, None, 1, ["licenses|1"])],
        evaluated_per_group=21_933,
        kind="ledger",
    )
    result = build_report(hub.settings)
    doc = _doc(result.index)
    card = doc.xpath('//div[@class="card"][@data-theme="integrity"]//div[@class="rate"]')[0]
    assert card.text == "99.9%"
    cell = _rule_row(doc, "ledger.chain").xpath("./td")[7]
    assert cell.text_content() == "99.9%" and cell.get("class").split() == ["num", "bad"]
    text = _pdf_text(result.pdf.read_bytes())
    assert "99.9%" in text and "100.0%" not in text


@pytest.mark.parametrize(
    ("evaluated", "failed", "shown"),
    [(21_933, 1, "99.9%"), (2000, 1, "99.9%"), (200, 1, "99.5%"), (30, 1, "96.7%"),
     (100, 0, "100.0%"), (21_933, 21_932, "0.1%"), (100, 100, "0.0%"), (0, 0, "—")],
)  # fmt: skip
def test_rates_never_round_to_all_or_none(evaluated, failed, shown):
    from tongyuan.report.themes import format_rate, pooled_rate

    assert format_rate(pooled_rate(evaluated, failed)) == shown


def test_integrity_and_signature_cells_are_red_on_any_failure():
    from tongyuan.report.render import _grade

    assert _grade(0.995, "integrity") == _grade(0.995, "signature") == "bad"
    assert _grade(0.995, "completeness") == "good"
    assert _grade(1.0, "integrity") == "good" and _grade(None, "integrity") == "na"
