"""Materials through the real load path: hostile files quarantined, content stored once."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
import zips
from sqlalchemy import func, select
from std_factories import make_case, make_item, make_material

from standards.formats import write_records
from tongyuan.libraries.materials import BlobRow, MaterialRow, blob_path
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.loading import Loader

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def loader(settings, db_url):
    hub = Loader(dataclasses.replace(settings, database_url=db_url))
    yield hub
    hub.close()


def material_file(folder: Path, name: str, content: bytes, **over):
    folder.mkdir(parents=True, exist_ok=True)
    data = dict(
        file=f"files/{name}",
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )
    data.update(over)
    material = make_material(folder, content=content, **data)  # writes files/a.pdf
    (folder / "files" / name).write_bytes(content)
    return material


def drop_with(root: Path, materials, cases=()) -> Path:
    for sub in ("items", "materials", "cases"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    write_records(root / "items" / "items.xml", [make_item()])
    write_records(root / "materials" / "manifest.xml", list(materials))
    if cases:
        write_records(root / "cases" / "cases.xml", list(cases))
    return root


def open_rules(loader) -> dict[str, set[str]]:
    with loader.sessions() as session:
        entries = session.scalars(select(QuarantineEntry).where(QuarantineEntry.status == "open"))
        return {e.kind: {r["rule"] for r in e.rules} for e in entries}


def test_hostile_zip_is_quarantined_and_so_is_the_case_citing_it(loader, tmp_path):
    root = tmp_path / "drop"
    hostile = material_file(
        root / "materials", "附件.zip", zips.zip_slip(), media_type="application/zip"
    )
    case = make_case(material_ids=[hostile.material_id])
    summary = loader.load([drop_with(root, [hostile], [case])], relative_to=root)
    totals = summary.totals()
    assert totals["material"]["quarantined"] == 1 and totals["material"]["added"] == 0
    assert totals["case"]["quarantined"] == 1
    rules = open_rules(loader)
    assert rules["material"] == {"material.archive.path"}
    assert "case.material.missing" in rules["case"]
    with loader.sessions() as session:
        case_entry = session.scalars(select(QuarantineEntry).where(QuarantineEntry.kind == "case"))
        (missing,) = [r for r in case_entry.one().rules if r["rule"] == "case.material.missing"]
    assert "delivered but is in quarantine" in missing["message"]  # not "never delivered"
    # Nothing of the hostile archive stays in the store, nothing was extracted.
    assert not blob_path(loader.settings, hostile.sha256).exists()
    assert not (tmp_path / "etc").exists() and not (root.parent.parent / "etc").exists()
    with loader.sessions() as session:
        assert session.scalar(select(func.count()).select_from(BlobRow)) == 0


def test_declared_media_type_must_agree_with_the_content(loader, tmp_path):
    root = tmp_path / "drop"
    liar = material_file(root / "materials", "scan.pdf", PNG, media_type="application/pdf")
    loader.load([drop_with(root, [liar])], relative_to=root)
    assert open_rules(loader) == {"material": {"material.media_type.mismatch"}}


def test_a_zip_hidden_behind_a_pdf_header_is_refused(loader, tmp_path):
    """A polyglot: sniffed as a PDF by its first bytes, opened as an archive by unzip."""
    root = tmp_path / "drop"
    polyglot = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + zips.zip_slip()
    hidden = material_file(root / "materials", "scan.pdf", polyglot, media_type="application/pdf")
    plain_pdf = material_file(root / "materials", "plain.pdf", b"%PDF-1.7\n" + bytes(70_000),
                              material_id="M2", media_type="application/pdf")  # fmt: skip
    summary = loader.load([drop_with(root, [hidden, plain_pdf])], relative_to=root)
    assert summary.totals()["material"] == {**summary.totals()["material"], "added": 1,
                                            "quarantined": 1}  # fmt: skip
    assert open_rules(loader) == {"material": {"material.media_type.mismatch"}}
    assert not blob_path(loader.settings, hidden.sha256).exists()


def test_zip_based_formats_agree_with_zip_content_and_record_the_sniffed_type(loader, tmp_path):
    root = tmp_path / "drop"
    ofd = material_file(root / "materials", "证照.ofd", zips.safe(), media_type="application/ofd")
    jpg = material_file(root / "materials", "photo.jpg", b"\xff\xd8\xff\xe0" + bytes(64),
                        material_id="M2", media_type="image/jpg")  # fmt: skip
    summary = loader.load([drop_with(root, [ofd, jpg])], relative_to=root)
    assert summary.totals()["material"]["added"] == 2
    with loader.sessions() as session:
        sniffed = dict(session.execute(select(BlobRow.sha256, BlobRow.sniffed_media_type)).all())
    assert sniffed == {ofd.sha256: "application/zip", jpg.sha256: "image/jpeg"}


def test_size_limit_is_configurable_and_the_error_names_it(loader, tmp_path, monkeypatch):
    monkeypatch.setenv("TONGYUAN_MATERIAL_MAX_BYTES", "100")
    root = tmp_path / "drop"
    big = material_file(root / "materials", "big.pdf", b"%PDF-1.7\n" + bytes(200))
    loader.load([drop_with(root, [big])], relative_to=root)
    assert open_rules(loader) == {"material": {"material.size.limit"}}
    with loader.sessions() as session:
        entry = session.scalars(select(QuarantineEntry)).one()
    assert "TONGYUAN_MATERIAL_MAX_BYTES" in entry.rules[0]["message"]
    assert "100" in entry.rules[0]["message"]


def test_same_content_in_two_cases_is_stored_once(loader, tmp_path):
    content = b"%PDF-1.7\n" + "身份证复印件".encode() * 50
    first_root, second_root = tmp_path / "d1", tmp_path / "d2"
    one = material_file(first_root / "materials", "a.pdf", content, source_case="SC1")
    two = material_file(second_root / "materials", "b.pdf", content, material_id="M2",
                        holder_name="李娜", source_case="SC2")  # fmt: skip
    loader.load([drop_with(first_root, [one])], relative_to=first_root)
    loader.load([drop_with(second_root, [two])], relative_to=second_root)
    with loader.sessions() as session:
        assert session.scalar(select(func.count()).select_from(BlobRow)) == 1
        rows = session.scalars(select(MaterialRow).order_by(MaterialRow.material_id)).all()
    assert [(r.material_id, r.sha256, r.source_case) for r in rows] == [
        ("M1", one.sha256, "SC1"),
        ("M2", one.sha256, "SC2"),
    ]
    stored = [p for p in loader.settings.blobs_dir.rglob("*") if p.is_file()]
    assert stored == [blob_path(loader.settings, one.sha256)]


@pytest.mark.parametrize("folder", ["none", "elsewhere"])
def test_a_material_whose_file_is_not_found_is_quarantined_with_a_file_rule(
    settings, db_url, tmp_path, folder
):
    """A source without a folder (or the wrong one): material.file.missing saying which
    file and what to do, not a generic library.conflict."""
    from adapters.builtin.files import FilesSource
    from tongyuan.pulling import pull

    hub = dataclasses.replace(settings, database_url=db_url)
    drop = tmp_path / "drop"
    drop.mkdir()
    write_records(drop / "materials_001.xml", [make_material(drop, content=PNG,
                                                             media_type="image/png")])  # fmt: skip
    source = FilesSource.from_config(
        {"path": str(drop), "settle_seconds": 0,
         "streams": {"materials": {"kind": "material", "patterns": ["materials_*.xml"]}}},
    )  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    base_dir = None if folder == "none" else elsewhere
    result = pull(hub, source, "materials", source_name="m", base_dir=base_dir)
    assert result.status == "committed" and result.quarantined == 1
    assert dict(result.rules) == {"material.file.missing": 1}
    loader = Loader(hub)
    try:
        with loader.sessions() as session:
            (entry,) = session.scalars(select(QuarantineEntry))
            (message,) = [r["message"] for r in entry.rules]
    finally:
        loader.close()
    assert "files/a.pdf" in message
    assert ("--files-dir" in message) if folder == "none" else (str(elsewhere) in message)
