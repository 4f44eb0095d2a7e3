"""Parallel (segmented) validation gives exactly the answers of a sequential read."""

from __future__ import annotations

import pytest

import standards.formats.segments as segments_mod
import tongyuan.validating as validating
from standards.formats import ParseLimits
from standards.formats.segments import plan_xml_segments
from tongyuan.generate import generate_dataset
from tongyuan.validating import validate_paths


@pytest.fixture
def tiny_segments(monkeypatch):
    """Cut even small files into many segments so every seam gets exercised."""
    monkeypatch.setattr(segments_mod, "MIN_SEGMENT_BYTES", 20_000)
    monkeypatch.setattr(validating, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(validating, "SEGMENT_BYTES", 60_000)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    out = tmp_path_factory.mktemp("dirty")
    generate_dataset(out, seed=5, items=150, cases=1500, bad_rate=0.05)
    return out


def _report(paths, **kw):
    return validate_paths(paths, **kw).as_dict()


def test_segmented_equals_sequential_on_planted_defects(dirty, tiny_segments):
    case_file = dirty / "cases" / "cases.xml"
    plan = plan_xml_segments(case_file, 8)
    assert plan is not None and len(plan) >= 4
    assert plan[0].start == 0 and plan[-1].end == case_file.stat().st_size
    parallel = _report([dirty], workers=2)
    sequential = _report([dirty], workers=0)
    assert parallel == sequential
    assert parallel["invalid_records"] > 50  # the planted defects are all there


def test_nested_record_tag_falls_back_to_the_sequential_answer(tmp_path, dirty, tiny_segments):
    text = (dirty / "cases" / "cases.xml").read_text(encoding="utf-8")
    # A stray element wrapping record-like tags in the middle of the file: a cut may land
    # inside it, and the result must still be what one sequential read reports.
    middle = text.index("<case>", len(text) // 2)
    stray = "<junk>" + "<case><source_system>x</source_system></case>" * 400 + "</junk>\n"
    path = tmp_path / "cases.xml"
    path.write_text(text[:middle] + stray + text[middle:], encoding="utf-8")
    assert _report([path], workers=2) == _report([path], workers=0)


def test_truncated_file_reports_the_same_records_and_error(tmp_path, dirty, tiny_segments):
    data = (dirty / "cases" / "cases.xml").read_bytes()
    path = tmp_path / "cases.xml"
    path.write_bytes(data[: int(len(data) * 0.7)])
    parallel = _report([path], workers=2)
    assert parallel == _report([path], workers=0)
    assert parallel["unreadable_files"] == 1 and parallel["records"] > 500


def test_record_limit_applies_to_the_whole_file(dirty, tiny_segments):
    limits = ParseLimits(max_records=1000)
    parallel = validate_paths([dirty / "cases"], workers=2, limits=limits)
    assert parallel.unreadable_files == 1
    assert parallel.errors[-1].rule == "xml.unsafe"


def test_files_with_comments_or_cdata_are_not_cut(tmp_path, dirty):
    text = (dirty / "cases" / "cases.xml").read_text(encoding="utf-8")
    path = tmp_path / "cases.xml"
    path.write_text(text.replace("</case>", "</case><!-- c -->", 1), encoding="utf-8")
    assert plan_xml_segments(path, 4) is None


def _outcome(item):
    """One record as the loader sees it; a clean case the way a worker hands it back."""
    from standards.records import Case
    from standards.validation import Severity
    from tongyuan.loading_rows import PreparedCase

    if isinstance(item, PreparedCase):
        return item.location, "case", ("prepared", item.warnings)
    errors = [f for f in item.findings if f.severity is Severity.ERROR]
    if isinstance(item.record, Case) and not errors:
        return item.raw.location, "case", ("prepared", len(item.findings))
    return item.raw.location, item.raw.kind, item.findings


def _checked(path, *, workers):
    """What the loader's read gives for one file: one outcome per record, and the error."""
    from datetime import date

    from standards.formats import UnreadableInput
    from standards.validation import CheckOptions
    from standards.validation.batch import BatchUniqueness
    from tongyuan.libraries.base import utcnow
    from tongyuan.loading_feed import prepared_file_parallel
    from tongyuan.loading_rows import PrepContext

    kw = {"options": CheckOptions(), "uniqueness": BatchUniqueness(), "file_label": "f.xml"}
    out, error = [], None
    try:
        if workers:
            plan = validating.plan_load_segments(path, workers)
            assert plan is not None and len(plan) >= 3
            context = PrepContext("b", utcnow(), "sqlite://", bytes(32), date(2026, 3, 20), True)
            with validating.worker_pool(workers) as pool:
                for item in prepared_file_parallel(
                    path, pool=pool, workers=workers, segments=plan, context=context, **kw
                ):
                    out.append(_outcome(item))
        else:
            for c in validating.check_file(path, **kw):
                out.append(_outcome(c))
    except UnreadableInput as exc:
        error = (exc.rule, exc.line)
    return out, error


@pytest.mark.parametrize("cut", [1.0, 0.7])
def test_loader_parallel_check_equals_the_sequential_one(
    tmp_path, dirty, tiny_segments, cut, monkeypatch
):
    monkeypatch.setattr(validating, "LOAD_SEGMENT_BYTES", 60_000)
    data = (dirty / "cases" / "cases.xml").read_bytes()
    path = tmp_path / "cases.xml"
    path.write_bytes(data[: int(len(data) * cut)])
    parallel, sequential = _checked(path, workers=2), _checked(path, workers=0)
    assert parallel == sequential
    assert len(sequential[0]) > 500 and (sequential[1] is None) == (cut == 1.0)
