"""The downloader of materials' files: each parent folder is checked once per read.

Over SFTP every check is a round trip; a delivery of 100k materials under ``files/``
re-checked that one folder for each of them."""

from __future__ import annotations

from pathlib import Path

from std_factories import make_material

from adapters.builtin.drop_files import MaterialFiles
from adapters.builtin.files import LocalFolder


class CountingFolder(LocalFolder):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.stats: list[str] = []

    def stat(self, name: str):  # type: ignore[no-untyped-def]
        self.stats.append(name)
        return super().stat(name)


def test_a_parent_folder_is_checked_once_per_read(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (tmp_path / "scratch").mkdir()
    materials = []
    for i, name in enumerate(("files/a.pdf", "files/b.pdf", "files/c.pdf")):
        content = f"扫描件 {i}".encode()
        m = make_material(tmp_path / "scratch", content=content, material_id=f"M{i}")
        (drop / name).parent.mkdir(exist_ok=True)
        (drop / name).write_bytes(content)
        materials.append(m.model_copy(update={"file": name}))
    folder = CountingFolder(drop)
    files = MaterialFiles(tmp_path / "tree", tmp_path / "parts", max_bytes=1 << 20)
    assert [files.fetch(folder, m) for m in materials] == [None, None, None]
    parent = materials[0].file.split("/")[0]
    assert folder.stats.count(parent) == 1
    files.clear()
    files.fetch(folder, materials[0])  # a new read checks again
    assert folder.stats.count(parent) == 2
