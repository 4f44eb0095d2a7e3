"""`tongyuan generate` signs its licenses: every good one verifies with `tongyuan verify`
against the generated pki/, every planted bad signature does not, and the signed files
and the PKI are never taken for record files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signing.trust import TrustStore
from signing.verify import verify_file
from standards.formats import iter_raw_records, to_record
from standards.records import License
from tongyuan.cli import app
from tongyuan.generate import generate_dataset
from tongyuan.generate.signatures import SIGNATURE_DEFECTS
from tongyuan.validating import discover_files, validate_paths

runner = CliRunner()


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("signed") / "data"
    return out, generate_dataset(out, seed=11, items=80, cases=700, bad_rate=0.05)


def _licenses(out: Path) -> list[License]:
    records = []
    for raw in iter_raw_records(out / "licenses" / "licenses.xml"):
        record, _ = to_record(raw)
        assert isinstance(record, License)
        records.append(record)
    return records


def _manifest(out: Path) -> dict:
    return json.loads((out / "expected_defects.json").read_text(encoding="utf-8"))


def _verify(out: Path, rel: str) -> tuple[int, dict]:
    result = runner.invoke(
        app, ["verify", str(out / "licenses" / rel), "--trust", str(out / "pki"), "--json"]
    )
    return result.exit_code, json.loads(result.stdout)


def test_records_name_their_signed_files_and_algorithms_are_mixed(signed) -> None:
    out, summary = signed
    licenses = _licenses(out)
    assert licenses and all(lic.file for lic in licenses)
    detached = [lic for lic in licenses if lic.signature_ref]
    assert detached and len(detached) < len(licenses) / 2
    for lic in licenses:
        assert (out / "licenses" / lic.file).is_file()
        if lic.signature_ref:
            assert lic.signature_ref == lic.file + ".sig.json"
            assert (out / "licenses" / lic.signature_ref).is_file()
    assert summary.signed_files == len(licenses) + len(detached)
    assert (out / "pki" / "pki.json").is_file()
    assert list((out / "pki" / "crls").glob("*.pem"))


def test_every_good_license_verifies_and_every_planted_bad_one_fails(signed) -> None:
    """verify_file (what `tongyuan verify` runs) on every license with one trust store;
    the CLI itself, with its exit codes, on one good license per algorithm and every bad
    one (each CLI run loads the trust directory again)."""
    out, summary = signed
    rows = _manifest(out)["signature_defects"]
    bad = {row["license_file"].removeprefix("licenses/"): row for row in rows}
    assert Counter(row["defect"] for row in rows) == Counter(summary.signature_defects)
    assert set(summary.signature_defects) == set(SIGNATURE_DEFECTS)
    trust = TrustStore.load(out / "pki")
    first_of_algorithm: dict[str, str] = {}
    for lic in _licenses(out):
        assert lic.file is not None
        report = verify_file(out / "licenses" / lic.file, trust)
        row = bad.get(lic.file)
        if row is None:
            assert report.passed, (lic.file, report.to_dict())
            assert report.algorithm is not None
            first_of_algorithm.setdefault(report.algorithm, lic.file)
        else:
            assert not report.passed
            got = (report.indication.value, getattr(report.subindication, "value", None))
            assert got == (row["indication"], row["subindication"]), row
    assert {"ecdsa-sha256", "rsa-pkcs1v15-sha256", "sm2-sm3"} <= set(first_of_algorithm)
    for rel in first_of_algorithm.values():
        code, report = _verify(out, rel)
        assert (code, report["indication"]) == (0, "PASSED"), rel
    for rel, row in bad.items():
        code, report = _verify(out, rel)
        assert code == {"FAILED": 1, "INDETERMINATE": 3}[row["indication"]], rel
        assert (report["indication"], report["subindication"]) == (
            row["indication"], row["subindication"],
        )  # fmt: skip


def test_signature_defects_point_at_license_records(signed) -> None:
    out, _ = signed
    licenses = _licenses(out)
    record_defects = {d["record"] for d in _manifest(out)["defects"] if d["kind"] == "license"}
    for row in _manifest(out)["signature_defects"]:
        assert row["file"] == "licenses/licenses.xml"
        assert f"licenses/{licenses[row['record'] - 1].file}" == row["license_file"]
        # A license breaks one thing: its record or its signature, never both.
        assert row["record"] not in record_defects


def test_validate_sees_only_record_files_and_planted_record_defects(signed) -> None:
    out, _ = signed
    found = [p.relative_to(out).as_posix() for p in discover_files([out])]
    assert "licenses/licenses.xml" in found
    assert not [rel for rel in found if rel.startswith(("pki/", "licenses/files/"))]
    report = validate_paths([out], relative_to=out)
    assert report.unreadable_files == 0
    planted = Counter((d["file"], d["record"], d["rule"]) for d in _manifest(out)["defects"])
    assert Counter((e.file, e.record, e.rule) for e in report.errors + report.warnings) == planted


def test_clean_dataset_plants_no_signature_defect(tmp_path: Path) -> None:
    summary = generate_dataset(tmp_path / "d", seed=1, items=40, cases=200)
    assert summary.signature_defects == {}
    assert _manifest(tmp_path / "d")["signature_defects"] == []
