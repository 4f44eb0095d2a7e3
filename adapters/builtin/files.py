"""The ``files`` source: a local drop folder (the embedded default).

Departments that share a disk or a mounted folder with the hub drop their export files
there; the rules (complete files only, manifests, acknowledgement into ``done/`` after
the hub committed, state) are those of every drop folder (:mod:`adapters.builtin.drop`).
Configuration::

    path: /srv/drop/market          # relative paths: to the configuration file
    streams:
      cases: {patterns: ["cases_*.xml"], kind: case}
      items: {patterns: ["items_*.csv"], mapping: items-mapping.yaml}
    manifest: optional              # or required
    acknowledge: move               # or marker (writes NAME.done beside the file)
    settle_seconds: 2
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from adapters.builtin.drop import (
    DropConfig,
    DropFolder,
    DropHarness,
    DropSource,
    Entry,
    FileChanged,
    free_done_name,
)
from adapters.conformance.scratch import claim_folder, clear_folder
from adapters.sdk import AdapterError, ConnectionCheckError

_CHUNK = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class FilesConfig(DropConfig):
    """A local drop folder."""

    path: str


def _entry(name: str, st: os.stat_result) -> Entry:
    mode = st.st_mode
    kind = (
        "file" if stat.S_ISREG(mode)
        else "dir" if stat.S_ISDIR(mode)
        else "symlink" if stat.S_ISLNK(mode)
        else "other"
    )  # fmt: skip
    return Entry(name, kind, st.st_size, st.st_mtime_ns)  # type: ignore[arg-type]


class LocalFolder(DropFolder):
    """A folder on this machine; files are opened without following symbolic links."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        return self.root / name

    def location(self, name: str) -> str:
        return str(self._path(name))

    def list(self) -> list[Entry]:
        out = []
        with os.scandir(self.root) as listing:
            for item in listing:
                try:
                    out.append(_entry(item.name, item.stat(follow_symlinks=False)))
                except FileNotFoundError:
                    continue  # removed between listing and stat
        return out

    def stat(self, name: str) -> Entry | None:
        try:
            return _entry(name, os.lstat(self._path(name)))
        except FileNotFoundError:
            return None

    def symlink_escapes(self, name: str) -> bool:
        target = Path(os.path.realpath(self._path(name)))
        return not target.is_relative_to(self.root.resolve())

    def _open(self, name: str) -> int:
        try:
            return os.open(self._path(name), os.O_RDONLY | _NOFOLLOW)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise AdapterError(f"{self.location(name)} became a symbolic link") from None
            raise

    def fetch(self, name: str, entry: Entry, part: Path) -> None:
        fd = self._open(name)
        try:
            if _entry(name, os.fstat(fd)) != entry:
                raise FileChanged("it changed between listing and opening")
            copied = 0
            with open(part, "wb") as out:
                while chunk := os.read(fd, _CHUNK):
                    out.write(chunk)
                    copied += len(chunk)
            if copied != entry.size or _entry(name, os.fstat(fd)) != entry:
                raise FileChanged(f"{copied} bytes read where {entry.size} were listed")
        finally:
            os.close(fd)

    def read_small(self, name: str, limit: int) -> bytes:
        fd = self._open(name)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise AdapterError(f"{self.location(name)} is not a regular file")
            data = b""
            while len(data) <= limit and (chunk := os.read(fd, _CHUNK)):
                data += chunk
        finally:
            os.close(fd)
        if len(data) > limit:
            raise AdapterError(f"{self.location(name)} is over {limit} bytes")
        return data

    def _done(self, done_dir: str) -> Path:
        done = self._path(done_dir)
        try:
            done.mkdir(mode=0o755)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(done).st_mode):
                raise AdapterError(f"{done} exists and is not a folder") from None
        return done

    def move_to_done(self, name: str, done_dir: str) -> str:
        done = self._done(done_dir)
        target = free_done_name(name, lambda n: os.path.lexists(done / n))
        os.rename(self._path(name), done / target)
        return f"{done_dir}/{target}"

    def write_small(self, name: str, data: bytes) -> None:
        tmp = self._path(f".{name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as out:
                out.write(data)
            os.replace(tmp, self._path(name))
        finally:
            tmp.unlink(missing_ok=True)


class FilesSource(DropSource):
    """Reads complete files from a local drop folder; see :mod:`adapters.builtin.drop`."""

    name: ClassVar[str] = "files"
    Config: ClassVar[type[FilesConfig]] = FilesConfig

    @property
    def folder(self) -> Path:
        path = Path(self.config.path)  # type: ignore[attr-defined]
        return (path if path.is_absolute() else self.base_dir / path).resolve()

    def describe(self) -> str:
        return f"files:{self.folder}"

    def staging_key(self) -> str:
        return str(self.folder)

    def open_folder(self) -> LocalFolder:
        folder = self.folder
        if not folder.is_dir():
            raise AdapterError(f"drop folder {folder} does not exist or is not a folder")
        return LocalFolder(folder)

    def check(self) -> None:
        folder = self.folder
        if not folder.is_dir():
            raise ConnectionCheckError(f"drop folder {folder} does not exist or is not a folder")
        if not os.access(folder, os.R_OK | os.X_OK):
            raise ConnectionCheckError(f"drop folder {folder} is not readable by this user")
        if not os.access(folder, os.W_OK):
            raise ConnectionCheckError(
                f"drop folder {folder} is not writable by this user: delivered files could "
                "not be moved to done/"
            )

    def conformance_harness(self) -> FilesHarness:
        name, spec = next(iter(self._streams.items()))
        return FilesHarness(self.folder, name, spec.kind if spec.mapping is None else None)


class FilesHarness(DropHarness):
    """Writes standard case files into a local drop folder (the conformance kit's system)."""

    def __init__(self, folder: Path, stream: str, kind: str | None) -> None:
        super().__init__(stream, kind)
        self.folder = claim_folder(folder)

    def _put(self, name: str, chunks: Iterator[str], mtime: int) -> None:
        tmp = self.folder / f".{name}.tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as out:
            for chunk in chunks:
                out.write(chunk)
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, self.folder / name)

    def _clear(self) -> None:
        clear_folder(self.folder)
