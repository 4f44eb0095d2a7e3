"""Materials delivered over SFTP: the files they cite are downloaded and stored.

Against a real OpenSSH sshd on 127.0.0.1 (tests/sshd.py): the read downloads every file
a material references (checked like the export files), the hub finds it in the source's
local ``folder``, and a file that is absent or wrong quarantines that material with a
``material.file.*`` rule while the rest of the delivery goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sshd import SshServer
from std_factories import AUTHORITY, make_case, make_item, make_material

from adapters.builtin.sftp import SftpSource
from standards.formats import write_records
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.ingest import ingest_department
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.materials import MaterialRow
from tongyuan.loading import Loader
from tongyuan.topology import load_topology

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the storing side is covered on both backends elsewhere


@pytest.fixture
def drop(sshd: SshServer) -> Path:
    return sshd.make_dir(f"drop-{uuid.uuid4().hex[:8]}")


def _config(sshd: SshServer, drop: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": sshd.port,
        "username": sshd.user,
        "remote_dir": str(drop),
        "known_hosts": str(sshd.known_hosts),
        "private_key": str(sshd.client_key),
        "streams": {
            "materials": {"kind": "material", "patterns": ["materials_*.xml"]},
            "cases": {"kind": "case", "patterns": ["cases_*.xml"]},
        },
        "settle_seconds": 0,
        "staging_dir": str(tmp_path / "staging"),
        "connect_timeout": 10,
        "io_timeout": 20,
        "retry_backoff": 0,
    }


def _count(settings: Settings, model: Any) -> int:
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        engine.dispose()


def test_an_sftp_delivery_stores_its_materials_and_the_cases_citing_them(
    sshd: SshServer, drop: Path, tmp_path: Path, settings: Settings, db_url: str
) -> None:
    hub = dataclasses.replace(settings, database_url=db_url)
    items = tmp_path / "items"
    items.mkdir()
    write_records(items / "items.xml", [make_item()])
    loader = Loader(hub)
    try:
        assert not loader.load([items]).failed
    finally:
        loader.close()
    material = make_material(drop, content=PDF)
    write_records(drop / "materials_001.xml", [material])
    write_records(
        drop / "cases_001.xml",
        [make_case(serial=None, material_ids=[material.material_id])],
    )
    config = _config(sshd, drop, tmp_path)
    topology_path = tmp_path / "topology.yaml"
    topology_path.write_text(
        f"""\
name: sftp-materials
nodes:
  - code: "440305"
    source:
      adapter: files
      config:
        path: "{tmp_path / "outbox"}"
        streams: {{items: {{kind: item}}}}
departments:
  - name: 深圳市南山区市场监督管理局
    code: "{AUTHORITY}"
    node: "440305"
    cases:
      adapter: sftp
      config: {json.dumps(config)}
""",
        encoding="utf-8",
    )
    topology = load_topology(topology_path, home=hub.home)
    result = ingest_department(hub, topology, AUTHORITY)
    assert result.status == "committed", result.error
    assert (result.materials_written, result.cases_written, result.quarantined) == (1, 1, 0)
    assert _count(hub, MaterialRow) == 1 and _count(hub, CaseRow) == 1
    # Both export files acknowledged; the cited file stays where the department put it.
    assert sorted(os.listdir(drop / "done")) == ["cases_001.xml", "materials_001.xml"]
    assert (drop / "files" / "a.pdf").read_bytes() == PDF
    # The staged copy is gone once the read is closed: the hub holds it in its blob store.
    tree = SftpSource.from_config(config, base_dir=tmp_path).folder
    assert not [p for p in tree.rglob("*") if p.is_file()]


def _read(source: SftpSource) -> list[Any]:
    read = source.read("materials")
    try:
        envelopes = []
        for envelope in read:
            # What the hub does while the read is open: the file is there to be admitted.
            record = envelope.record
            if envelope.ok and record is not None:
                staged = source.folder / record.file
                assert hashlib.sha256(staged.read_bytes()).hexdigest() == record.sha256
            envelopes.append(envelope)
        return envelopes
    finally:
        read.close()


def test_absent_or_wrong_material_files_are_findings_and_the_rest_goes_on(
    sshd: SshServer, drop: Path, tmp_path: Path
) -> None:
    good = make_material(drop, content=PDF)
    (drop / "files" / "b.pdf").write_bytes(PDF + b"changed")
    (drop / "outside.pdf").write_bytes(PDF)
    os.symlink(drop / "outside.pdf", drop / "files" / "link.pdf")
    digest = hashlib.sha256(PDF).hexdigest()
    records = [
        good,
        good.model_copy(update={"material_id": "M-GONE", "file": "files/gone.pdf"}),
        good.model_copy(
            update={
                "material_id": "M-SHA",
                "file": "files/b.pdf",
                "size": len(PDF) + 7,
                "sha256": digest,
            }
        ),
        good.model_copy(update={"material_id": "M-SIZE", "file": "files/b.pdf"}),
        good.model_copy(update={"material_id": "M-UP", "file": "../outside.pdf"}),
        good.model_copy(update={"material_id": "M-LINK", "file": "files/link.pdf"}),
        good.model_copy(update={"material_id": "M-NODIR", "file": "nodir/a.pdf"}),
    ]
    write_records(drop / "materials_001.xml", records)
    source = SftpSource.from_config(_config(sshd, drop, tmp_path), base_dir=tmp_path)
    envelopes = _read(source)
    found = {e.record.material_id: [(f.rule, f.message) for f in e.findings] for e in envelopes}
    assert found["M1"] == []
    assert [r for r, _ in found["M-GONE"]] == ["material.file.missing"]
    assert "files/gone.pdf" in found["M-GONE"][0][1] and "does not exist" in found["M-GONE"][0][1]
    assert [r for r, _ in found["M-SHA"]] == ["material.file.sha256"]
    assert [r for r, _ in found["M-SIZE"]] == ["material.file.size"]
    assert [r for r, _ in found["M-UP"]] == ["material.file.unsafe_path"]
    assert [r for r, _ in found["M-LINK"]] == ["material.file.missing"]
    assert "symbolic link" in found["M-LINK"][0][1]
    assert [r for r, _ in found["M-NODIR"]] == ["material.file.missing"]
    assert not [p for p in source.folder.rglob("*") if p.is_file()]  # removed at close
    assert not (tmp_path / "outside.pdf").exists()


def test_a_material_file_over_max_file_bytes_is_not_downloaded(
    sshd: SshServer, drop: Path, tmp_path: Path
) -> None:
    material = make_material(drop, content=PDF)
    write_records(drop / "materials_001.xml", [material])
    config = _config(sshd, drop, tmp_path) | {"max_file_bytes": 4096}
    (drop / "files" / "a.pdf").write_bytes(PDF + b"x" * 5000)
    big = material.model_copy(update={"size": len(PDF) + 5000})
    write_records(drop / "materials_001.xml", [big])
    (envelope,) = _read(SftpSource.from_config(config, base_dir=tmp_path))
    assert [f.rule for f in envelope.findings] == ["material.size.limit"]
    assert "max_file_bytes (4096)" in envelope.findings[0].message
