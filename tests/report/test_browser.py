"""The report in headless Chromium: pages load cleanly, drill-down and charts work.

Chromium comes from the system (/usr/bin/chromium), driven by Playwright; nothing is
downloaded. In CI a missing browser fails the run; locally it skips.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from report_rows import RUNS, seed_history

from tongyuan.report import build_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if _in_ci():
            pytest.fail(f"{CHROMIUM} is required in CI for the browser tests")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(hub) -> Iterator[tuple[str, Path]]:
    """The report built from the known history, served over HTTP on 127.0.0.1.

    The server's root is the hub home, so the report's relative links to ../exports
    resolve as they do on disk.
    """
    seed_history(hub.engine)
    build_report(hub.settings)
    handler = functools.partial(_QuietHandler, directory=str(hub.settings.home))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/reports/", hub.settings.reports_dir
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # A favicon still loading when the next page is opened is aborted, not broken.
    page.on(
        "requestfailed",
        lambda r: (
            None if r.failure == "net::ERR_ABORTED" else problems.append(f"{r.url}: {r.failure}")
        ),
    )
    page.on(
        "response", lambda r: problems.append(f"{r.url}: {r.status}") if r.status >= 400 else None
    )
    page.on(
        "request",
        lambda r: None if r.url.startswith("http://127.0.0.1") else problems.append(r.url),
    )
    return problems


def test_every_page_loads_without_console_errors(browser, site):
    base, reports = site
    pages = sorted(p.relative_to(reports).as_posix() for p in reports.rglob("*.html"))
    assert len(pages) == 4
    page = browser.new_page()
    problems = _watch(page)
    for name in pages:
        response = page.goto(base + name)
        assert response is not None and response.ok, name
        page.wait_for_load_state("load")
    assert problems == []


def test_trend_charts_render_one_point_per_run(browser, site, tmp_path):
    base, _ = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = _watch(page)
    page.goto(base + "index.html")
    charts = page.locator("svg.trend")
    assert charts.count() == 4
    for i in range(charts.count()):
        chart = charts.nth(i)
        assert chart.is_visible()
        assert chart.locator("circle.point").count() == len(RUNS)
        assert chart.locator("polyline.line").count() == 1
        box = chart.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 30
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert problems == []


def test_drill_down_click_filter_and_sort(browser, site):
    base, _ = site
    page = browser.new_page()
    problems = _watch(page)
    page.goto(base + "index.html")
    rules = page.locator("#table-rules tbody tr")
    assert rules.count() == 4
    page.check('input[data-failing-only="table-rules"]')
    assert page.locator("#table-rules tbody tr:visible").count() == 3
    page.fill('input[data-filter="table-rules"]', "case.overdue")
    assert page.locator("#table-rules tbody tr:visible").count() == 1

    page.click('#table-rules tr[data-expectation="case.overdue"] a.drill')
    page.wait_for_load_state("load")
    assert page.url.endswith("failures/timeliness--case.overdue--case.html")
    rows = page.locator("#table-failures tbody tr")
    assert rows.count() == 4
    assert "1101**********002X" in page.locator("#table-failures").inner_text()
    page.fill('input[data-filter="table-failures"]', "CASE-3")
    assert page.locator("#table-failures tbody tr:visible").count() == 1
    assert "显示 1 / 4 行" in page.locator('[data-count-for="table-failures"]').inner_text()
    page.fill('input[data-filter="table-failures"]', "")
    assert page.locator("#table-failures tbody tr:visible").count() == 4

    page.click("#table-failures th:nth-child(2)")
    first = page.locator("#table-failures tbody tr").first.locator("td").nth(1).inner_text()
    page.click("#table-failures th:nth-child(2)")
    last_first = page.locator("#table-failures tbody tr").first.locator("td").nth(1).inner_text()
    keys = sorted(page.locator("#table-failures tbody tr td:nth-child(2)").all_inner_texts())
    assert first != last_first and {first, last_first} <= set(keys)
    assert problems == []


def test_region_filter_on_the_completeness_drill_down(browser, site):
    base, _ = site
    page = browser.new_page()
    problems = _watch(page)
    page.goto(base + "failures/completeness--item.required_elements--item.html")
    assert page.locator("#table-failures tbody tr").count() == 6
    page.select_option('select[data-filter-column="table-failures"]', label="福田区（440304）")
    assert page.locator("#table-failures tbody tr:visible").count() == 3
    assert problems == []


def test_a_right_to_left_department_name_keeps_its_code_beside_it(browser, hub):
    """Right-to-left letters in a department's name (from its data) would carry the
    code after it to the left of the name: the name is isolated (<bdi>), so the code
    stays on its right, and a direction control in it is shown, not obeyed."""
    from test_report_evidence import ISSUER, _add_licenses, _rule_by_department

    _add_licenses(hub.engine, ISSUER, ["\u202e局 שלום"])
    _rule_by_department(hub, [ISSUER], ["K-1"])
    result = build_report(hub.settings)
    page = browser.new_page()
    page.goto(result.index.resolve().as_uri())
    cell = page.locator(f'#table-department tr[data-code="{ISSUER}"] td').first
    assert cell.inner_text() == f"〈U+202E〉局 שלום（{ISSUER}）"
    name_right, code_left = cell.evaluate(
        """(td, words) => {
            const box = (word) => {
                const walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
                for (let node = walk.nextNode(); node; node = walk.nextNode()) {
                    const at = node.data.indexOf(word);
                    if (at >= 0) {
                        const range = document.createRange();
                        range.setStart(node, at);
                        range.setEnd(node, at + word.length);
                        return range.getBoundingClientRect();
                    }
                }
            };
            return [box(words[0]).right, box(words[1]).left];
        }""",
        ["שלום", ISSUER],
    )
    assert code_left >= name_right - 0.5
