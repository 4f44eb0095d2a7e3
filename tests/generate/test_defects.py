"""Planted defects: every rule is planted, in the stated share, and each bad record breaks
exactly the one rule it is listed with (checked with the project's validator)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tongyuan.generate import RULES_BY_KIND, generate_dataset
from tongyuan.generate.defects import defect_count
from tongyuan.validating import validate_paths


def _findings(out: Path) -> Counter[tuple[str, int | None, str, str | None]]:
    report = validate_paths([out], relative_to=out)
    assert report.unreadable_files == 0
    return Counter((e.file, e.record, e.rule, e.field) for e in report.errors + report.warnings)


def _planted(out: Path) -> tuple[dict, Counter[tuple[str, int, str, str]]]:
    doc = json.loads((out / "expected_defects.json").read_text(encoding="utf-8"))
    rows = Counter((d["file"], d["record"], d["rule"], d["field"]) for d in doc["defects"])
    return doc, rows


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("dirty") / "data"
    return out, generate_dataset(out, seed=3, items=200, cases=2000, bad_rate=0.05)


def test_every_defect_rule_of_every_kind_is_planted(dirty) -> None:
    out, summary = dirty
    doc, _ = _planted(out)
    assert doc["seed"] == 3 and doc["bad_rate"] == 0.05
    for kind, rules in RULES_BY_KIND.items():
        planted = {d["rule"] for d in doc["defects"] if d["kind"] == kind}
        assert planted == set(rules), kind
        assert summary.bad_by_rule[kind].keys() == set(rules)


def test_defects_per_kind_follow_the_rate(dirty) -> None:
    out, summary = dirty
    doc, _ = _planted(out)
    per_kind = Counter(d["kind"] for d in doc["defects"])
    for kind, count in summary.counts.items():
        expected = max(int(count * 0.05 + 0.5), len(RULES_BY_KIND[kind]))
        assert per_kind[kind] == summary.bad_counts[kind] == expected, kind
    assert summary.bad_counts["case"] == 100 and summary.bad_counts["item"] == 10


def test_each_bad_record_breaks_exactly_its_rule(dirty) -> None:
    out, _ = dirty
    _, planted = _planted(out)
    found = _findings(out)
    assert found == planted
    # One finding per planted record, never two on the same record.
    per_record = Counter((f, r) for f, r, _, _ in found.elements())
    assert max(per_record.values()) == 1


def test_jsonl_and_lanzhou_defects_are_exact_too(tmp_path: Path) -> None:
    out = tmp_path / "lz"
    summary = generate_dataset(
        out, seed=9, items=150, cases=1500, bad_rate=0.1, topology="lanzhou", fmt="jsonl"
    )
    assert all(f.endswith(".jsonl") or f == "expected_defects.json" for f in summary.files)
    _, planted = _planted(out)
    assert _findings(out) == planted
    assert sum(planted.values()) == sum(summary.bad_counts.values())


def test_small_counts_still_get_one_of_each_rule(tmp_path: Path) -> None:
    out = tmp_path / "small"
    summary = generate_dataset(out, seed=1, items=20, cases=300, bad_rate=0.01)
    assert summary.bad_counts["item"] == len(RULES_BY_KIND["item"])  # 0.2 rounds to 0
    assert set(summary.bad_by_rule["case"]) == set(RULES_BY_KIND["case"])
    _, planted = _planted(out)
    assert _findings(out) == planted


def test_nothing_is_written_outside_out(tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    parent.mkdir()
    out = parent / "out"
    generate_dataset(out, seed=2, items=60, cases=1500, bad_rate=0.2)
    assert [p.name for p in parent.iterdir()] == ["out"]
    doc, _ = _planted(out)
    assert any(d["rule"] == "material.file.unsafe_path" for d in doc["defects"])
    assert not (parent / "etc").exists()  # where materials/../../etc/passwd would land
    for path in out.rglob("*"):
        assert not path.is_symlink()
        assert path.resolve().is_relative_to(out.resolve())
    # Material files are never record files the validator would pick up.
    files = [p for p in (out / "materials" / "files").rglob("*") if p.is_file()]
    assert files and all(p.suffix not in (".xml", ".jsonl", ".ndjson") for p in files)


@pytest.mark.parametrize(
    ("count", "rate", "rules", "expected"),
    [
        (2000, 0.05, 8, 100),
        (1000, 0.0125, 4, 13),  # 12.5 rounds half up
        (200, 0.0025, 6, 6),  # 0.5 -> 1, raised to one per rule
        (3, 0.5, 5, 3),  # never more than there are records
        (500, 0.0, 5, 0),
        (0, 0.5, 5, 0),
        (10, 1.0, 4, 10),
    ],
)
def test_defect_count(count: int, rate: float, rules: int, expected: int) -> None:
    assert defect_count(count, rate, rules) == expected
