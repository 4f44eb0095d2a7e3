"""What the report shows of data it does not control, and that it renders reproducibly:
direction controls made visible in every output, departments named by an authoritative
source, suites named in Chinese, and the same results giving the same PDF and workbook."""

from __future__ import annotations

import csv
import time
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from lxml import html
from report_rows import BASE_TIME, add_rule, add_run, seed_history
from sqlalchemy.orm import Session
from test_report_site import _pdf_text

from tongyuan.libraries.batches import open_batch
from tongyuan.libraries.items import ItemVersion
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.report import build_report
from tongyuan.report.data import department_names
from tongyuan.report.text import shown_text
from tongyuan.report.themes import suite_label

RLO, PDF_CHAR = "\u202e", "\u202c"
ISSUER = "914403001234567890"
FORGED = "abc" + RLO + "局理管督监场市" + PDF_CHAR  # reads 市场监督管理局cba
REAL = "深圳市市场监督管理局"
AUTHORITY = "11440300MB2C12345X"
BASIC = "000100137001"


def _add_licenses(engine, issuer: str, names: list[str]) -> None:
    with Session(engine) as session, session.begin():
        batch = open_batch(session, "load.licenses", "test")
        for i, name in enumerate(names):
            session.add(
                LicenseRow(
                    identifier=f"{issuer}-{i}-{name}", type_name="营业执照",
                    type_code="11100000000000001", number=str(i), name="营业执照",
                    version="001", issue_date=date(2026, 1, 1) + timedelta(days=i),
                    issuer_name=name, issuer_code=issuer, valid_from=date(2026, 1, 1),
                    valid_to=None, region_code="440300", holder_name="某公司",
                    holder_id_type="049", holder_id_enc="x", holder_id_hash="h" * 64,
                    holder_id_masked="9144**********1234", status="valid",
                    batch_id=batch.id, content_hash="c" * 64, data={},
                )
            )  # fmt: skip


def _add_item_versions(engine, authority: str, names: list[tuple[str, bool]]) -> None:
    """Versions of one item in the order given; ``current`` marks the one in force."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with Session(engine) as session, session.begin():
        batch = open_batch(session, "sync.items", "test")
        for i, (name, current) in enumerate(names):
            session.add(
                ItemVersion(
                    id=f"{i:032d}", impl_code=f"{authority}4{BASIC}", basic_code=BASIC,
                    version_no=i + 1, valid_from=start + timedelta(days=i),
                    valid_to=None if current else start + timedelta(days=i + 1),
                    content_hash="c" * 64, source="test", batch_id=batch.id,
                    data={"authority_name": name}, name="事项", item_type="01",
                    region_code="440300", exercise_level="3", status="published",
                    authority_uscc=authority, statutory_limit_days=20, promised_limit_days=10,
                )
            )  # fmt: skip


def _rule_by_department(hub, departments: list[str], keys: list[str]) -> None:
    add_run(hub.engine, "run-x")
    add_rule(
        hub.engine,
        "run-x",
        "consistency",
        "item.base_elements.inconsistent",
        [("440304", "4", code, 1, [key]) for code, key in zip(departments, keys, strict=True)],
        kind="finding",
        title="基本要素在各层级不一致（四级四同）",
    )


# --- direction controls -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (FORGED, "abc〈U+202E〉局理管督监场市〈U+202C〉"),
        (
            "a\u2066b\u2069\u200e\u200f\u061c",
            "a〈U+2066〉b〈U+2069〉〈U+200E〉〈U+200F〉〈U+061C〉",
        ),
        (
            "x\u202a\u202b\u202dy\u2067\u2068",
            "x〈U+202A〉〈U+202B〉〈U+202D〉y〈U+2067〉〈U+2068〉",
        ),
        ("NUL\x00esc\x1b", "NUL〈U+0000〉esc〈U+001B〉"),
        ("tab\tline\n", "tab\tline\n"),
        # An ID split by an invisible character is the ID a reader sees: masked.
        ("1101\u200b0519491231002X", "1101〈U+200B〉**********002X"),
        ("号码" + RLO + "11010519491231002X", "号码〈U+202E〉1101**********002X"),
        # Heads of IDs cut off by an ellipsis (keys stored before the cut moved after
        # masking); long codes cut the same way stay as they are.
        (
            "440000=联联11010519491231002… ≠ 440305=依据",
            "440000=联联1101*************… ≠ 440305=依据",
        ),
        ("440000=1101051949123…", "440000=1101*********…"),
        # 8 digits before a cut are as often a public code's (延庆 110119, 奉贤 310120)
        ("440000=11010519…", "440000=11010519…"),
        # invisible operators, variation selectors, tags, Hangul fillers: hidden too
        ("号 11010519\u2062491231002X 号", "号 1101****〈U+2062〉******002X 号"),
        (
            "a\u034f\U000e0041\u3164\u00ad\ufeff\u2060b",
            "a〈U+034F〉〈U+E0041〉〈U+3164〉〈U+00AD〉〈U+FEFF〉〈U+2060〉b",
        ),
        ("x\x85\x7f\x0cy", "x〈U+0085〉〈U+007F〉〈U+000C〉y"),
        # Characters people write are shown as written (emoji, a rare character's
        # ideographic variation selector, Mongolian, Arabic/Syriac marks that are drawn)
        ("❤️ 张\U000e0100三 ᠮᠣᠩ\u180bᠭᠣᠯ", "❤️ 张\U000e0100三 ᠮᠣᠩ\u180bᠭᠣᠯ"),
        (
            "ᠮᠣᠩ\u180e\u180c\u180d\u180f ٣\u0600\u0605\u06dd\u070f\u08e2\U000110bd",
            "ᠮᠣᠩ\u180e\u180c\u180d\u180f ٣\u0600\u0605\u06dd\u070f\u08e2\U000110bd",
        ),
        # ... but an ID split by one is still masked
        ("1101\ufe0f0519491231002X", "1101\ufe0f**********002X"),
        ("号 11010519\u180e491231002X", "号 1101****\u180e******002X"),
        ("1144030000405780063000100137005…", "1144030000405780063000100137005…"),
        ("运行 2026…", "运行 2026…"),
    ],
)
def test_hidden_characters_are_shown_and_ids_across_them_masked(value, shown):
    assert shown_text(value) == shown


def test_direction_controls_are_visible_in_every_output(hub):
    _add_licenses(hub.engine, ISSUER, [FORGED])
    key = f"1144 name：440000={RLO}可许营经品食{PDF_CHAR} ≠ 440304=食品经营许可"
    _rule_by_department(hub, [ISSUER], [key])
    result = build_report(hub.settings)
    controls = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
    texts = {path: path.read_text("utf-8") for path in [*result.pages, *result.exports.all()[:2]]}
    with zipfile.ZipFile(result.exports.xlsx) as book:
        texts[result.exports.xlsx] = "".join(
            book.read(name).decode("utf-8") for name in book.namelist()
        )
    for path, text in texts.items():
        assert not any(c in text for c in controls), path
    page = html.fromstring(texts[result.pages[1]])
    [row] = page.xpath('//table[@id="table-failures"]/tbody/tr')
    assert row.xpath("td[2]")[0].text_content() == (
        "1144 name：440000=〈U+202E〉可许营经品食〈U+202C〉 ≠ 440304=食品经营许可"
    )
    # The department's name is isolated from its code; every cell is isolated.
    [name] = row.xpath("td[5]/bdi")
    assert name.text_content() == "abc〈U+202E〉局理管督监场市〈U+202C〉"
    assert row.xpath("td[5]")[0].text_content().endswith(f"（{ISSUER}）")
    css = (result.index.parent / "assets" / "report.css").read_text("utf-8")
    assert "td, th, dd, code, bdi" in css and "unicode-bidi: isolate" in css
    failing = list(csv.reader(texts[result.exports.failing_csv].lstrip("\ufeff").splitlines()))
    assert failing[1][3].startswith("1144 name：440000=〈U+202E〉")
    assert "〈U+202E〉可许营经品食" in texts[result.exports.xlsx]
    # The PDF draws the department breakdown with the name as shown.
    assert "U+202E" in _pdf_text(result.pdf.read_bytes())


# --- department names --------------------------------------------------------------


def test_a_forged_issuer_name_on_one_license_does_not_rename_the_department(hub):
    _add_licenses(hub.engine, ISSUER, [REAL, REAL, "ABC 伪造"])
    assert department_names(hub.engine, [ISSUER]) == {ISSUER: REAL}


def test_a_tie_between_license_names_goes_to_the_latest_issued(hub):
    _add_licenses(hub.engine, ISSUER, ["AAA 旧名", REAL])  # the second is issued later
    assert department_names(hub.engine, [ISSUER]) == {ISSUER: REAL}


def test_items_in_force_name_an_authority_not_its_oldest_version(hub):
    _add_item_versions(hub.engine, AUTHORITY, [("旧名称局", False), ("深圳市新名称局", True)])
    assert department_names(hub.engine, [AUTHORITY]) == {AUTHORITY: "深圳市新名称局"}


def test_the_topology_then_items_then_licenses_name_a_department(hub):
    _add_item_versions(hub.engine, AUTHORITY, [("深圳市某局（事项）", True)])
    _add_licenses(hub.engine, AUTHORITY, ["深圳市某局（证照）"])
    _add_licenses(hub.engine, ISSUER, [REAL])
    codes = [AUTHORITY, ISSUER, "914403000000000000"]
    assert department_names(hub.engine, codes) == {
        AUTHORITY: "深圳市某局（事项）",
        ISSUER: REAL,
    }
    declared = {AUTHORITY: "深圳市某局（拓扑）"}
    assert department_names(hub.engine, codes, known=declared)[AUTHORITY] == "深圳市某局（拓扑）"


def test_the_report_names_departments_as_the_topology_declares(hub):
    from tongyuan.topology import example_path, load_topology

    topology = load_topology(example_path(), home=hub.settings.home)
    department = topology.departments[0]
    _add_licenses(hub.engine, department.code, ["ABC 伪造"])
    _rule_by_department(hub, [department.code], ["K-1"])
    result = build_report(hub.settings, topology=topology)
    doc = html.fromstring(result.index.read_text("utf-8"))
    [cell] = doc.xpath(f'//table[@id="table-department"]//tr[@data-code="{department.code}"]/td[1]')
    assert cell.text_content() == f"{department.name}（{department.code}）"


# --- suites in Chinese -------------------------------------------------------------


def test_suites_are_named_in_chinese_where_auditors_read_them(hub):
    seed_history(hub.engine)
    add_run(hub.engine, "run-s", day=3, suite="timeliness", scope="440305")
    add_rule(hub.engine, "run-s", "timeliness", "case.overdue", [("440305", "3", None, 1, ["C"])])
    result = build_report(hub.settings)
    doc = html.fromstring(result.index.read_text("utf-8"))
    runs = doc.xpath('//*[@id="table-runs"]//tbody/tr')
    log = [row.xpath("td[3]")[0].text_content() for row in runs]
    assert log == ["及时性", "全部规则套件", "全部规则套件", "全部规则套件"]
    [scoped] = doc.xpath('//*[@id="table-scoped"]//tbody/tr')
    assert scoped.get("data-suite") == "timeliness"  # the machine key stays
    assert scoped.xpath("td[2]")[0].text_content() == "及时性"
    page = html.fromstring(
        (
            result.index.parent / "failures" / "integrity--license.signature_valid--license.html"
        ).read_text("utf-8")
    )
    terms = page.xpath("//dl/dt/text()")
    facts = dict(zip(terms, [d.text_content() for d in page.xpath("//dl/dd")], strict=True))
    assert facts["主题 / 规则套件"] == "签名有效性 / 真实性与完整性（含签名有效性）"
    rows = list(csv.DictReader(result.exports.results_csv.read_text("utf-8-sig").splitlines()))
    assert {row["质量规则套件"] for row in rows} == {
        "完整性", "一致性（四级四同）", "及时性", "真实性与完整性（含签名有效性）",
    }  # fmt: skip
    assert "timeliness" not in _pdf_text(result.pdf.read_bytes())


def test_suite_labels():
    assert suite_label("rules") == "规范性"
    assert suite_label("completeness,timeliness") == "完整性、及时性"
    assert suite_label("other") == "other"


# --- reproducible evidence ---------------------------------------------------------


def _evidence(result) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in [result.pdf, *result.exports.all()]}


def test_the_same_results_render_to_the_same_pdf_and_workbook(hub):
    seed_history(hub.engine)
    first = _evidence(build_report(hub.settings))
    time.sleep(1.1)  # both files stored times to the second
    second = _evidence(build_report(hub.settings, now=datetime.now(UTC) + timedelta(days=1)))
    assert first == second
    # Dated by the newest run (run-c ended 2026-11-22 01:03 UTC), not by the rendering.
    newest = BASE_TIME + timedelta(days=2, minutes=3)
    with zipfile.ZipFile(Path(build_report(hub.settings).exports.xlsx)) as book:
        core = book.read("docProps/core.xml").decode()
    assert f'<dcterms:created xsi:type="dcterms:W3CDTF">{newest:%Y-%m-%dT%H:%M:%SZ}' in core
    assert '<dcterms:modified xsi:type="dcterms:W3CDTF">2026-11-22T01:03:00Z' in core
    pdf = first["summary.pdf"]
    assert b"/CreationDate (D:20261122090300+08'00')" in pdf
    assert b"/ModDate (D:20261122090300+08'00')" in pdf
    assert "2026-11-22 09:03" in _pdf_text(pdf)
    # Another run is other evidence: another date and another file identifier.
    add_run(hub.engine, "run-d", day=3)
    third = _evidence(build_report(hub.settings))
    assert third["summary.pdf"] != pdf
    assert _pdf_id(third["summary.pdf"]) != _pdf_id(pdf)


def _pdf_id(data: bytes) -> bytes:
    start = data.rindex(b"/ID")
    return data[start : data.index(b"]", start)]
