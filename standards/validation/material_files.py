"""Checks that a manifest entry's file is there, inside the drop, and is what it claims."""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from standards.records import Material
from standards.validation.findings import Finding

_CHUNK = 1 << 20


def safe_relative_path(base_dir: Path, name: str) -> Path | None:
    """``base_dir / name`` if ``name`` is a plain relative path that stays inside base_dir.

    Refuses absolute paths, drive letters, backslashes, ``..`` segments and paths whose
    resolution (following symlinks) leaves the folder: a manifest is untrusted input.
    """
    if not name or "\\" in name or "\x00" in name or ":" in name:
        return None
    pure = PurePosixPath(name)
    if pure.is_absolute() or any(part in ("..", "") for part in pure.parts):
        return None
    candidate = base_dir / pure
    try:
        resolved = candidate.resolve()
        root = base_dir.resolve()
    except OSError:
        return None
    if resolved != root and root not in resolved.parents:
        return None
    return candidate


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in chunks so large files use constant memory."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_material_file(material: Material, base_dir: Path) -> list[Finding]:
    """Findings about the file a manifest entry points to (size first, then content)."""
    path = safe_relative_path(base_dir, material.file)
    if path is None:
        return [
            Finding(
                "material.file.unsafe_path",
                f"file name {material.file!r} is absolute or leaves the manifest's folder",
                "file",
            )
        ]
    if not path.is_file() or path.is_symlink():
        return [Finding("material.file.missing", f"file {material.file} not found", "file")]
    size = path.stat().st_size
    if size != material.size:
        return [
            Finding(
                "material.file.size",
                f"file {material.file} has {size} bytes, the manifest says {material.size}",
                "size",
            )
        ]
    if file_sha256(path) != material.sha256:
        return [
            Finding(
                "material.file.sha256",
                f"file {material.file} content does not match its sha256",
                "sha256",
            )
        ]
    return []
