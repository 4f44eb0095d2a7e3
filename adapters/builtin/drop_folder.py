"""Drop-folder files: which names are safe, the transport interface, manifests.

Shared by the ``files`` and ``sftp`` sources (see :mod:`adapters.builtin.drop`).
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from adapters.sdk import AdapterError
from standards.formats.manifest_json import ManifestJsonError, load_manifest_json, name_collision
from standards.privacy import mask_text

MANIFEST_NAME = "MANIFEST.json"
SIDECAR_SUFFIX = ".sha256"
MARKER_SUFFIX = ".done"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".partial", ".filepart", ".crdownload")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_SURROGATE = re.compile(r"\\udc([89a-f][0-9a-f])")  # an undecodable byte, as repr() shows it
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- names


def unsafe_name_reason(name: str) -> str | None:
    """Why a listed name must not be touched, or None when it is a plain name.

    A hostile or broken server can return any bytes from a directory listing; a name is
    only ever joined to the drop folder after this check passes.
    """
    if not name:
        return "the name is empty"
    if "\x00" in name:
        return "the name contains a NUL character"
    if name.startswith("/"):
        return "the name is an absolute path"
    if "/" in name or "\\" in name:
        return "the name contains a path separator and could leave the drop folder"
    if name in (".", ".."):
        return "the name refers to a directory, not a file in it"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "the name contains control characters"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        # Bytes that are not UTF-8 (a GBK name), kept as surrogates by the listing.
        return (
            "the name is not UTF-8 (bytes shown as \\xNN); rename the file with a UTF-8 "
            "name to have it read"
        )
    if len(name.encode("utf-8", "surrogateescape")) > 255:
        return "the name is longer than 255 bytes"
    return None


def in_progress(name: str) -> bool:
    """Names that by convention mark a file still being written."""
    lower = name.lower()
    return name.startswith(".") or name.endswith("~") or lower.endswith(IN_PROGRESS_SUFFIXES)


def shown_name(name: str) -> str:
    """A name as messages show it: quoted, shortened, ID numbers in it masked."""
    text = mask_text(_SURROGATE.sub(r"\\x\1", repr(name)))
    return text if len(text) <= 90 else text[:87] + "…'"


# --------------------------------------------------------------------------- transport


@dataclass(frozen=True, slots=True)
class Entry:
    """One name of a folder listing, with what ``lstat`` said about it."""

    name: str
    type: Literal["file", "dir", "symlink", "other"]
    size: int
    mtime: int  # whatever resolution the transport has (ns locally, seconds over SFTP)


class FileChanged(AdapterError):
    """The source file changed while it was being copied (the copy is discarded)."""


class DropFolder(ABC):
    """The transport to one drop folder. Every ``name`` given to it is already validated."""

    @abstractmethod
    def location(self, name: str) -> str:
        """A stable, secret-free name of the file for source locations and messages."""

    @abstractmethod
    def list(self) -> list[Entry]:
        """Everything in the folder, without following symbolic links."""

    @abstractmethod
    def stat(self, name: str) -> Entry | None:
        """The entry for one name now, or None when it is gone."""

    @abstractmethod
    def symlink_escapes(self, name: str) -> bool:
        """Whether the symbolic link ``name`` resolves outside the drop folder."""

    @abstractmethod
    def fetch(self, name: str, entry: Entry, part: Path) -> None:
        """Copy the file into ``part`` (complete, or raise); FileChanged if it moved under us."""

    @abstractmethod
    def read_small(self, name: str, limit: int) -> bytes:
        """The whole content of a small file (a manifest, a sidecar, a marker)."""

    @abstractmethod
    def move_to_done(self, name: str, done_dir: str) -> str:
        """Move ``name`` into ``done_dir`` (created when missing); return where it went."""

    @abstractmethod
    def write_small(self, name: str, data: bytes) -> None:
        """Create or replace a small file atomically (a marker)."""

    def close(self) -> None:  # noqa: B027 - local folders hold nothing open
        """Release connections."""


def free_done_name(name: str, taken: Callable[[str], bool]) -> str:
    """A name in ``done/`` that does not overwrite an earlier delivery of the same name."""
    if not taken(name):
        return name
    stem, dot, suffix = name.partition(".")
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    for n in range(1, 10_000):
        candidate = f"{stem}.{stamp}-{n}{dot}{suffix}"
        if not taken(candidate):
            return candidate
    raise AdapterError(f"no free name in the done folder for {shown_name(name)}")


# --------------------------------------------------------------------------- manifests


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    size: int | None
    sha256: str | None
    origin: str


class Manifest:
    """Sizes and digests a department declared for its files (MANIFEST.json)."""

    def __init__(self, entries: dict[str, ManifestEntry]) -> None:
        self.entries = entries

    @classmethod
    def parse(cls, data: bytes, origin: str) -> Manifest:
        """Entries by name; read as ``signing.manifest`` reads a signed one (BOM accepted,
        a name listed twice or differing from another only by case or Unicode
        normalisation refused), so ingestion and ``tongyuan verify`` agree."""
        try:
            doc = load_manifest_json(data)
        except ManifestJsonError as exc:
            raise AdapterError(f"{origin}: {exc.describe(shown_name)}") from None
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, dict):
            raise AdapterError(
                f'{origin}: expected {{"files": {{"NAME": {{"size": N, "sha256": "HEX"}}}}}}'
            )
        entries: dict[str, ManifestEntry] = {}
        for name, spec in files.items():
            reason = unsafe_name_reason(name)
            if reason is not None:
                raise AdapterError(f"{origin}: entry {shown_name(name)} refused: {reason}")
            if not isinstance(spec, dict):
                raise AdapterError(f"{origin}: entry {shown_name(name)} must be an object")
            size, digest = spec.get("size"), spec.get("sha256")
            if size is not None and (not isinstance(size, int) or size < 0):
                raise AdapterError(f"{origin}: entry {shown_name(name)}: size must be an integer")
            if digest is not None and (not isinstance(digest, str) or not _HEX64.match(digest)):
                raise AdapterError(
                    f"{origin}: entry {shown_name(name)}: sha256 must be 64 hexadecimal digits"
                )
            if size is None and digest is None:
                raise AdapterError(
                    f"{origin}: entry {shown_name(name)} gives neither size nor sha256"
                )
            entries[name] = ManifestEntry(size, digest.lower() if digest else None, origin)
        if (collision := name_collision(entries)) is not None:
            raise AdapterError(f"{origin}: {collision.describe(shown_name)}")
        return cls(entries)


def parse_sidecar(data: bytes, name: str, origin: str) -> ManifestEntry:
    """A ``sha256sum``-style sidecar: the digest, optionally followed by the file name."""
    try:
        text = data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise AdapterError(f"{origin}: not UTF-8 text") from None
    parts = text.split(maxsplit=1)
    if not parts or not _HEX64.match(parts[0]):
        raise AdapterError(
            f"{origin}: expected a 64-digit hexadecimal sha256 of {shown_name(name)}"
        )
    if len(parts) == 2 and parts[1].lstrip("*") != name:
        raise AdapterError(f"{origin}: names {shown_name(parts[1])}, not {shown_name(name)}")
    return ManifestEntry(None, parts[0].lower(), origin)


def part_meta(part: Path) -> Path:
    """The sidecar a transport keeps beside a ``.part`` copy (what it is a copy of)."""
    return part.with_suffix(".json")


def discard_part(part: Path) -> None:
    part.unlink(missing_ok=True)
    part_meta(part).unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
