"""generate_dataset: layout, determinism, clean data that passes every check, realism."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from standards.codes.enums import CaseState, IdType, ItemType
from standards.formats import iter_raw_records, to_record
from standards.identifiers import (
    parse_basic_code,
    parse_case_serial,
    parse_handling_code,
    parse_impl_code,
    parse_license_identifier,
    validate_citizen_id,
    validate_region_code,
    validate_uscc,
)
from standards.records import Case, Item, License, Material, SourceLocation, StandardRecord
from standards.validation.batch import BatchUniqueness
from standards.validation.record_checks import check_record
from tongyuan.generate import GenerationSummary, generate_dataset
from tongyuan.generate.clock import GENERATED_AT

CST_OFFSET = timedelta(hours=8)


def _tree(out: Path) -> dict[str, bytes]:
    """Every file but the PKI and signed license files (fresh keys and nonces each run)."""
    return {
        rel: p.read_bytes()
        for p in out.rglob("*")
        if p.is_file()
        and not (rel := p.relative_to(out).as_posix()).startswith(("pki/", "licenses/files/"))
    }


def _records(path: Path) -> list[StandardRecord]:
    """Parse a file; any finding at all fails the test (clean data must be clean)."""
    result = []
    for raw in iter_raw_records(path):
        record, findings = to_record(raw)
        assert findings == [], (path.name, raw.location.record, findings)
        assert record is not None
        result.append(record)
    return result


class Clean:
    """A generated dataset without defects, parsed once for the whole module."""

    def __init__(self, out: Path, summary: GenerationSummary) -> None:
        self.out = out
        self.summary = summary
        self.by_file = {rel: _records(out / rel) for rel in summary.files if rel.endswith(".xml")}
        self.items: list[Item] = [
            r for rs in self.by_file.values() for r in rs if isinstance(r, Item)
        ]
        self.cases: list[Case] = _only(self.by_file["cases/cases.xml"], Case)
        self.materials: list[Material] = _only(self.by_file["materials/materials.xml"], Material)
        self.licenses: list[License] = _only(self.by_file["licenses/licenses.xml"], License)


def _only(records: list[StandardRecord], cls: type) -> list:
    assert all(isinstance(r, cls) for r in records)
    return records


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Clean:
    out = tmp_path_factory.mktemp("clean") / "data"
    summary = generate_dataset(out, seed=7, items=200, cases=2000)
    return Clean(out, summary)


def test_layout_and_counts(clean: Clean) -> None:
    s = clean.summary
    assert s.counts["item"] == len(clean.items) == 200
    assert s.counts["case"] == len(clean.cases) == 2000
    assert s.counts["material"] == len(clean.materials) > 0
    assert s.counts["license"] == len(clean.licenses) > 0
    assert s.bad_counts == {"item": 0, "case": 0, "material": 0, "license": 0}
    assert {f.split("/")[0] for f in s.files} == {
        "items", "cases", "materials", "licenses", "expected_defects.json",
    }  # fmt: skip
    for rel in s.files:
        assert (clean.out / rel).is_file()
    # Items: one file per node of the topology that implements anything.
    assert {f for f in s.files if f.startswith("items/")} <= {
        f"items/{c}.xml" for c in ("440000", "440300", "440305", "440306", "440307")
    }
    files = [p for p in (clean.out / "materials" / "files").rglob("*") if p.is_file()]
    assert len(files) == s.material_files == len(clean.materials)
    assert {p.suffix for p in files} <= {".pdf", ".png", ".jpg", ".txt"}


def test_same_arguments_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    args = {"items": 60, "cases": 400, "bad_rate": 0.05}
    generate_dataset(tmp_path / "a", seed=5, **args)
    generate_dataset(tmp_path / "b", seed=5, **args)
    generate_dataset(tmp_path / "c", seed=6, **args)
    a, b, c = (_tree(tmp_path / n) for n in "abc")
    assert a == b
    assert a["cases/cases.xml"] != c["cases/cases.xml"]


def test_every_record_passes_every_check(clean: Clean) -> None:
    uniqueness = BatchUniqueness()
    for rel, records in clean.by_file.items():
        base_dir = (clean.out / rel).parent
        for n, record in enumerate(records, 1):
            findings = check_record(record, base_dir=base_dir)
            findings += uniqueness.check(record, SourceLocation(rel, n))
            assert findings == [], (rel, n, findings)


def test_identifiers_are_valid_and_consistent(clean: Clean) -> None:
    for item in clean.items:
        impl = parse_impl_code(item.impl_code)
        assert impl.basic.code == item.basic_code == parse_basic_code(item.basic_code).code
        assert impl.level is item.exercise_level
        assert impl.authority_uscc == validate_uscc(item.authority_uscc)
        assert item.authority_uscc.startswith("11" + item.region_code)  # organ of state power
        assert parse_basic_code(item.basic_code).item_type is item.item_type
        assert item.handling_code is not None
        assert parse_handling_code(item.handling_code).impl.code == item.impl_code
        validate_region_code(item.region_code, known_only=True)
        assert item.promised_limit_days <= item.statutory_limit_days
    for case in clean.cases:
        assert parse_case_serial(case.serial or "").impl_code == case.impl_code
        if case.applicant.id_type is IdType.CITIZEN_ID:
            cid = validate_citizen_id(case.applicant.id_number)
            assert date(1950, 1, 1) <= cid.birth_date <= date(2005, 12, 31)
        else:
            assert case.applicant.id_type is IdType.USCC
            validate_uscc(case.applicant.id_number)
    for lic in clean.licenses:
        ident = parse_license_identifier(lic.identifier)
        assert (ident.type_code, ident.issuer_code, ident.version) == (
            lic.type_code, lic.issuer_code, lic.version,
        )  # fmt: skip
        assert lic.type_code.startswith(lic.issuer_code) and len(lic.type_code) == 21
        assert 7 <= len(ident.serial) <= 32


def test_items_keep_base_elements_across_levels(clean: Clean) -> None:
    by_basic: dict[str, set[tuple[object, ...]]] = defaultdict(set)
    levels: dict[str, set[str]] = defaultdict(set)
    for item in clean.items:
        by_basic[item.basic_code].add(tuple(getattr(item, f) for f in Item.BASE_ELEMENTS))
        levels[item.basic_code].add(item.exercise_level.value)
    assert all(len(v) == 1 for v in by_basic.values())  # 四级四同
    assert any(len(v) > 1 for v in levels.values())  # the same item at several levels
    assert all(item.status.value == "published" for item in clean.items)


def test_cases_reference_items_and_tell_a_legal_story(clean: Clean) -> None:
    items = {i.impl_code: i for i in clean.items}
    start, end = date(2026, 1, 5), date(2026, 10, 30)
    for case in clean.cases:
        item = items[case.impl_code]
        assert case.item_name == item.name
        assert case.promised_limit_days == item.promised_limit_days
        assert case.region_code == item.region_code
        first = case.events[0].at
        assert start <= first.date() <= end
        for event in case.events:
            assert event.at.utcoffset() == CST_OFFSET
            clock = event.at.time()
            assert time(9) <= clock < time(12) or time(14) <= clock < time(18)
        if case.accepted_at is not None:
            assert case.promised_deadline is not None
            assert case.promised_deadline >= case.accepted_at.date()
        if case.delivered_at is not None:
            assert case.decided_at is not None and case.delivered_at >= case.decided_at
    states = {e.state for c in clean.cases for e in c.events}
    assert {CaseState.RECEIVED, CaseState.ACCEPTED, CaseState.PROCESSING,
            CaseState.DONE_APPROVED, CaseState.CORRECTION_START} <= states  # fmt: skip
    kinds = {c.applicant.id_type for c in clean.cases}
    assert kinds == {IdType.CITIZEN_ID, IdType.USCC}


def test_department_case_numbers_vary_like_real_systems(clean: Clean) -> None:
    numbers = [c.dept_case_no for c in clean.cases]
    lengths = {len(n) for n in numbers}
    assert 43 in lengths and len(lengths) >= 3
    assert any(n != n.upper() for n in numbers)
    keys = [(c.source_system, c.dept_case_no) for c in clean.cases]
    assert len(set(keys)) == len(keys)
    assert all(len(c.source_system.split("-")) == 2 for c in clean.cases)


def test_materials_are_real_files_of_their_cases(clean: Clean) -> None:
    # source_case is the department's number, unique only within its source system.
    case_of = {mid: c for c in clean.cases for mid in c.material_ids}
    base = clean.out / "materials"
    suffix_of = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg",
                 "text/plain": ".txt"}  # fmt: skip
    for m in clean.materials:
        data = (base / m.file).read_bytes()
        assert len(data) == m.size and hashlib.sha256(data).hexdigest() == m.sha256
        assert Path(m.file).suffix == suffix_of[m.media_type]
        case = case_of[m.material_id]
        assert m.source_case == case.dept_case_no
        assert (m.holder_name, m.holder_id_number) == (
            case.applicant.name,
            case.applicant.id_number,
        )
        assert m.valid_from is not None
        if m.valid_to is not None:
            assert m.valid_from <= case.events[0].at.date() <= m.valid_to
    referenced = {mid for c in clean.cases for mid in c.material_ids}
    assert referenced == {m.material_id for m in clean.materials}


def test_licenses_come_from_approved_licensing_cases(clean: Clean) -> None:
    items = {i.impl_code: i for i in clean.items}
    approved = {
        (c.impl_code, c.applicant.id_number, c.decided_at.date()): c.applicant
        for c in clean.cases
        if c.decided_at is not None
        and any(e.state in (CaseState.DONE_APPROVED, CaseState.DONE_TOLERANCE) for e in c.events)
    }
    for lic in clean.licenses:
        item = items[lic.item_code or ""]
        assert item.item_type is ItemType.LICENSING
        holder = approved[(lic.item_code or "", lic.holder_id, lic.issue_date)]
        assert (lic.holder_name, lic.holder_id_type) == (holder.name, holder.id_type)
        assert lic.issuer_code == item.authority_uscc and lic.region_code == item.region_code
        assert lic.valid_to is None or lic.valid_to > lic.valid_from


def test_progress_reports_each_stage_to_completion(tmp_path: Path) -> None:
    seen: dict[str, tuple[int, int]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        seen[stage] = (done, total)

    generate_dataset(tmp_path / "p", items=30, cases=300, progress=progress)
    assert {"items", "cases", "materials", "licenses", "write cases"} <= set(seen)
    assert all(done == total for done, total in seen.values())


def test_no_case_happens_after_the_generation_time(clean: Clean) -> None:
    """A case decided or delivered after the export is a case from the future: the hub
    refuses it (case.timestamps.future) or, before, stored it as late before it happened."""
    for case in clean.cases:
        times = [e.at for e in case.events] + [case.updated_at]
        times += [t for t in (case.decided_at, case.delivered_at) if t is not None]
        assert max(times) <= GENERATED_AT, (case.serial, max(times))
    # Cases do reach the last days before it (the cut-off is a bound, not a gap).
    assert max(c.updated_at for c in clean.cases) > GENERATED_AT - timedelta(days=14)


def test_updated_at_of_items_precedes_cases(clean: Clean) -> None:
    first_case = min(c.events[0].at for c in clean.cases)
    assert all(
        isinstance(i.updated_at, datetime) and i.updated_at < first_case for i in clean.items
    )
