"""Kept copies of quarantined materials' files: who keeps them and when they go.

Copies are removed by a sweep only (no open entry names the copy, and it is older than
the grace period by its modification time), never when an entry closes: a batch that
keeps the same content while another entry closes touches the copy, and its entry is
committed later. Both backends (the ``hub`` fixture); the material export and mapping
are those of test_replay_kept_files.py (a company's 证件类型 mapped to 居民身份证).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_replay_kept_files import (
    FIXED_MAPPING,
    MAPPING,
    PDF,
    SHA,
    _age,
    _entries,
    _kept_files,
    _pull,
    _row,
    _streams,
)
from typer.testing import CliRunner

import tongyuan.materials.kept as kept_module
from adapters.builtin.files import FilesSource
from standards.records import Material, SourceLocation
from standards.validation.findings import Finding
from tongyuan.config import ENV_DATABASE_URL, ENV_PII_KEY, Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.batches import open_batch
from tongyuan.libraries.quarantine import add_quarantined
from tongyuan.materials.kept import (
    KEPT_GRACE,
    keep_material_file,
    kept_path,
    kept_root,
    sweep_kept_files,
    with_kept_file,
)
from tongyuan.privacy import PiiProtector
from tongyuan.quarantine.replay import discard, replay
from tongyuan.quarantine.selection import Selection

OTHER = b"%PDF-1.4\n2 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
OTHER_SHA = hashlib.sha256(OTHER).hexdigest()


def _drop(tmp_path: Path, rows: list[dict[str, Any]], files: dict[str, bytes]) -> None:
    drop = tmp_path / "drop"
    (drop / "files").mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (drop / name).write_bytes(data)
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
    (drop / "materials_001.jsonl").write_text(lines, encoding="utf-8")


def _source(tmp_path: Path, mapping: str = MAPPING) -> FilesSource:
    (tmp_path / "materials.yaml").write_text(mapping, encoding="utf-8")
    config = {"path": "drop", "streams": _streams(), "settle_seconds": 0,
              "staging_dir": str(tmp_path / "staging")}  # fmt: skip
    return FilesSource.from_config(config, base_dir=tmp_path)


def _material(material_id: str) -> Material:
    return Material.model_validate(
        {"material_id": material_id, "name": "营业执照副本", "material_type": "证照",
         "holder_name": "深圳市某某有限公司", "holder_id_type": "001",
         "holder_id_number": "91110000600037341L", "file": "files/a.pdf", "sha256": SHA,
         "size": len(PDF), "media_type": "application/pdf"}
    )  # fmt: skip


def test_a_copy_a_running_batch_kept_survives_the_discard_of_the_entry_that_named_it(
    hub: Settings, in_session: Any, tmp_path: Path
) -> None:
    """Finding 1: the discard of E1 ends while another transaction has kept the same
    content for E2 and not committed yet; E2 must name a copy that is there."""
    _drop(tmp_path, [_row("M-QY-1")], {"files/a.pdf": PDF})
    assert _pull(hub, _source(tmp_path), "materials").quarantined == 1
    (e1,) = in_session(_entries)
    _age(hub)  # kept long ago: only the running batch's touch makes it young
    engine = make_engine(hub.database_url)
    try:
        running = make_session_factory(engine)()
        running.begin()
        finding = Finding("material.holder_id.invalid", "m", None)
        sha, problems = keep_material_file(
            hub, running, _material("M-2"), [finding], base_dir=tmp_path / "drop"
        )
        assert (sha, problems) == (SHA, [])
        discard(hub, [e1.id], reason="withdrawn")  # its sweep runs once it committed
        batch = open_batch(running, "load.material", "test")
        add_quarantined(
            running, batch.id, kind="material", location=SourceLocation("m2.jsonl", 1, 1),
            payload={"CLBH": "M-2"}, findings=[finding],
            protector=PiiProtector(hub.pii_key()), origin=with_kept_file({"path": "load"}, sha),
        )  # fmt: skip
        running.commit()
        running.close()
    finally:
        engine.dispose()
    assert kept_path(hub, SHA).read_bytes() == PDF


def test_two_entries_share_one_copy_until_both_are_closed(
    hub: Settings, in_session: Any, tmp_path: Path
) -> None:
    _drop(tmp_path, [_row("M-QY-1"), _row("M-QY-2")], {"files/a.pdf": PDF})
    assert _pull(hub, _source(tmp_path), "materials").quarantined == 2
    first, second = in_session(_entries)
    assert first.origin["kept_file"] == second.origin["kept_file"] == SHA
    _age(hub)
    discard(hub, [first.id], reason="withdrawn")
    assert _kept_files(hub) == [kept_path(hub, SHA)]  # still the second entry's
    (tmp_path / "drop" / "files" / "a.pdf").unlink()
    (tmp_path / "materials.yaml").write_text(FIXED_MAPPING, encoding="utf-8")
    assert [o.outcome for o in replay(hub, Selection(ids=(second.id,))).outcomes] == ["added"]
    assert _kept_files(hub) == []


def test_the_sweep_removes_only_old_copies_no_open_entry_names(
    hub: Settings, in_session: Any, tmp_path: Path
) -> None:
    _drop(tmp_path, [_row("M-QY-1")], {"files/a.pdf": PDF})
    assert _pull(hub, _source(tmp_path), "materials").quarantined == 1
    unnamed = kept_path(hub, OTHER_SHA)
    unnamed.parent.mkdir(parents=True)
    unnamed.write_bytes(OTHER)
    stray = kept_root(hub) / "README"  # not a kept copy's place: left alone
    stray.write_text("x", encoding="utf-8")
    engine = make_engine(hub.database_url)
    try:
        # Young (within the grace period): a batch may still commit an entry naming it.
        assert sweep_kept_files(hub, engine) == 0
        assert sorted(_kept_files(hub)) == sorted([kept_path(hub, SHA), unnamed, stray])
        _age(hub)
        assert sweep_kept_files(hub, engine) == 1
        assert sorted(_kept_files(hub)) == sorted([kept_path(hub, SHA), stray])
        assert not unnamed.parent.exists()  # its emptied shard folders are pruned too
        # Its entry closed two minutes after the copy was kept: it waits for the grace.
        two_minutes_ago = time.time() - 120
        os.utime(kept_path(hub, SHA), (two_minutes_ago, two_minutes_ago))
        (e,) = in_session(_entries)
        discard(hub, [e.id], reason="withdrawn")
        assert kept_path(hub, SHA).exists()
        assert sweep_kept_files(hub, engine, grace=timedelta(minutes=5)) == 0
        assert sweep_kept_files(hub, engine, grace=timedelta(minutes=1)) == 1
    finally:
        engine.dispose()
    assert _kept_files(hub) == [stray]


def test_a_replay_keeping_another_file_leaves_no_orphan_of_the_first(
    hub: Settings, in_session: Any, tmp_path: Path
) -> None:
    """Finding 5: the fixed mapping points at another file while the holder is still
    wrong; the entry now names the second copy, and the first goes with the sweep."""
    row = {**_row("M-QY-1"), "WJ2": "files/b.pdf", "SHA2": OTHER_SHA, "DX2": len(OTHER)}
    _drop(tmp_path, [row], {"files/a.pdf": PDF, "files/b.pdf": OTHER})
    assert _pull(hub, _source(tmp_path), "materials").quarantined == 1
    (entry,) = in_session(_entries)
    assert entry.origin["kept_file"] == SHA
    other_columns = (
        MAPPING.replace("{from: WJ}", "{from: WJ2}")
        .replace("{from: SHA}", "{from: SHA2}")
        .replace("{from: DX}", "{from: DX2}")
    )
    (tmp_path / "materials.yaml").write_text(other_columns, encoding="utf-8")
    _age(hub)
    outcomes = replay(hub, Selection(ids=(entry.id,))).outcomes
    assert [o.outcome for o in outcomes] == ["quarantined"]
    (entry,) = in_session(_entries)
    assert entry.origin["kept_file"] == OTHER_SHA
    assert _kept_files(hub) == [kept_path(hub, OTHER_SHA)]


def test_a_repeat_delivery_gives_the_open_entry_the_copy_its_first_delivery_lacked(
    hub: Settings, in_session: Any, tmp_path: Path
) -> None:
    """Finding 6: the first delivery's file was missing (not kept); the same record
    delivered again with its file names the copy kept this time, on the same open entry."""
    _drop(tmp_path, [_row("M-QY-1")], {})
    assert _pull(hub, _source(tmp_path), "materials").quarantined == 1
    (entry,) = in_session(_entries)
    assert "kept_file" not in entry.origin
    assert "material.file.missing" in [r["rule"] for r in entry.rules]
    # The same export file again (the first one was acknowledged), now with its file.
    _drop(tmp_path, [_row("M-QY-1")], {"files/a.pdf": PDF})
    assert _pull(hub, _source(tmp_path), "materials").quarantined == 1
    (entry,) = in_session(_entries)
    assert entry.origin["kept_file"] == SHA
    assert "material.file.missing" not in [r["rule"] for r in entry.rules]
    assert _kept_files(hub) == [kept_path(hub, SHA)]


def test_a_hostile_archive_is_not_kept_and_its_entry_says_why(
    hub: Settings, in_session: Any, tmp_path: Path
) -> None:
    """Finding 4: quarantined for its holder ID, the file is also a zip with a
    ``../`` entry: the copy is judged as admission judges it and is not kept."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/evil", "x")
    data = buffer.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    row = {**_row("M-QY-Z", file="files/z.zip", sha256=sha), "DX": len(data)}
    _drop(tmp_path, [row], {"files/z.zip": data})
    assert _pull(hub, _source(tmp_path), "materials").quarantined == 1
    (entry,) = in_session(_entries)
    assert "kept_file" not in entry.origin
    assert any(r["rule"].startswith("material.archive.") for r in entry.rules)
    assert _kept_files(hub) == []


def test_a_hub_disk_error_keeps_no_copy_and_is_no_department_rule(
    hub: Settings, in_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """Finding 3: the hub's own disk failing is logged (masked), not the department's
    ``material.file.sha256``."""

    def full_disk(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(kept_module, "store_blob", full_disk)
    person = "11010519491231002X"  # in the file's name: the log line masks it
    row = _row("M-QY-1", file=f"files/{person}.pdf")
    _drop(tmp_path, [row], {f"files/{person}.pdf": PDF})
    with caplog.at_level(logging.WARNING, logger="tongyuan.materials.kept"):
        assert _pull(hub, _source(tmp_path), "materials").quarantined == 1
    (entry,) = in_session(_entries)
    assert "kept_file" not in entry.origin
    assert not [r for r in entry.rules if r["rule"].startswith("material.file.")]
    (record,) = [r for r in caplog.records if r.name == "tongyuan.materials.kept"]
    assert "No space left on device" in record.getMessage()
    assert "was not kept for replay" in record.getMessage()
    assert person not in record.getMessage()


def test_show_says_whether_the_copy_is_still_there(
    hub: Settings, in_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 7: the line is for an open entry whose copy is there; otherwise it says
    the copy is gone (lost) or no longer kept (the entry closed)."""
    from tongyuan.cli import app, common

    monkeypatch.setenv(ENV_DATABASE_URL, hub.database_url)
    monkeypatch.setenv(ENV_PII_KEY, hub.pii_key_b64)
    monkeypatch.setattr(common.console, "_width", 200)
    runner = CliRunner()

    def show(entry_id: int) -> str:
        result = runner.invoke(app, ["quarantine", "show", str(entry_id)], terminal_width=200)
        assert result.exit_code == 0, result.output
        return result.output

    _drop(tmp_path, [_row("M-QY-1"), _row("M-QY-2")], {"files/a.pdf": PDF})
    assert _pull(hub, _source(tmp_path), "materials").quarantined == 2
    first, second = in_session(_entries)
    assert f"material file kept for replay: sha256 {SHA}\n" in show(first.id)
    discard(hub, [first.id], reason="withdrawn")  # young: the copy stays for the second
    assert "kept for replay" not in show(first.id)
    assert "kept while the entry was open" in show(first.id)
    kept_path(hub, SHA).unlink()  # lost
    assert "the copy is gone" in show(second.id)
    result = runner.invoke(app, ["quarantine", "show", str(second.id), "--json"])
    assert json.loads(result.output)["kept_copy"] == {"sha256": SHA, "state": "missing"}
    result = runner.invoke(app, ["quarantine", "show", str(first.id), "--json"])
    assert json.loads(result.output)["kept_copy"] == {"sha256": SHA, "state": "released"}


def test_the_daily_quality_run_sweeps_the_kept_area(
    hub: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dry run's copy on a hub where nothing is replayed goes with the quality run."""
    import tongyuan.orchestration.tasks as tasks
    import tongyuan.quality as quality

    monkeypatch.setenv(ENV_DATABASE_URL, hub.database_url)
    monkeypatch.setenv(ENV_PII_KEY, hub.pii_key_b64)
    monkeypatch.setattr(quality, "run_quality", lambda *a, **k: _NoRun())
    left = kept_path(hub, OTHER_SHA)
    left.parent.mkdir(parents=True)
    left.write_bytes(OTHER)
    then = time.time() - 2 * KEPT_GRACE.total_seconds()
    os.utime(left, (then, then))
    tasks.quality_run()
    assert _kept_files(hub) == []


class _NoRun:
    run_id, status, evaluated, failed = "r", "passed", 0, 0
