"""The generator's parts: topologies, catalogue, document files, argument errors."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest

from standards.codes.enums import ExerciseLevel
from standards.identifiers import parse_basic_code, validate_uscc
from tongyuan.generate import TOPOLOGY_NAMES, generate_dataset
from tongyuan.generate.catalogue import build_catalogue
from tongyuan.generate.files import jpeg_image, pdf_document, png_image
from tongyuan.generate.items import capacity
from tongyuan.generate.topology import build_topology


def test_shenzhen_topology_is_province_city_districts() -> None:
    topo = build_topology("shenzhen")
    assert [(n.code, n.level) for n in topo.nodes] == [
        ("440000", ExerciseLevel.PROVINCE),
        ("440300", ExerciseLevel.CITY),
        ("440305", ExerciseLevel.COUNTY),
        ("440306", ExerciseLevel.COUNTY),
        ("440307", ExerciseLevel.COUNTY),
    ]
    nanshan = topo.nodes[2]
    assert nanshan.department("scjg").name == "深圳市南山区市场监督管理局"
    assert nanshan.department("scjg").source_system == "SZNS-SCJGJ"
    assert topo.nodes[0].department("ga").name == "广东省公安厅"
    usccs = [d.uscc for n in topo.nodes for d in n.departments]
    assert len(set(usccs)) == len(usccs)
    for node in topo.nodes:
        for dept in node.departments:
            assert validate_uscc(dept.uscc).startswith("11" + node.code)
            assert re.fullmatch(r"0755-[2-8]\d{7}|020-[2-8]\d{7}", dept.phone)


def test_lanzhou_topology_and_unknown_name() -> None:
    topo = build_topology("lanzhou")
    assert [n.code for n in topo.nodes] == ["620000", "620100", "620102"]
    assert set(TOPOLOGY_NAMES) == {"shenzhen", "lanzhou"}
    with pytest.raises(ValueError, match="unknown topology 'beijing'"):
        build_topology("beijing")


def test_department_codes_do_not_depend_on_the_dataset_seed() -> None:
    assert build_topology("shenzhen") == build_topology("shenzhen")


def test_catalogue_codes_are_well_formed_and_unique() -> None:
    catalogue = build_catalogue("440000")
    codes = [b.basic_code for b in catalogue]
    assert len(set(codes)) == len(codes)
    for base in catalogue:
        parsed = parse_basic_code(base.basic_code)
        assert parsed.item_type is base.item_type
        assert parsed.prefix in ("00", "44")
        assert base.statutory_limit_days >= 1 and base.levels
    assert any(b.basic_code.startswith("44") for b in catalogue)  # locally added items
    assert capacity(build_topology("shenzhen"), catalogue) >= 1000


def test_pdf_is_well_formed() -> None:
    data = pdf_document("营业执照（张三）", ["Material: CL1", "Case: (42)"])
    assert data.startswith(b"%PDF-1.4") and data.endswith(b"%%EOF\n")
    xref_at = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert data[xref_at:].startswith(b"xref\n0 7\n")
    offsets = re.findall(rb"(\d{10}) 00000 n ", data[xref_at:])
    for number, offset in enumerate(offsets, 1):
        assert data[int(offset) :].startswith(b"%d 0 obj" % number)
    assert "营业执照（张三）".encode("utf-16-be").hex().upper().encode() in data
    assert b"(Case: \\(42\\)) Tj" in data


def test_png_chunks_check_out() -> None:
    data = png_image(b"\x10\x20\x30\x40\x50\x60", "申请人身份证明", size=16)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + body)
        chunks[tag] = body
        pos += 12 + length
    assert list(chunks) == [b"IHDR", b"iTXt", b"IDAT", b"IEND"]
    assert len(zlib.decompress(chunks[b"IDAT"])) == 16 * (1 + 16 * 3)
    assert "申请人身份证明".encode() in chunks[b"iTXt"]


def test_jpeg_segments_are_consistent() -> None:
    data = jpeg_image("材料 CL1")
    assert data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")
    pos, markers = 2, []
    while data[pos + 1] != 0xDA:  # walk the segments up to start-of-scan
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        markers.append(marker)
        if marker == 0xFE:
            assert data[pos + 4 : pos + 2 + length].decode() == "材料 CL1"
        pos += 2 + length
    assert markers == [0xE0, 0xFE, 0xDB, 0xC0, 0xC4, 0xC4]
    (sos_len,) = struct.unpack(">H", data[pos + 2 : pos + 4])
    assert data[pos + 2 + 2 + sos_len - 2 :] == b"\x3f\xff\xd9"  # one byte of scan data, EOI


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"items": 5000}, "exceeds the 1073 implementations"),
        ({"fmt": "csv"}, "fmt must be one of"),
        ({"bad_rate": 1.5}, "bad_rate must be between 0 and 1"),
        ({"items": 0}, "items must be at least 1"),
        ({"cases": -1}, "cases must not be negative"),
        ({"topology": "beijing"}, "unknown topology"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_dataset(tmp_path / "out", **kwargs)


def test_an_existing_dataset_is_not_overwritten(tmp_path: Path) -> None:
    generate_dataset(tmp_path / "out", items=10, cases=20)
    with pytest.raises(ValueError, match="already exists"):
        generate_dataset(tmp_path / "out", items=10, cases=20)


def test_zero_cases_still_writes_every_kind(tmp_path: Path) -> None:
    summary = generate_dataset(tmp_path / "out", items=10, cases=0, bad_rate=0.5)
    assert summary.counts["case"] == summary.counts["material"] == summary.counts["license"] == 0
    assert (tmp_path / "out" / "cases" / "cases.xml").is_file()
    assert summary.bad_counts["item"] == 6
