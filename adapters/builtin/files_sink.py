"""The ``files-sink``: standard exchange XML files written into a folder (a system's inbox).

The hub delivers items up and down the levels by dropping files into the receiving
system's folder, where that system (or the hub's own ``files`` source) picks them up.
Deliveries are retried after failures, so the sink is idempotent: a file is named after
the sha256 of its records' canonical JSON, and the same records (in the same order) give
the same name and the same bytes. A name that is already there — in the folder or, once
the receiver acknowledged it, in its ``done/`` folder — is not written again.

A file appears under its final name only once complete and flushed to disk (written as
a dot-file beside it, then renamed), so a reader never sees half a delivery. A record XML
cannot carry (a control character in a field) is left out of the file and reported in
the result (``refused``, ``errors`` naming the field); the others are delivered.
Configuration::

    path: /srv/systems/440300/inbox   # relative paths: to the configuration file
    prefix: from-440305               # optional; part of every file name
    done_dir: done                    # where the receiver moves files it has read
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar

from pydantic import field_validator

from adapters.sdk import AdapterConfig, AdapterError, Sink, WriteResult
from standards.formats import UnwritableRecord, write_records
from standards.privacy import mask_text
from standards.records import StandardRecord

_NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DIGEST_CHARS = 24
_STALE_SECONDS = 3600  # 96 bits of the sha256: collisions are not a practical concern


def _plain_name(value: str, what: str) -> str:
    if not _NAME_PART.match(value) or ".." in value:
        raise ValueError(
            f"{what} must be 1-64 letters, digits, '_', '-' or '.', starting with a letter "
            f"or digit: {value!r}"
        )
    return value


class FilesSinkConfig(AdapterConfig):
    """Where the files go and how they are named."""

    path: str
    prefix: str | None = None
    done_dir: str = "done"

    @field_validator("prefix")
    @classmethod
    def _plain_prefix(cls, value: str | None) -> str | None:
        return None if value is None else _plain_name(value, "prefix")

    @field_validator("done_dir")
    @classmethod
    def _plain_done_dir(cls, value: str) -> str:
        return _plain_name(value, "done_dir")


class _Hashing:
    """Passes records through while hashing their canonical JSON and counting them."""

    def __init__(self, records: Iterable[StandardRecord]) -> None:
        self._records = records
        self.digest = hashlib.sha256()
        self.count = 0

    def __iter__(self) -> Iterator[StandardRecord]:
        for record in self._records:
            self.digest.update(record.canonical_json().encode("utf-8"))
            self.digest.update(b"\n")
            self.count += 1
            yield record


class FilesSink(Sink):
    """Writes one XML file per delivery, named by content; see the module docstring."""

    name: ClassVar[str] = "files-sink"
    Config: ClassVar[type[FilesSinkConfig]] = FilesSinkConfig

    @property
    def folder(self) -> Path:
        path = Path(self.config.path)  # type: ignore[attr-defined]
        return (path if path.is_absolute() else self.base_dir / path).resolve()

    def describe(self) -> str:
        return f"files-sink:{self.folder}"

    def file_name(self, stream: str, digest: str) -> str:
        """The name a delivery of ``stream`` with this sha256 hex digest gets."""
        _plain_name(stream, "stream")
        prefix = self.config.prefix  # type: ignore[attr-defined]
        middle = f"{prefix}-" if prefix else ""
        return f"{stream}-{middle}{digest[:_DIGEST_CHARS]}.xml"

    def _already_there(self, name: str) -> Path | None:
        done = self.config.done_dir  # type: ignore[attr-defined]
        for candidate in (self.folder / name, self.folder / done / name):
            if candidate.is_file():
                return candidate
        return None

    def write(self, stream: str, records: Iterable[StandardRecord]) -> WriteResult:
        """Write the records as one file; nothing when there are none or the file exists."""
        folder = self.folder
        _plain_name(stream, "stream")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AdapterError(f"files-sink: cannot create folder {folder}: {exc}") from None
        _remove_stale_parts(folder)
        hashing = _Hashing(records)
        tmp = folder / f".delivering-{uuid.uuid4().hex}.xml"
        try:
            iterator = iter(hashing)
            first = next(iterator, None)
            if first is None:
                return WriteResult(written=0, location="")
            refused: list[UnwritableRecord] = []
            written = write_records(tmp, _chain(first, iterator), on_unwritable=refused.append)
            result = WriteResult(
                written=written,
                errors=[mask_text(str(r)) for r in refused],
                refused=[r.record.key() for r in refused],
            )
            if not written:
                return result  # every record refused: no empty file to deliver
            # The name covers the records as given (refused ones too): the same records
            # still give the same name and the same bytes.
            name = self.file_name(stream, hashing.digest.hexdigest())
            existing = self._already_there(name)
            if existing is not None:
                result.location = str(existing)
                return result
            _fsync(tmp)
            os.replace(tmp, folder / name)
            _fsync_dir(folder)
        except OSError as exc:
            raise AdapterError(f"files-sink: cannot write into {folder}: {exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
        result.location = str(folder / name)
        return result


def _remove_stale_parts(folder: Path) -> None:
    """Remove half-written deliveries of killed runs (an hour old: no live writer's)."""
    limit = time.time() - _STALE_SECONDS
    for part in folder.glob(".delivering-*.xml"):
        try:
            if part.stat().st_mtime < limit:
                part.unlink()
        except FileNotFoundError:
            continue


def _chain(first: StandardRecord, rest: Iterator[StandardRecord]) -> Iterator[StandardRecord]:
    yield first
    yield from rest


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
