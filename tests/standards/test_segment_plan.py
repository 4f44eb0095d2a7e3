"""Planning segments of a large XML file: cuts at record starts, lines counted exactly,
hazards found wherever they sit, and the file never mapped into memory."""

from __future__ import annotations

import itertools
import re

import pytest
from standards_samples import sample_case

import standards.formats.segments as segments_mod
from standards.formats import write_records
from standards.formats.segments import plan_xml_segments


@pytest.fixture
def small_blocks(monkeypatch):
    """Tiny segments and read blocks, so cuts and hazards land on block boundaries."""
    monkeypatch.setattr(segments_mod, "MIN_SEGMENT_BYTES", 2_000)
    monkeypatch.setattr(segments_mod, "_BLOCK", 997)


@pytest.fixture
def case_file(tmp_path):
    path = tmp_path / "cases.xml"
    write_records(path, [sample_case(n) for n in range(1, 40)])
    return path


def test_cuts_sit_on_record_starts_and_lines_are_exact(case_file, small_blocks):
    data = case_file.read_bytes()
    plan = plan_xml_segments(case_file, 9)
    assert plan is not None and len(plan) >= 4
    assert plan[0].start == 0 and plan[-1].end == len(data)
    for before, after in itertools.pairwise(plan):
        assert before.end == after.start
        assert re.match(rb"<case[\s>]", data[after.start : after.start + 6])
    for segment in plan:
        assert segment.first_line == data[: segment.start].count(b"\n") + 1


@pytest.mark.parametrize("hazard", [b"<!-- note -->", b"<![CDATA[x]]>", b"<?pi x?>"])
def test_a_hazard_anywhere_in_the_body_means_one_piece(case_file, small_blocks, hazard):
    data = case_file.read_bytes()
    assert plan_xml_segments(case_file, 9) is not None
    for at in (len(data) // 3, 997 * 5 - 3, 997 * 9 - 1):  # across block boundaries too
        at = data.index(b"</case>", at) + len(b"</case>")
        case_file.write_bytes(data[:at] + hazard + data[at:])
        assert plan_xml_segments(case_file, 9) is None, at


def test_the_prolog_may_hold_a_declaration(case_file, small_blocks):
    assert case_file.read_bytes().startswith(b"<?xml")
    assert plan_xml_segments(case_file, 9) is not None


def test_the_file_is_read_not_mapped(case_file, small_blocks, monkeypatch):
    import mmap

    def refuse(*args, **kwargs):
        raise AssertionError("mapped")

    monkeypatch.setattr(mmap, "mmap", refuse)
    assert plan_xml_segments(case_file, 9) is not None
