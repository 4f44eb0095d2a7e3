"""End to end on a library with known defects: no personal ID in clear, exact counts.

The world is helper quality's (tests/quality/world.py): a clean generated dataset loaded
by the Loader, then documented defects planted in the libraries, counted per (rule,
kind). One quality run through GX checks it, and the report is built from the stored
results. One test checks everything (the run takes a while, and xdist would build a
shared fixture once per worker):

* every 公民身份号码 in the generated files is absent, in clear, from the site (GX Data
  Docs included), the exports (the XLSX unzipped), the PDF's text and the logs;
* the report's rule table shows, for every planted (rule, kind), exactly the planted
  number of failures, and the drill-down names the planted records;
* every rule the run reported is in docs/auditors.md.
"""

from __future__ import annotations

import base64
import logging
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html
from report_rows import add_result

from standards.privacy import mask_text
from tongyuan.config import Settings
from tongyuan.db import make_engine, upgrade
from tongyuan.logs import configure_logging
from tongyuan.quality import RuleSummary
from tongyuan.report import build_report

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "quality"))
from world import World as QualityWorld  # noqa: E402
from world import (  # noqa: E402
    hub_today,
    load_clean,
    plant_all,
    verify_all_licenses,
    world_settings,
)

# Rules the generated data breaks by itself (late decisions, lapsed and revoked licenses):
# their totals include more than the planted records.
NATURAL = {("case.overdue", "case"), ("license.revoked", "license"), ("license.expired", "license")}
_ID_TYPE_TAGS = {"id_type": ("id_number",), "holder_id_type": ("holder_id", "holder_id_number")}
CITIZEN = "111"


@dataclass
class World:
    settings: Settings
    ids: set[str]
    log_text: str
    rules: list[RuleSummary]  # the quality run's totals
    planted: QualityWorld


def citizen_ids(drop: Path) -> set[str]:
    """Every citizen ID in the generated files: values next to an id type of 111."""
    found: set[str] = set()
    for path in drop.rglob("*.xml"):
        tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
        for type_tag, value_tags in _ID_TYPE_TAGS.items():
            for node in tree.iter(type_tag):
                if (node.text or "").strip() != CITIZEN:
                    continue
                for tag in value_tags:
                    value = node.getparent().findtext(tag)
                    if value and value.strip():
                        found.add(value.strip())
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    from tongyuan.quality import run_quality

    base = tmp_path_factory.mktemp("report-world")
    settings = world_settings(base / "home", f"sqlite:///{base / 'tongyuan.db'}")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    configure_logging(settings.logs_dir)
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    capture = Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        load_clean(settings, base / "data")  # the sizes the planted defects assume
        ids = citizen_ids(base / "data")
        assert len(ids) > 40
        verify_all_licenses(engine)
        planted = QualityWorld(settings, as_of=hub_today())
        plant_all(planted)
        summary = run_quality(settings, as_of=planted.as_of)
        # A careless check that stored clear IDs as failing keys: the report must still
        # mask them (defence in depth, independent of quality's own masking).
        leaked = sorted(ids)[:3]
        for grain, region in (("group", "440305"), ("total", None)):
            add_result(
                engine,
                summary.run_id,
                "rules",
                "citizen_id.check",
                evaluated=3,
                failed=3,
                grain=grain,
                region_code=region,
                failing_keys=[f"SYS|{leaked[0]}", leaked[1], f"申请人 {leaked[2]}"],
            )
        build_report(settings)
    finally:
        root.removeHandler(capture)
        engine.dispose()
    log_file = settings.logs_dir / "tongyuan.log"
    log_text = "\n".join(records) + (log_file.read_text("utf-8") if log_file.exists() else "")
    return World(settings, ids, log_text, summary.rules, planted)


def pdf_text(data: bytes) -> bytes:
    """The PDF's bytes plus every content stream decoded (ASCII85, Flate), with the NUL
    bytes of UCS-2 text (CID fonts) dropped, so digits of any drawn string appear as ASCII."""
    parts = [data]
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        raw = match.group(1).strip()
        try:
            if raw.endswith(b"~>"):
                raw = base64.a85decode(raw[:-2])
            parts.append(zlib.decompress(raw))
        except (ValueError, zlib.error):
            parts.append(raw)
    joined = b"\n".join(parts)
    return re.sub(rb"\\000|\x00", b"", joined)


def _clear_ids_in(data: bytes, ids: set[str]) -> set[str]:
    return {i for i in ids if i.encode("ascii") in data or i.lower().encode("ascii") in data}


def test_pdf_scanner_finds_an_id_drawn_in_the_cid_font(tmp_path):
    """Positive control: the scan below would see an ID if the PDF carried one."""
    from reportlab.pdfgen import canvas

    from tongyuan.report.pdf import _font

    path = tmp_path / "control.pdf"
    page = canvas.Canvas(str(path))
    page.setFont(_font(), 10)
    page.drawString(20, 20, "号码 11010519491231002X")
    page.save()
    assert _clear_ids_in(pdf_text(path.read_bytes()), {"11010519491231002X"})


def test_report_on_a_loaded_library(world):
    """The whole chain: no clear ID anywhere, planted clear keys masked, the report's
    counts equal to the quality run's, and every reported rule in the auditors' guide."""
    check_no_clear_id_in_site_exports_pdf_or_logs(world)
    check_planted_clear_keys_are_shown_masked(world)
    check_report_counts_equal_the_quality_run(world)
    check_auditors_guide_names_every_rule_the_run_reported(world)
    check_departments_are_named(world)


def check_departments_are_named(world: World) -> None:
    """Quality stores authorities' USCCs; the report shows their names from the libraries."""
    doc = lxml_html.fromstring((world.settings.reports_dir / "index.html").read_text("utf-8"))
    labels = [td.text_content() for td in doc.xpath('//table[@id="table-department"]//tr/td[1]')]
    named = [label for label in labels if re.fullmatch(r"[^（]+（[0-9A-Z*]{18}）", label)]
    assert labels and len(named) >= len(labels) // 2, labels


def check_no_clear_id_in_site_exports_pdf_or_logs(world: World) -> None:
    home = world.settings.home
    files = [p for d in ("reports", "exports") for p in (home / d).rglob("*") if p.is_file()]
    assert any(p.suffix == ".xlsx" for p in files) and any(p.suffix == ".pdf" for p in files)
    assert any("gx" in p.parts for p in files)  # the Data Docs are part of the site
    leaks: dict[str, set[str]] = {}
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                data = b"\n".join(book.read(name) for name in book.namelist())
        elif path.suffix == ".pdf":
            data = pdf_text(data)
        found = _clear_ids_in(data, world.ids)
        if found:
            leaks[str(path.relative_to(home))] = found
    assert not leaks, {k: len(v) for k, v in leaks.items()}
    assert world.log_text and not _clear_ids_in(world.log_text.encode("utf-8"), world.ids)


def check_planted_clear_keys_are_shown_masked(world: World) -> None:
    page = world.settings.reports_dir / "failures" / "rules--citizen_id.check--case.html"
    doc = lxml_html.fromstring(page.read_text("utf-8"))
    keys = doc.xpath('//table[@id="table-failures"]/tbody/tr/td[2]')
    assert len(keys) == 3
    assert all(re.search(r"\d{4}\*{10}[\dX]{4}", k.text_content()) for k in keys)


def check_report_counts_equal_the_quality_run(world: World) -> None:
    doc = lxml_html.fromstring((world.settings.reports_dir / "index.html").read_text("utf-8"))
    assert world.rules
    for rule in world.rules:
        row = doc.xpath(
            f'//table[@id="table-rules"]//tr[@data-suite="{rule.suite}"]'
            f'[@data-expectation="{rule.rule}"][@data-kind="{rule.kind}"]'
        )
        assert len(row) == 1, rule.rule
        evaluated = int(row[0].xpath('.//*[@data-field="evaluated"]')[0].text_content())
        failed = int(row[0].xpath('.//*[@data-field="failed"]')[0].text_content())
        assert (evaluated, failed) == (rule.evaluated, rule.failed), rule.rule
    shown = _failed_by_rule_kind(doc)
    for (rule, kind), count in world.planted.planted.items():
        if (rule, kind) in NATURAL:
            assert shown[(rule, kind)] >= count, (rule, kind)
        else:
            assert shown.get((rule, kind), 0) == count, (rule, kind)
        if kind == "ledger":
            continue  # the ledger names altered rows by table and key, planted keys a batch
        keys = _drill_down_keys(world, rule, kind)
        expected = {mask_text(key) for key in world.planted.planted_keys[(rule, kind)]}
        if len(keys) >= shown[(rule, kind)]:  # the page lists every failing record
            assert expected <= keys, (rule, kind, expected - keys)


def _failed_by_rule_kind(doc: lxml_html.HtmlElement) -> dict[tuple[str, str], int]:
    shown: dict[tuple[str, str], int] = {}
    for row in doc.xpath('//table[@id="table-rules"]/tbody/tr'):
        key = (row.get("data-expectation"), row.get("data-kind"))
        failed = int(row.xpath('.//*[@data-field="failed"]')[0].text_content())
        shown[key] = shown.get(key, 0) + failed
    return shown


def _drill_down_keys(world: World, rule: str, kind: str) -> set[str]:
    pages = list((world.settings.reports_dir / "failures").glob(f"*--{rule}--{kind}.html"))
    assert len(pages) == 1, (rule, kind)
    doc = lxml_html.fromstring(pages[0].read_text("utf-8"))
    return {td.text_content() for td in doc.xpath('//table[@id="table-failures"]/tbody/tr/td[2]')}


def check_auditors_guide_names_every_rule_the_run_reported(world: World) -> None:
    doc = (ROOT / "docs" / "auditors.md").read_text("utf-8")
    missing = [r.rule for r in world.rules if f"`{r.rule}`" not in doc]
    assert not missing, f"docs/auditors.md lacks {missing}"
