"""The conformance kit: the reference source passes, each classic bug fails with its name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from broken_adapters import (
    DroppedBadRowSource,
    DuplicateKeysSource,
    FetchAllSource,
    GreaterOrEqualSource,
    LostCursorSource,
    NoHarnessSource,
    ReferenceConfig,
    ReferenceRead,
    ReferenceSource,
    StrictlyGreaterSource,
)
from pydantic import ConfigDict

from adapters.conformance.kit import CHECK_NAMES, NO_HARNESS, run_kit
from adapters.sdk.source import State

SMALL = 2_000


def _kit(cls: type, config: dict[str, Any], **kwargs: Any):
    return run_kit(cls, config, base_dir=Path(config["database"]).parent, **kwargs)


def _failed(report) -> set[str]:
    return {r.name for r in report.results if r.status != "pass"}


def test_reference_source_passes_every_check(reference_config):
    report = _kit(ReferenceSource, reference_config, rows=20_000)
    assert [r.name for r in report.results] == list(CHECK_NAMES)
    assert report.passed, [(r.name, r.reason) for r in report.results if r.status != "pass"]
    assert report.exit_code == 0
    memory = report.result("memory")
    assert memory.details["yielded"] == 20_000
    assert memory.details["tracemalloc_peak_mib"] < 256


def test_duplicate_keys_are_named(reference_config):
    report = _kit(DuplicateKeysSource, reference_config, rows=SMALL)
    assert not report.passed and report.exit_code == 1
    keys = report.result("primary_keys")
    assert keys.status == "fail"
    assert "duplicate primary keys ('source_system', 'dept_case_no')" in keys.reason
    assert "(SZ-MARKET, SZ-" in keys.reason and "×2" in keys.reason
    # The same bug also shows as more records than rows, and nothing else breaks.
    assert "added 50 valid rows, read 53 records" in report.result("records").reason
    assert _failed(report) == {"records", "primary_keys", "bad_rows", "memory"}


def test_lost_cursor_is_named(reference_config):
    report = _kit(LostCursorSource, reference_config, rows=SMALL)
    no_change = report.result("no_change")
    assert no_change.status == "fail"
    assert no_change.reason.startswith("the second run with no change yielded 50 records")
    assert "is the state advanced" in no_change.reason
    assert "40 records yielded that were not changed" in report.result("change").reason
    assert "after a restart" in report.result("restart").reason
    assert _failed(report) == {"no_change", "change", "restart", "boundary"}


def test_greater_or_equal_boundary_duplicates_are_named(reference_config):
    report = _kit(GreaterOrEqualSource, reference_config, rows=SMALL)
    boundary = report.result("boundary")
    assert boundary.status == "fail"
    assert "the next read yielded 20" in boundary.reason
    assert "10 rows of the first batch yielded again" in boundary.reason
    assert "`>=`" in boundary.reason
    assert boundary.details["extra_count"] == 10 and boundary.details["missing_count"] == 0
    # Re-reading the last row shows in the plain incremental checks too.
    assert "yielded 1 record " in report.result("no_change").reason


def test_strictly_greater_boundary_losses_are_named(reference_config):
    report = _kit(StrictlyGreaterSource, reference_config, rows=SMALL)
    boundary = report.result("boundary")
    assert boundary.status == "fail"
    assert "10 of the 10 new rows with the boundary cursor value lost" in boundary.reason
    assert boundary.details["missing_count"] == 10
    assert _failed(report) == {"boundary"}


def test_dropped_bad_rows_are_counted(reference_config):
    report = _kit(DroppedBadRowSource, reference_config, rows=SMALL)
    bad = report.result("bad_rows")
    assert bad.status == "fail"
    assert bad.reason.startswith("added 5 bad rows, 0 reported with findings: 5 dropped")
    assert bad.details["bad_reported"] == 0 and bad.details["valid_read"] == 50
    assert _failed(report) == {"bad_rows"}


def test_reported_bad_rows_carry_rule_and_column(reference_config):
    result = _kit(ReferenceSource, reference_config, only=["bad_rows"]).result("bad_rows")
    assert result.status == "pass"
    assert result.details["bad_added"] == result.details["bad_reported"] == 5
    example = result.details["example"]
    assert example["rule"] == "mapping.date" and example["field"] == "accepted_at"
    assert "ACCEPTED_AT" in example["message"] and example["location"].startswith("cases#")


def test_without_a_harness_the_driven_checks_say_what_to_implement(reference_config):
    report = _kit(NoHarnessSource, reference_config, rows=SMALL)
    for name in ("no_change", "change", "restart", "boundary", "bad_rows", "memory"):
        result = report.result(name)
        assert (result.status, result.reason) == ("fail", NO_HARNESS)
    assert report.result("config").status == "pass"


@pytest.mark.slow
def test_memory_check_catches_a_read_that_fetches_everything(reference_config):
    broken = _kit(FetchAllSource, reference_config, rows=60_000, memory_bound_mib=16,
                  only=["memory"]).result("memory")  # fmt: skip
    assert broken.status == "fail"
    assert "does the read fetch every row before yielding the first?" in broken.reason
    assert broken.details["tracemalloc_peak_mib"] > 16
    good = _kit(ReferenceSource, reference_config, rows=60_000, memory_bound_mib=16,
                only=["memory"]).result("memory")  # fmt: skip
    assert good.status == "pass", good.reason


@pytest.mark.slow
def test_reference_source_streams_a_million_rows_in_bounded_memory(reference_config):
    result = _kit(ReferenceSource, reference_config, rows=1_000_000, only=["memory"]).result(
        "memory"
    )
    assert result.status == "pass", result.reason
    assert result.details["yielded"] == 1_000_000
    assert result.details["rss_growth_mib"] < 256
    assert result.details["tracemalloc_peak_mib"] < 256


class _LaxConfig(ReferenceConfig):
    model_config = ConfigDict(extra="allow")


class LaxSource(ReferenceSource):
    Config = _LaxConfig


def test_config_check_refuses_a_config_that_accepts_unknown_keys(reference_config):
    result = _kit(LaxSource, reference_config, only=["config"]).result("config")
    assert result.status == "fail"
    assert "an unknown configuration key ('conformance_kit_unknown_key') was accepted" in (
        result.reason
    )


def test_a_configuration_that_does_not_load_fails_config_and_stops_the_rest(reference_config):
    del reference_config["source_system"]
    report = _kit(ReferenceSource, reference_config)
    config = report.result("config")
    assert config.status == "fail"
    assert "source_system" in config.reason and "does not load" in config.reason
    others = [r for r in report.results if r.name != "config"]
    assert all(r.status == "error" and r.reason.startswith("not run:") for r in others)


class _SetState(ReferenceRead):
    def state(self) -> State:
        return {"seen": {1, 2}}


class SetStateSource(ReferenceSource):
    read_class: ClassVar = _SetState


def test_state_that_is_not_json_fails_with_the_reason(reference_config):
    result = _kit(SetStateSource, reference_config, only=["no_change"]).result("no_change")
    assert result.status == "fail"
    assert result.reason.startswith("state() is not JSON-serialisable")


def test_report_as_json_is_one_object(reference_config):
    report = _kit(GreaterOrEqualSource, reference_config, only=["boundary", "bad_rows"])
    data = json.loads(json.dumps(report.as_dict()))
    assert data["passed"] is False
    assert data["counts"] == {"fail": 1, "pass": 1}
    assert [c["name"] for c in data["checks"]] == ["boundary", "bad_rows"]


def test_unknown_check_names_are_refused(reference_config):
    with pytest.raises(ValueError, match="unknown checks"):
        _kit(ReferenceSource, reference_config, only=["boundaries"])


def _drop_config(tmp_path: Path, mapping: str | None) -> dict[str, Any]:
    stream: dict[str, Any] = {"patterns": ["*.csv"]}
    if mapping is None:
        stream = {"kind": "case", "patterns": ["*.xml"]}
    else:
        stream["mapping"] = mapping
    (tmp_path / "drop").mkdir(exist_ok=True)
    return {
        "path": str(tmp_path / "drop"),
        "streams": {"cases": stream},
        "settle_seconds": 0,
        "staging_dir": str(tmp_path / "staging"),
    }


def test_config_check_fails_on_a_broken_or_missing_mapping(tmp_path: Path) -> None:
    """A drop folder loads its mapping only when it reads: the config check loads it now,
    fails naming the file and the problem, and the other checks do not run."""
    from adapters.builtin.files import FilesSource

    (tmp_path / "bad.yaml").write_text(
        "kind: case\nencoding: big5\nfields: {source_system: X}\n", encoding="utf-8"
    )
    report = run_kit(FilesSource, _drop_config(tmp_path, "bad.yaml"), base_dir=tmp_path)
    config = report.result("config")
    assert config.status == "fail"
    assert config.reason.startswith("the mapping does not load: ")
    assert "bad.yaml" in config.reason and "encoding 'big5' is not supported" in config.reason
    assert "dept_case_no" in config.reason  # every problem of the file, not only the first
    others = [r for r in report.results if r.name != "config"]
    assert all(r.status == "error" and r.reason.startswith("not run:") for r in others)

    only = ["config"]
    gone = _drop_config(tmp_path, "gone.yaml")
    missing = run_kit(FilesSource, gone, base_dir=tmp_path, only=only)
    assert missing.result("config").status == "fail"
    assert "gone.yaml" in missing.result("config").reason
    assert "cannot read the mapping file" in missing.result("config").reason

    (tmp_path / "good.yaml").write_text(
        "kind: case\nfields:\n  source_system: X\n  dept_case_no: {from: NO}\n"
        "  impl_code: {from: IMPL}\n  applicant.name: {from: NAME}\n"
        "  applicant.id_type: '111'\n  applicant.id_number: {from: IDNO}\n"
        "  events: {from_columns: [{state: '1', at: {from: T1}}]}\n",
        encoding="utf-8",
    )
    for mapping in ("good.yaml", None):  # a mapped stream, and standard files (no mapping)
        fine = run_kit(FilesSource, _drop_config(tmp_path, mapping), base_dir=tmp_path, only=only)
        assert fine.result("config").status == "pass", fine.result("config").reason


def test_a_configuration_file_with_aliases_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from adapters.conformance.kit import CheckFailed, KitRun

    path = tmp_path / "config.yaml"
    path.write_text("a: &x [1, 2]\nb: *x\n", encoding="utf-8")
    conformance = KitRun.__new__(KitRun)
    conformance.config = path
    with pytest.raises(CheckFailed, match="alias \\*x refused"):
        conformance.config_data()
