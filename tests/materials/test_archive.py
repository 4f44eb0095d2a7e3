"""Each zip attack is refused with its own rule, without extracting anything."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import zips

from standards.validation.rules import RULES
from tongyuan.config import ConfigError
from tongyuan.materials.archive import declared_entry_count, inspect_zip, unsafe_name_reason
from tongyuan.materials.limits import MaterialLimits

LIMITS = MaterialLimits(
    max_entries=50, max_total_bytes=256 << 10, max_ratio=100, ratio_min_bytes=64 << 10,
    max_depth=2,
)  # fmt: skip


def rules_of(tmp_path: Path, data: bytes, limits: MaterialLimits = LIMITS) -> set[str]:
    path = zips.write(tmp_path / "m.zip", data)
    return {f.rule for f in inspect_zip(path, limits).findings}


@pytest.mark.parametrize(
    ("attack", "rule"),
    [
        (zips.zip_slip, "material.archive.path"),
        (zips.absolute_path, "material.archive.path"),
        (zips.drive_letter, "material.archive.path"),
        (zips.backslash, "material.archive.path"),
        (zips.symlink, "material.archive.symlink"),
        (zips.ratio_bomb, "material.archive.ratio"),
        (zips.total_size, "material.archive.size"),
        (lambda: zips.many_entries(51), "material.archive.entries"),
        (lambda: zips.nested(3), "material.archive.nesting"),
        (zips.encrypted, "material.archive.encrypted"),
        (zips.duplicate_names, "material.archive.duplicate"),
        (zips.lying_size, "material.archive.malformed"),
        (zips.overlapping, "material.archive.ratio"),
        (lambda: b"PK\x03\x04 not really a zip", "material.archive.malformed"),
        (
            lambda: zips.build([("scan.pdf", b"%PDF-1.7\n" + zips.zip_slip())]),
            "material.archive.nesting",
        ),
    ],
    ids=lambda v: getattr(v, "__name__", v) if callable(v) else v,
)
def test_each_attack_is_refused_with_its_rule(tmp_path, attack, rule):
    assert rule in RULES
    assert rule in rules_of(tmp_path, attack())


def test_a_harmless_archive_with_a_nested_zip_within_depth_passes(tmp_path):
    path = zips.write(tmp_path / "m.zip", zips.safe())
    report = inspect_zip(path, LIMITS)
    assert report.findings == []
    assert report.entries == 5  # four in the outer archive, one in the nested one
    assert report.uncompressed_bytes > 4000


def test_nesting_within_the_limit_passes_and_one_more_level_does_not(tmp_path):
    assert rules_of(tmp_path, zips.nested(2)) == set()
    assert rules_of(tmp_path, zips.nested(3)) == {"material.archive.nesting"}
    assert "material.archive.nesting" in rules_of(
        tmp_path, zips.nested(2), MaterialLimits(max_depth=1)
    )


def test_nested_bomb_counts_every_level_against_one_budget(tmp_path):
    """Ten copies of a 40 KiB zip, each fine alone, exceed the total together."""
    inner = zips.build([("x.bin", os.urandom(40 << 10))], deflate=False)
    outer = zips.build([(f"copy{i}.zip", inner) for i in range(10)], deflate=False)
    limits = MaterialLimits(max_total_bytes=300 << 10, max_depth=2)
    assert "material.archive.size" in rules_of(tmp_path, outer, limits)


def test_entry_count_is_read_before_the_directory_is_parsed(tmp_path):
    data = zips.many_entries(51)
    assert declared_entry_count(io.BytesIO(data)) == 51
    findings = inspect_zip(zips.write(tmp_path / "m.zip", data), LIMITS).findings
    assert [f.rule for f in findings] == ["material.archive.entries"]


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # the hostile archive's
def test_all_problems_of_one_archive_are_reported_together(tmp_path):
    data = zips.build([("../a", b"1"), ("/b", b"2"), ("../a", b"3")])
    assert rules_of(tmp_path, data) == {"material.archive.path", "material.archive.duplicate"}


@pytest.mark.parametrize(
    ("name", "unsafe"),
    [
        ("docs/a.pdf", False),
        ("./a.pdf", False),
        ("a..b.pdf", False),
        ("营业执照/副本.pdf", False),
        ("../a", True),
        ("a/../../b", True),
        ("/abs", True),
        ("C:/x", True),
        ("c:x", True),
        ("a\\b", True),
        ("a\x00.pdf", True),
        ("", True),
    ],
)
def test_entry_names(name, unsafe):
    assert (unsafe_name_reason(name) is not None) is unsafe


def test_nothing_is_extracted_next_to_the_archive(tmp_path):
    path = zips.write(tmp_path / "m.zip", zips.zip_slip())
    inspect_zip(path, LIMITS)
    inspect_zip(zips.write(tmp_path / "n.zip", zips.safe()), LIMITS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.zip", "n.zip"]
    assert not (tmp_path.parent / "etc").exists()


def test_limits_come_from_the_environment_and_bad_values_name_the_variable():
    limits = MaterialLimits.from_environ(
        {"TONGYUAN_ZIP_MAX_ENTRIES": "7", "TONGYUAN_MATERIAL_MAX_BYTES": "1_000"}
    )
    assert (limits.max_entries, limits.max_file_bytes) == (7, 1000)
    assert MaterialLimits.from_environ({}) == MaterialLimits()
    with pytest.raises(ConfigError, match="TONGYUAN_ZIP_MAX_RATIO"):
        MaterialLimits.from_environ({"TONGYUAN_ZIP_MAX_RATIO": "lots"})
    with pytest.raises(ConfigError, match="TONGYUAN_ZIP_MAX_DEPTH"):
        MaterialLimits.from_environ({"TONGYUAN_ZIP_MAX_DEPTH": "0"})
