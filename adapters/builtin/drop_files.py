"""The files a material delivery references, copied from a remote drop folder.

A material record names its file relative to the drop folder (``files/id-0001.pdf``).
The hub admits that file from a local folder (the ``base_dir`` it is given, which is
the source's ``folder``). A local ``files`` source's folder is the drop folder itself;
a remote one (``sftp``) has no local folder, so its read downloads each referenced file
into a staging tree (the source's ``folder``) before it yields the material, with the
same care as the export files themselves:

* the name must be a plain relative path (no ``..``, no absolute path, no backslash, no
  control characters); every folder on the way must be a real folder and the file a
  regular file (no symbolic links on the server);
* the remote size must be the material's ``size`` and within ``max_file_bytes``; the
  downloaded copy must have the material's ``sha256``;
* a file that changes while downloaded, or a connection lost after the retries, fails
  the read (nothing is stored, nothing acknowledged: the next run tries again).

A file that is not there, or does not match, becomes a finding on the material (the
hub quarantines it with the rule: ``material.file.missing``, ``.unsafe_path``,
``.size``, ``.sha256``, ``material.size.limit``); the rest of the delivery goes on.
Referenced files are not moved on the server (neither does the ``files`` source move
them): the export file citing them is what is acknowledged, after the hub's commit. The
staged copies are removed when the read is closed — by then the hub holds the files in
its blob store.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path, PurePosixPath

from adapters.builtin.drop_folder import (
    DropFolder,
    FileChanged,
    discard_part,
    part_meta,
    sha256_of,
    unsafe_name_reason,
)
from adapters.sdk import AdapterError
from standards.privacy import mask_text
from standards.records import Material
from standards.validation import Finding

log = logging.getLogger("adapters.builtin.drop")


def unsafe_file_reason(name: str) -> str | None:
    """Why a material's ``file`` must not be joined to a folder, or None for a plain path."""
    if not name:
        return "is empty"
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/"):
        return "is an absolute path"
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return "has an empty, '.' or '..' segment and could leave the drop folder"
        reason = unsafe_name_reason(part)
        if reason is not None:
            return f"is refused: {reason}"
    return None


class MaterialFiles:
    """Downloads the files of one read's materials into ``root`` (see the module doc)."""

    def __init__(self, root: Path, parts: Path, max_bytes: int) -> None:
        self.root = root
        self.parts = parts
        self.max_bytes = max_bytes
        self._fetched: dict[str, str] = {}  # relative name -> sha256 of the staged copy
        self._folders: set[str] = set()  # parent folders found to be real folders

    def fetch(self, folder: DropFolder, material: Material) -> Finding | None:
        """Stage ``material.file``; a finding when it is absent or not what the record says."""
        name = material.file
        reason = unsafe_file_reason(name)
        if reason is not None:
            return Finding(
                "material.file.unsafe_path",
                f"file name {mask_text(repr(name))} {reason}; not downloaded",
                "file",
            )
        if name in self._fetched:
            return self._digest_finding(folder, name, self._fetched[name], material)
        where = mask_text(folder.location(name))
        segments = name.split("/")
        for depth in range(1, len(segments)):
            sub = "/".join(segments[:depth])
            if sub in self._folders:  # checked already in this read: one round trip each
                continue
            entry = folder.stat(sub)
            if entry is not None and entry.type == "dir":
                self._folders.add(sub)
            if entry is None or entry.type != "dir":
                what = "does not exist" if entry is None else f"is a {entry.type}, not a folder"
                return Finding(
                    "material.file.missing",
                    f"file {mask_text(name)} not found: {mask_text(folder.location(sub))} {what}",
                    "file",
                )
        entry = folder.stat(name)
        if entry is None:
            return Finding(
                "material.file.missing", f"file {mask_text(name)} not found: {where} does not "
                "exist in the drop folder", "file",
            )  # fmt: skip
        if entry.type != "file":
            kind = "a symbolic link" if entry.type == "symlink" else f"a {entry.type}"
            return Finding(
                "material.file.missing", f"file {mask_text(name)}: {where} is {kind}, not a "
                "regular file; not downloaded", "file",
            )  # fmt: skip
        if entry.size > self.max_bytes:
            return Finding(
                "material.size.limit", f"file {mask_text(name)} has {entry.size} bytes, more than "
                f"the source's max_file_bytes ({self.max_bytes}); not downloaded", "size",
            )  # fmt: skip
        if entry.size != material.size:
            return Finding(
                "material.file.size", f"file {mask_text(name)} has {entry.size} bytes on the "
                f"server ({where}), the material says {material.size}; not downloaded", "size",
            )  # fmt: skip
        key = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:40]
        part = self.parts / f"{key}.part"
        self.parts.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            folder.fetch(name, entry, part)
            if folder.stat(name) != entry:
                raise FileChanged("its size or modification time changed while it was copied")
        except FileChanged as exc:
            discard_part(part)
            raise AdapterError(
                f"material file {where} changed while it was downloaded ({exc}); nothing of "
                "this read is stored: run again once the delivery is complete"
            ) from None
        except OSError as exc:
            raise AdapterError(f"material file {where} could not be downloaded: {exc}") from None
        digest = sha256_of(part)
        if digest != material.sha256:
            discard_part(part)
            return self._digest_finding(folder, name, digest, material)
        local = self.root / PurePosixPath(name)
        local.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(part, local)
        part_meta(part).unlink(missing_ok=True)
        self._fetched[name] = digest
        log.info("downloaded material file %s (%d bytes)", where, entry.size)
        return None

    @staticmethod
    def _digest_finding(
        folder: DropFolder, name: str, digest: str, material: Material
    ) -> Finding | None:
        if digest == material.sha256:
            return None
        return Finding(
            "material.file.sha256",
            f"file {mask_text(name)} ({mask_text(folder.location(name))}) has sha256 {digest}, "
            f"the material says {material.sha256}",
            "sha256",
        )

    def clear(self) -> None:
        """Remove the staged copies this read made (the hub has stored what it admitted)."""
        for name in self._fetched:
            path = self.root / PurePosixPath(name)
            path.unlink(missing_ok=True)
            parent = path.parent
            while parent != self.root and parent.is_relative_to(self.root):
                try:
                    parent.rmdir()
                except OSError:
                    break  # not empty: another material's file is still there
                parent = parent.parent
        self._fetched.clear()
        self._folders.clear()
