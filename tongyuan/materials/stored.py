"""Whether a file in the content-addressed blob store can still be produced as evidence.

The store keeps each file under its own SHA-256 (``ab/cd/<sha256>``), so a stored file is
sound only when it is there, is a regular file *in* the store, and still hashes to its
name. A symbolic link is refused whatever it points at: the store never writes one, so a
link was put there by hand, and the bytes it leads to (another blob, a file outside the
data directory) are not the ones the hub kept and can change without the store noticing.
The shard folders on the way must not be links either. The check opens each shard folder
and the file itself without following a link, each relative to the folder before it, and
reads the file through that descriptor, so what is hashed is what was checked. The holder query
(``tongyuan materials for``) and the integrity suite both use it, so a file the quality
report calls altered is never offered for reuse.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass

from tongyuan.config import Settings
from tongyuan.libraries.materials import BlobStoreError, blob_path

# What is wrong with a stored file (``StoredFile.problem``).
MISSING = "missing"  # no file under the digest, or no digest recorded
NOT_REGULAR = "not_regular"  # a symbolic link, a folder, a device…: not a file the store wrote
ALTERED = "altered"  # a regular file whose SHA-256 is no longer its name

_CHUNK = 1 << 20
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO put in the store must not block the open
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """The state of one stored file: ``problem`` is None when it is sound."""

    problem: str | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.problem is None


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _linked_folder(settings: Settings, path: os.PathLike[str]) -> str | None:
    """The shard folder (``ab/``, ``ab/cd/``) on the way to ``path`` that is a symbolic
    link, if one is: the store makes real folders, and a linked one leads out of it just
    as a linked file does. The store's own root may be a link (``var/blobs`` on another
    disk); only what lies below it is the store's to vouch for."""
    root = settings.blobs_dir
    relative = os.path.relpath(os.fspath(path), os.fspath(root))
    folder = root
    for part in relative.split(os.sep)[:-1]:
        folder = folder / part
        try:
            if stat.S_ISLNK(os.lstat(folder).st_mode):
                return f"{part}/"
        except OSError:
            return None  # missing: the file's own lstat says so
    return None


def _open_in_store(settings: Settings, path: os.PathLike[str]) -> int:
    """The stored file opened for reading, each shard folder on the way and the file
    itself opened without following a link (relative to the folder before it): a folder
    swapped for a link after the checks above fails the open (ELOOP or ENOTDIR) instead
    of leading the read out of the store."""
    root = settings.blobs_dir
    parts = os.path.relpath(os.fspath(path), os.fspath(root)).split(os.sep)
    folder = os.open(root, os.O_RDONLY | _O_DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW, dir_fd=folder)
            os.close(folder)
            folder = inner
        return os.open(parts[-1], os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK, dir_fd=folder)
    finally:
        os.close(folder)


def check_stored_file(settings: Settings, sha256: str | None) -> StoredFile:
    """Stream the stored file with this digest and say whether it still is that content.

    Never raises for a bad store: every outcome is a :class:`StoredFile` whose ``detail``
    names the digest and what was found (the digest is no personal data).
    """
    if not sha256:
        return StoredFile(MISSING, "no stored file is recorded")
    try:
        path = blob_path(settings, sha256)
    except BlobStoreError:
        return StoredFile(MISSING, f"the recorded digest {sha256!r} is not a sha256")
    linked = _linked_folder(settings, path)
    if linked is not None:
        return StoredFile(
            NOT_REGULAR,
            f"the stored file {sha256} lies under {linked}, which is a symbolic link, not "
            "a folder of the blob store",
        )
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return StoredFile(MISSING, f"the stored file {sha256} is missing from the blob store")
    except OSError as exc:
        return StoredFile(MISSING, f"the stored file {sha256} cannot be read: {exc.strerror}")
    if stat.S_ISLNK(link.st_mode):
        try:
            target = f" to {os.readlink(path)}"
        except OSError:
            target = ""
        return StoredFile(
            NOT_REGULAR,
            f"the stored file {sha256} is a symbolic link{target}, not a file in the blob store",
        )
    if not stat.S_ISREG(link.st_mode):
        return StoredFile(NOT_REGULAR, f"the stored file {sha256} is {_kind(link.st_mode)}")
    try:
        fd = _open_in_store(settings, path)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link put in since the lstat
            return StoredFile(NOT_REGULAR, f"the stored file {sha256} is a symbolic link")
        if exc.errno == errno.ENOENT:
            return StoredFile(MISSING, f"the stored file {sha256} is missing from the blob store")
        return StoredFile(MISSING, f"the stored file {sha256} cannot be read: {exc.strerror}")
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            return StoredFile(NOT_REGULAR, f"the stored file {sha256} is {_kind(mode)}")
        digest = hashlib.sha256()
        try:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        except OSError as exc:
            return StoredFile(MISSING, f"the stored file {sha256} cannot be read: {exc.strerror}")
    actual = digest.hexdigest()
    if actual != sha256:
        return StoredFile(
            ALTERED,
            f"the stored file {sha256} was altered: its content now has sha256 {actual}",
        )
    return StoredFile(None, "")
