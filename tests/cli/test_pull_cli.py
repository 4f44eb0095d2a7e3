"""`tongyuan pull` end to end: a drop folder into the libraries, state kept, files acked."""

from __future__ import annotations

import textwrap

from sqlalchemy import func, select
from typer.testing import CliRunner

from tongyuan.cli import app
from tongyuan.config import load_settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.generate import generate_dataset
from tongyuan.libraries.adapter_states import load_state
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.quarantine import QuarantineEntry

runner = CliRunner()


def _counts():
    engine = make_engine(load_settings().database_url)
    try:
        with make_session_factory(engine)() as s:
            return (
                s.scalar(select(func.count()).select_from(CaseRow)),
                s.scalar(select(func.count()).select_from(QuarantineEntry)),
                load_state(s, "market", "cases"),
            )
    finally:
        engine.dispose()


def test_pull_a_drop_folder_twice(tmp_path):
    dataset = tmp_path / "dataset"
    generate_dataset(dataset, seed=3, items=40, cases=300, bad_rate=0.05)
    drop = tmp_path / "drop"
    drop.mkdir()
    (dataset / "cases" / "cases.xml").rename(drop / "cases_20260301.xml")
    config = tmp_path / "market.yaml"
    config.write_text(
        textwrap.dedent(f"""
        path: {drop}
        settle_seconds: 0
        streams:
          cases: {{patterns: ["cases_*.xml"], kind: case}}
        """),
        encoding="utf-8",
    )
    args = ["pull", "files", "--config", str(config), "--stream", "cases", "--name", "market"]
    first = runner.invoke(app, args, terminal_width=160)
    assert first.exit_code == 0, first.output
    cases, quarantined, state = _counts()
    assert cases + quarantined == 300 and quarantined >= 15
    assert state and (drop / "done" / "cases_20260301.xml").exists()
    assert not (drop / "cases_20260301.xml").exists()

    second = runner.invoke(app, args, terminal_width=160)
    assert second.exit_code == 0, second.output
    assert _counts()[:2] == (cases, quarantined)


def test_pull_with_a_bad_config_exits_2(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("path: /nonexistent\nstreams: {}\nbogus: 1\n", encoding="utf-8")
    result = runner.invoke(app, ["pull", "files", "--config", str(config), "--stream", "cases"])
    assert result.exit_code == 2
    assert "bogus" in result.output


def test_pull_files_materials_finds_the_files_in_the_drop_folder(tmp_path):
    """The files source's folder is where its materials' files are: passed as base_dir."""
    from std_factories import make_material

    from standards.formats import write_records
    from tongyuan.libraries.materials import MaterialRow

    drop = tmp_path / "drop"
    drop.mkdir()
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    write_records(drop / "materials_001.xml", [make_material(drop, content=pdf)])
    config = tmp_path / "localmat.yaml"
    config.write_text(
        f"path: {drop}\nsettle_seconds: 0\n"
        'streams:\n  materials: {kind: material, patterns: ["materials_*.xml"]}\n',
        encoding="utf-8",
    )
    args = ["pull", "files", "--config", str(config), "--stream", "materials", "--name", "m"]
    result = runner.invoke(app, args, terminal_width=160)
    assert result.exit_code == 0, result.output
    engine = make_engine(load_settings().database_url)
    try:
        with make_session_factory(engine)() as s:
            assert s.scalar(select(func.count()).select_from(MaterialRow)) == 1
            assert s.scalar(select(func.count()).select_from(QuarantineEntry)) == 0
    finally:
        engine.dispose()
