"""A quarantined material keeps its verified file: replay needs no re-delivery.

Against a real OpenSSH sshd on 127.0.0.1 (tests/sshd.py). A department's material
export (mapped JSON lines) maps a company's 证件类型 to 居民身份证 by a wrong code-table
entry: the file is downloaded and verified, the hub's check of the holder ID refuses
the material, and the case citing it waits (``case.material.missing``). The staged copy
is gone when the read ends; the hub keeps the file in ``<blobs>/quarantine/`` so that,
once the mapping is fixed, the replay stores the material and then the case — with the
file gone from the server too. A sweep removes the kept copies no open entry names once
they are older than the grace period (tests/quarantine/test_kept_file_sweep.py): the
tests here age the copy before closing its entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sshd import SshServer
from std_factories import AUTHORITY, make_case

from adapters.builtin.files import FilesSource
from adapters.builtin.sftp import SftpSource
from standards.formats import write_records
from tongyuan.config import Settings
from tongyuan.db import make_engine
from tongyuan.libraries.materials import MaterialRow, blob_path
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.materials.kept import KEPT_GRACE, kept_path, kept_root
from tongyuan.pulling import pull
from tongyuan.quality.files import check_material_files
from tongyuan.quarantine.replay import discard, replay
from tongyuan.quarantine.selection import Selection

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SHA = hashlib.sha256(PDF).hexdigest()

# The department's 证件类型 codes; "QY" (企业) wrongly mapped to 居民身份证 (111).
MAPPING = """\
kind: material
code_tables:
  id_types: {"SFZ": "111", "QY": "111"}
fields:
  material_id: {from: CLBH}
  name: {from: CLMC}
  material_type: {const: 证照}
  holder_name: {from: ZTMC}
  holder_id_type: {from: ZJLX, code_table: id_types}
  holder_id_number: {from: ZJHM}
  file: {from: WJ}
  sha256: {from: SHA}
  size: {from: DX}
  media_type: {const: application/pdf}
"""
FIXED_MAPPING = MAPPING.replace('"QY": "111"', '"QY": "001"')


def _row(material_id: str, file: str = "files/a.pdf", sha256: str = SHA) -> dict[str, Any]:
    return {"CLBH": material_id, "CLMC": "营业执照副本", "ZTMC": "深圳市某某有限公司",
            "ZJLX": "QY", "ZJHM": AUTHORITY, "WJ": file, "SHA": sha256, "DX": len(PDF)}  # fmt: skip


def _deliver(drop: Path, rows: list[dict[str, Any]], name: str = "materials_001.jsonl") -> None:
    (drop / "files").mkdir(exist_ok=True)
    (drop / "files" / "a.pdf").write_bytes(PDF)
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    (drop / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _streams() -> dict[str, Any]:
    return {
        "materials": {"kind": "material", "patterns": ["materials_*.jsonl"],
                      "mapping": "materials.yaml"},
        "cases": {"kind": "case", "patterns": ["cases_*.xml"]},
    }  # fmt: skip


def _sftp(sshd: SshServer, drop: Path, tmp_path: Path) -> SftpSource:
    config = {
        "host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
        "remote_dir": str(drop), "known_hosts": str(sshd.known_hosts),
        "private_key": str(sshd.client_key), "streams": _streams(), "settle_seconds": 0,
        "staging_dir": str(tmp_path / "staging"), "connect_timeout": 10, "io_timeout": 20,
        "retry_backoff": 0,
    }  # fmt: skip
    return SftpSource.from_config(config, base_dir=tmp_path)


def _pull(hub: Settings, source: Any, stream: str, **kwargs: Any) -> Any:
    result = pull(hub, source, stream, source_name="sz-market", base_dir=source.folder, **kwargs)
    assert result.status in ("committed", "dry-run"), result.error
    return result


def _kept_files(hub: Settings) -> list[Path]:
    """The files of the kept area, not the sweep's own (its marker, aside files)."""
    root = kept_root(hub)
    files = (p for p in root.rglob("*") if p.is_file())
    return sorted(p for p in files if not p.relative_to(root).parts[0].startswith("."))


def _age(hub: Settings) -> None:
    """Every kept copy as if kept longer ago than the sweep's grace period."""
    then = time.time() - 2 * KEPT_GRACE.total_seconds()
    for path in _kept_files(hub):
        os.utime(path, (then, then))


def _entries(session: Session) -> list[QuarantineEntry]:
    return list(session.scalars(select(QuarantineEntry).order_by(QuarantineEntry.id)))


@pytest.fixture
def drop(sshd: SshServer) -> Path:
    return sshd.make_dir(f"drop-{uuid.uuid4().hex[:8]}")


def test_a_quarantined_sftp_material_and_its_case_replay_from_the_kept_file(
    hub: Settings, in_session: Any, sshd: SshServer, drop: Path, tmp_path: Path
) -> None:
    (tmp_path / "materials.yaml").write_text(MAPPING, encoding="utf-8")
    _deliver(drop, [_row("M-QY-1")])
    write_records(drop / "cases_001.xml", [make_case(serial=None, material_ids=["M-QY-1"])])
    source = _sftp(sshd, drop, tmp_path)
    assert _pull(hub, source, "materials").quarantined == 1
    assert _pull(hub, source, "cases").quarantined == 1
    material_entry, case_entry = in_session(_entries)
    assert material_entry.kind == "material" and "file" not in material_entry.rule
    assert case_entry.rule == "case.material.missing"
    # The staged copy is gone with the read; the hub kept the verified file, outside the
    # library's store, and the entry names it.
    assert not [p for p in source.folder.rglob("*") if p.is_file()]
    assert material_entry.origin["kept_file"] == SHA
    assert _kept_files(hub) == [kept_path(hub, SHA)]
    assert kept_path(hub, SHA).read_bytes() == PDF
    assert not blob_path(hub, SHA).exists()
    # The department cleans its server: the replay needs neither it nor --files-dir.
    (drop / "files" / "a.pdf").unlink()

    (tmp_path / "materials.yaml").write_text(FIXED_MAPPING, encoding="utf-8")
    _age(hub)
    summary = replay(hub, Selection(ids=(material_entry.id, case_entry.id)))
    assert [(o.outcome, o.rules) for o in summary.outcomes] == [("added", []), ("added", [])]
    assert in_session(lambda s: s.get(MaterialRow, "M-QY-1")).sha256 == SHA
    assert blob_path(hub, SHA).read_bytes() == PDF
    # Handed to the library: the kept copy is gone, no orphan left behind, and the
    # integrity suite finds every material's file.
    assert _kept_files(hub) == []
    engine = make_engine(hub.database_url)
    try:
        rows = {r.rule: (r.evaluated, r.failed) for r in check_material_files(hub, engine)}
    finally:
        engine.dispose()
    assert rows["material.file.missing"] == (1, 0) and rows["material.file.sha256"] == (1, 0)


def test_kept_files_go_with_a_discard_and_a_rollback_and_bad_files_are_not_kept(
    hub: Settings, in_session: Any, sshd: SshServer, drop: Path, tmp_path: Path
) -> None:
    (tmp_path / "materials.yaml").write_text(MAPPING, encoding="utf-8")
    _deliver(drop, [_row("M-QY-1"), _row("M-BAD", sha256="0" * 64)])
    source = _sftp(sshd, drop, tmp_path)
    # A dry run keeps the file while it runs; rolled back, it removes the copy it made.
    assert _pull(hub, source, "materials", dry_run=True).quarantined == 2
    assert _kept_files(hub) == []
    assert _pull(hub, source, "materials").quarantined == 2
    kept, bad = in_session(_entries)
    assert kept.origin["kept_file"] == SHA
    # The file that failed its own check is not kept; its entry says why, as before.
    assert bad.rule == "material.file.sha256" and "kept_file" not in bad.origin
    assert _kept_files(hub) == [kept_path(hub, SHA)]
    # A dry-run replay (fixed mapping) stores nothing and keeps the copy for the real one.
    (tmp_path / "materials.yaml").write_text(FIXED_MAPPING, encoding="utf-8")
    assert replay(hub, Selection(ids=(kept.id,)), dry_run=True).accepted == 1
    assert _kept_files(hub) == [kept_path(hub, SHA)]
    _age(hub)
    discard(hub, [kept.id], reason="withdrawn by the department")
    assert _kept_files(hub) == []


def test_an_entry_superseded_by_a_new_delivery_leaves_no_kept_file(
    hub: Settings, in_session: Any, sshd: SshServer, drop: Path, tmp_path: Path
) -> None:
    (tmp_path / "materials.yaml").write_text(MAPPING, encoding="utf-8")
    _deliver(drop, [_row("M-QY-1")])
    source = _sftp(sshd, drop, tmp_path)
    assert _pull(hub, source, "materials").quarantined == 1
    assert _kept_files(hub) == [kept_path(hub, SHA)]
    # The mapping is fixed and the department delivers the material again.
    (tmp_path / "materials.yaml").write_text(FIXED_MAPPING, encoding="utf-8")
    _deliver(drop, [{**_row("M-QY-1"), "CLMC": "营业执照副本（新）"}], "materials_002.jsonl")
    assert _pull(hub, _sftp(sshd, drop, tmp_path), "materials").added == 1
    (entry,) = in_session(_entries)
    _age(hub)
    assert [o.outcome for o in replay(hub, Selection(ids=(entry.id,))).outcomes] == ["superseded"]
    assert _kept_files(hub) == []
    assert blob_path(hub, SHA).read_bytes() == PDF  # the library's copy is untouched


def test_a_files_drop_material_replays_after_the_department_removed_the_file(
    hub: Settings, in_session: Any, tmp_path: Path
) -> None:
    """The ``files`` source has the same gap (its files stay the department's to remove)."""
    drop = tmp_path / "drop"
    drop.mkdir()
    (tmp_path / "materials.yaml").write_text(MAPPING, encoding="utf-8")
    _deliver(drop, [_row("M-QY-1")])
    config = {"path": "drop", "streams": _streams(), "settle_seconds": 0,
              "staging_dir": str(tmp_path / "staging")}  # fmt: skip
    source = FilesSource.from_config(config, base_dir=tmp_path)
    assert _pull(hub, source, "materials").quarantined == 1
    (drop / "files" / "a.pdf").unlink()
    (tmp_path / "materials.yaml").write_text(FIXED_MAPPING, encoding="utf-8")
    (entry,) = in_session(_entries)
    _age(hub)
    assert [o.outcome for o in replay(hub, Selection(ids=(entry.id,))).outcomes] == ["added"]
    assert blob_path(hub, SHA).read_bytes() == PDF and _kept_files(hub) == []
