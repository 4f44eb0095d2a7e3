"""Drop folders: what the ``files`` and ``sftp`` sources share.

A department puts export files into a folder (a local one, or one on its SFTP server);
the hub reads the complete ones and acknowledges them once it has committed their
records. Only the transport differs between the two sources; this module holds the rules:

* **Which files.** Every name the folder lists is validated before anything else touches
  it: names that could escape the folder (``../x``, ``/etc/x``, anything with ``/``,
  ``\\`` or NUL, control characters) and symbolic links are refused and reported.
  Regular files matching the stream's ``patterns`` are candidates; directories (``done/``)
  and other file types are ignored.
* **Only complete files.** A file is left for the next run when its name says it is
  still being written (``.part``, ``.tmp``, ``.partial``, ``.filepart``, a leading dot or
  a trailing ``~``), when its size or modification time changes between two looks
  ``settle_seconds`` apart or while it is being copied, or — with ``manifest: required``
  — when no manifest entry names it yet.
* **Manifests.** ``MANIFEST.json`` in the drop folder (``{"files": {"NAME": {"size": N,
  "sha256": "HEX"}}}``) or a ``NAME.sha256`` sidecar (``sha256sum`` format: the hex
  digest, optionally followed by the name). When an entry exists the staged copy must
  match it: a file smaller than its entry is still arriving (left for the next run); a
  larger one or a different sha256 is refused with an error and never ingested.
* **Staging.** Each file is copied (downloaded) into the staging folder first and read
  from there, so a file changed at the source while it is parsed cannot mix two versions.
  Copies are written as ``.part`` files; the ``sftp`` source resumes an interrupted
  download from the ``.part`` size. A partial copy is never parsed.
* **Acknowledgement.** Only :meth:`DropRead.commit` — called by the hub after it has
  committed the records and the state — moves a delivered file into ``done/`` (with its
  ``.sha256`` sidecar) or, with ``acknowledge: marker``, writes ``NAME.done`` beside it.
* **State.** ``{"delivered": [{"name", "size", "mtime", "sha256"}, …]}``: the files whose
  records were yielded and which had not been acknowledged when the state was taken. If
  the hub crashed between its commit and the acknowledgement, the next read finds those
  files still in the drop folder unchanged (same size and modification time), does not
  deliver them again, and retries their acknowledgement. Entries of files no longer in
  the folder are dropped, so the state stays as small as the unacknowledged backlog.
"""

from __future__ import annotations

import fnmatch
import hashlib
import inspect
import json
import logging
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from adapters.conformance.harness import Harness
from adapters.sdk import AdapterConfig, AdapterError, ConfigError, Envelope, Source, StreamRead
from adapters.sdk.source import State, StreamSpec
from standards.formats import UnreadableInput, UnsafeInput, iter_raw_records, to_record
from standards.formats.limits import ParseLimits
from standards.privacy import mask_text
from standards.records import RECORD_KINDS, SourceLocation
from standards.validation import Finding

log = logging.getLogger(__name__)

MANIFEST_NAME = "MANIFEST.json"
SIDECAR_SUFFIX = ".sha256"
MARKER_SUFFIX = ".done"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".partial", ".filepart", ".crdownload")
DEFAULT_PATTERNS = ("*.xml", "*.jsonl", "*.ndjson")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_CHUNK = 1 << 20
ENV_HUB_HOME = "TONGYUAN_HOME"
_CST = timezone(timedelta(hours=8))

Kind = Literal["case", "item", "material", "license"]


# --------------------------------------------------------------------------- config


class DropStreamConfig(AdapterConfig):
    """One stream of a drop folder: which files belong to it and how to read them.

    Files already in the standard exchange format need only ``kind``; department files
    (CSV, foreign XML, JSON Lines) need a ``mapping`` (its ``kind`` is the stream's).
    """

    patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_PATTERNS), min_length=1)
    kind: Kind | None = None
    mapping: str | None = None
    format: Literal["auto", "xml", "jsonl", "csv"] = "auto"
    record_tag: str | None = None
    encoding: str | None = None

    @field_validator("patterns")
    @classmethod
    def _plain_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not pattern or "/" in pattern or "\\" in pattern or "\x00" in pattern:
                raise ValueError(f"a pattern matches names inside the folder only: {pattern!r}")
        return value

    @model_validator(mode="after")
    def _kind_or_mapping(self) -> DropStreamConfig:
        if self.kind is None and self.mapping is None:
            raise ValueError(
                "give kind (files in the standard format) or mapping (department files)"
            )
        return self


class DropConfig(AdapterConfig):
    """Settings every drop-folder source has (the folder itself is the transport's)."""

    streams: dict[str, DropStreamConfig] = Field(default_factory=dict)
    staging_dir: str | None = None
    manifest: Literal["optional", "required"] = "optional"
    acknowledge: Literal["move", "marker"] = "move"
    done_dir: str = "done"
    settle_seconds: float = Field(default=2.0, ge=0, le=3600)
    max_file_bytes: int = Field(default=2 * 1024**3, gt=0)

    @field_validator("done_dir")
    @classmethod
    def _plain_done_dir(cls, value: str) -> str:
        if unsafe_name_reason(value) is not None:
            raise ValueError(f"done_dir is a folder name inside the drop folder: {value!r}")
        return value


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
    if len(name.encode("utf-8", "surrogateescape")) > 255:
        return "the name is longer than 255 bytes"
    return None


def in_progress(name: str) -> bool:
    """Names that by convention mark a file still being written."""
    lower = name.lower()
    return name.startswith(".") or name.endswith("~") or lower.endswith(IN_PROGRESS_SUFFIXES)


def _shown(name: str) -> str:
    """A name as messages show it: quoted, shortened, ID numbers in it masked."""
    text = mask_text(repr(name))
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
    raise AdapterError(f"no free name in the done folder for {_shown(name)}")


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
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AdapterError(f"{origin}: not valid UTF-8 JSON ({exc})") from None
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, dict):
            raise AdapterError(
                f'{origin}: expected {{"files": {{"NAME": {{"size": N, "sha256": "HEX"}}}}}}'
            )
        entries: dict[str, ManifestEntry] = {}
        for name, spec in files.items():
            reason = unsafe_name_reason(name)
            if reason is not None:
                raise AdapterError(f"{origin}: entry {_shown(name)} refused: {reason}")
            if not isinstance(spec, dict):
                raise AdapterError(f"{origin}: entry {_shown(name)} must be an object")
            size, digest = spec.get("size"), spec.get("sha256")
            if size is not None and (not isinstance(size, int) or size < 0):
                raise AdapterError(f"{origin}: entry {_shown(name)}: size must be an integer")
            if digest is not None and (not isinstance(digest, str) or not _HEX64.match(digest)):
                raise AdapterError(
                    f"{origin}: entry {_shown(name)}: sha256 must be 64 hexadecimal digits"
                )
            if size is None and digest is None:
                raise AdapterError(f"{origin}: entry {_shown(name)} gives neither size nor sha256")
            entries[name] = ManifestEntry(size, digest.lower() if digest else None, origin)
        return cls(entries)


def parse_sidecar(data: bytes, name: str, origin: str) -> ManifestEntry:
    """A ``sha256sum``-style sidecar: the digest, optionally followed by the file name."""
    try:
        text = data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise AdapterError(f"{origin}: not UTF-8 text") from None
    parts = text.split(maxsplit=1)
    if not parts or not _HEX64.match(parts[0]):
        raise AdapterError(f"{origin}: expected a 64-digit hexadecimal sha256 of {_shown(name)}")
    if len(parts) == 2 and parts[1].lstrip("*") != name:
        raise AdapterError(f"{origin}: names {_shown(parts[1])}, not {_shown(name)}")
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


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class Delivered:
    """A file whose records were yielded: what the state remembers of it."""

    name: str
    size: int
    mtime: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "mtime": self.mtime, "sha256": self.sha256}

    @classmethod
    def from_state(cls, data: Any) -> Delivered:
        try:
            return cls(
                str(data["name"]), int(data["size"]), int(data["mtime"]), str(data["sha256"])
            )
        except (KeyError, TypeError, ValueError):
            raise AdapterError(f"state entry is not a delivered file: {data!r}") from None

    def same_file(self, entry: Entry) -> bool:
        return entry.type == "file" and (entry.size, entry.mtime) == (self.size, self.mtime)


@dataclass(frozen=True, slots=True)
class Notice:
    """A file this read did not ingest, and why (also logged)."""

    name: str
    action: Literal["refused", "deferred"]
    reason: str

    def __str__(self) -> str:
        verb = "refused" if self.action == "refused" else "left for the next run"
        return f"{self.name}: {verb}: {self.reason}"


class DropRead(StreamRead):
    """One read of one stream of a drop folder (see the module docstring for the rules)."""

    def __init__(
        self, source: DropSource, stream: str, spec: DropStreamConfig, state: State | None
    ) -> None:
        self.source = source
        self.stream = stream
        self.spec = spec
        self.config: DropConfig = source.config  # type: ignore[assignment]
        self.notices: list[Notice] = []
        self.acknowledged: list[str] = []
        self._prior = [Delivered.from_state(d) for d in (state or {}).get("delivered", [])]
        self._pending: list[Delivered] = []  # delivered earlier, acknowledgement outstanding
        self._delivered: list[Delivered] = []
        self._folder: DropFolder | None = None
        self._staging = source.staging_path(stream)
        self._iterated = False

    # -- the hub's side ---------------------------------------------------------------

    def __iter__(self) -> Iterator[Envelope]:
        if self._iterated:
            raise AdapterError("a StreamRead is iterated once; start a new read")
        self._iterated = True
        folder = self._open()
        entries = self._safe_entries(folder.list())
        candidates = self._candidates(entries)
        manifest = self._manifest(folder, entries)
        if manifest is None:
            return
        candidates = self._settled(folder, candidates)
        for entry in candidates:
            yield from self._deliver(folder, entry, entries, manifest)

    def state(self) -> State:
        return {"delivered": [d.as_dict() for d in (*self._pending, *self._delivered)]}

    def commit(self) -> None:
        """Acknowledge every delivered file: the hub has committed their records."""
        todo = [*self._pending, *self._delivered]
        if not todo:
            return
        folder = self._open()
        for item in todo:
            try:
                now = folder.stat(item.name)
                if now is None or not item.same_file(now):
                    log.warning(
                        "%s changed or vanished after delivery; not acknowledged",
                        mask_text(folder.location(item.name)),
                    )
                    continue
                if self.config.acknowledge == "marker":
                    marker = json.dumps(item.as_dict(), ensure_ascii=False).encode("utf-8")
                    folder.write_small(item.name + MARKER_SUFFIX, marker)
                    where = item.name + MARKER_SUFFIX
                else:
                    where = folder.move_to_done(item.name, self.config.done_dir)
                    if folder.stat(item.name + SIDECAR_SUFFIX) is not None:
                        folder.move_to_done(item.name + SIDECAR_SUFFIX, self.config.done_dir)
                self.acknowledged.append(item.name)
                log.info(
                    "acknowledged %s (%s)", mask_text(folder.location(item.name)), mask_text(where)
                )
            except (OSError, AdapterError) as exc:
                # The state already names the file: the next read retries the acknowledgement.
                log.warning(
                    "could not acknowledge %s: %s",
                    mask_text(folder.location(item.name)),
                    mask_text(str(exc)),
                )

    def close(self) -> None:
        if self._folder is not None:
            self._folder.close()
            self._folder = None

    # -- steps ------------------------------------------------------------------------

    def _open(self) -> DropFolder:
        if self._folder is None:
            self._folder = self.source.open_folder()
        return self._folder

    def _notice(self, name: str, action: Literal["refused", "deferred"], reason: str) -> None:
        notice = Notice(_shown(name), action, mask_text(reason))
        self.notices.append(notice)
        level = logging.WARNING if action == "refused" else logging.INFO
        log.log(level, "%s/%s: %s", mask_text(self.source.describe()), self.stream, notice)

    def _safe_entries(self, listing: list[Entry]) -> dict[str, Entry]:
        assert self._folder is not None
        entries: dict[str, Entry] = {}
        for entry in listing:
            reason = unsafe_name_reason(entry.name)
            if reason is not None:
                self._notice(entry.name, "refused", reason)
                continue
            entries[entry.name] = entry
        return entries

    def _matches(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.spec.patterns)

    def _candidates(self, entries: dict[str, Entry]) -> list[Entry]:
        assert self._folder is not None
        # Deliveries the hub committed but never acknowledged: not again, ack retried.
        for item in self._prior:
            entry = entries.get(item.name)
            if entry is not None and item.same_file(entry) and not self._marked(entries, item):
                self._pending.append(item)
        pending = {item.name for item in self._pending}
        found: list[Entry] = []
        for name, entry in entries.items():
            if not self._matches(name) or name == MANIFEST_NAME or name in pending:
                continue
            if name.endswith((SIDECAR_SUFFIX, MARKER_SUFFIX)):
                continue
            if entry.type == "dir" or entry.type == "other":
                continue
            if entry.type == "symlink":
                where = "outside the drop folder" if self._folder.symlink_escapes(name) else None
                self._notice(
                    name,
                    "refused",
                    f"is a symbolic link pointing {where}"
                    if where
                    else "is a symbolic link; the drop folder must hold regular files",
                )
                continue
            if in_progress(name):
                self._notice(name, "deferred", "its name marks a file still being written")
                continue
            if self._acknowledged_by_marker(entries, entry):
                continue
            found.append(entry)
        found.sort(key=lambda e: (e.mtime, e.name))
        return found

    def _marked(self, entries: dict[str, Entry], item: Delivered) -> bool:
        if self.config.acknowledge != "marker":
            return False
        entry = entries.get(item.name)
        return entry is not None and self._acknowledged_by_marker(entries, entry)

    def _acknowledged_by_marker(self, entries: dict[str, Entry], entry: Entry) -> bool:
        if self.config.acknowledge != "marker" or entry.name + MARKER_SUFFIX not in entries:
            return False
        assert self._folder is not None
        try:
            marker = json.loads(self._folder.read_small(entry.name + MARKER_SUFFIX, 4096))
            return (int(marker["size"]), int(marker["mtime"])) == (entry.size, entry.mtime)
        except (OSError, AdapterError, ValueError, KeyError, TypeError):
            return False  # an unreadable marker acknowledges nothing: deliver again

    def _manifest(self, folder: DropFolder, entries: dict[str, Entry]) -> Manifest | None:
        entry = entries.get(MANIFEST_NAME)
        if entry is None:
            return Manifest({})
        origin = folder.location(MANIFEST_NAME)
        try:
            if entry.type != "file":
                raise AdapterError(f"{origin} is not a regular file")
            return Manifest.parse(folder.read_small(MANIFEST_NAME, MAX_MANIFEST_BYTES), origin)
        except (OSError, AdapterError) as exc:
            # A manifest being rewritten can look broken; ingesting unchecked would be worse.
            self._notice(MANIFEST_NAME, "refused", f"{exc}; no file is read until it is fixed")
            return None

    def _settled(self, folder: DropFolder, candidates: list[Entry]) -> list[Entry]:
        if not candidates or self.config.settle_seconds <= 0:
            return candidates
        time.sleep(self.config.settle_seconds)
        later = {e.name: e for e in folder.list() if unsafe_name_reason(e.name) is None}
        settled = []
        for entry in candidates:
            if later.get(entry.name) != entry:
                self._notice(entry.name, "deferred", "its size or modification time is changing")
            else:
                settled.append(entry)
        return settled

    def _expected(
        self, folder: DropFolder, entry: Entry, entries: dict[str, Entry], manifest: Manifest
    ) -> ManifestEntry | None:
        found = manifest.entries.get(entry.name)
        sidecar = entries.get(entry.name + SIDECAR_SUFFIX)
        if sidecar is not None:
            origin = folder.location(entry.name + SIDECAR_SUFFIX)
            data = folder.read_small(entry.name + SIDECAR_SUFFIX, 4096)
            side = parse_sidecar(data, entry.name, origin)
            if found is not None and found.sha256 and found.sha256 != side.sha256:
                raise AdapterError(f"{origin} and {found.origin} give different sha256 digests")
            found = ManifestEntry(found.size if found else None, side.sha256, origin)
        return found

    def _deliver(
        self, folder: DropFolder, entry: Entry, entries: dict[str, Entry], manifest: Manifest
    ) -> Iterator[Envelope]:
        name = entry.name
        try:
            expected = self._expected(folder, entry, entries, manifest)
        except (OSError, AdapterError) as exc:
            self._notice(name, "refused", str(exc))
            return
        if expected is None and self.config.manifest == "required":
            self._notice(name, "deferred", "no manifest entry names it yet (manifest: required)")
            return
        if expected is not None and expected.size is not None:
            if entry.size < expected.size:
                self._notice(
                    name,
                    "deferred",
                    f"{entry.size} of the {expected.size} bytes {expected.origin} declares "
                    "have arrived",
                )
                return
            if entry.size > expected.size:
                self._notice(
                    name,
                    "refused",
                    f"size {entry.size} bytes does not match {expected.size} bytes in "
                    f"{expected.origin}",
                )
                return
        if entry.size > self.config.max_file_bytes:
            self._notice(
                name, "refused", f"{entry.size} bytes is over max_file_bytes "
                f"({self.config.max_file_bytes})",
            )  # fmt: skip
            return
        fmt = self._format(name)
        if fmt is None:
            return
        key = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:40]
        staged = self._staging / f"{key}.{fmt}"
        part = self._staging / f"{key}.part"
        try:
            folder.fetch(name, entry, part)
            after = folder.stat(name)
            if after != entry:
                raise FileChanged("its size or modification time changed while it was copied")
        except FileChanged as exc:
            discard_part(part)
            reason = mask_text(f"modified while being read: {exc}")
            notice = Notice(_shown(name), "deferred", reason)
            self.notices.append(notice)
            log.warning("%s/%s: %s", self.source.describe(), self.stream, notice)
            return
        except (OSError, AdapterError) as exc:
            self._notice(name, "deferred", f"could not be copied: {exc}")
            return
        digest = sha256_of(part)
        if expected is not None and expected.sha256 is not None and digest != expected.sha256:
            discard_part(part)
            self._notice(
                name,
                "refused",
                f"sha256 {digest} does not match {expected.sha256} in {expected.origin}; "
                "not ingested",
            )
            return
        os.replace(part, staged)
        part_meta(part).unlink(missing_ok=True)
        try:
            yield from self._envelopes(staged, folder.location(name), fmt)
        finally:
            staged.unlink(missing_ok=True)
        self._delivered.append(Delivered(name, entry.size, entry.mtime, digest))

    def _format(self, name: str) -> str | None:
        fmt = self.spec.format
        if fmt == "auto":
            suffix = Path(name).suffix.lower()
            fmt = {".xml": "xml", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(
                suffix, ""
            )
            if not fmt:
                self._notice(
                    name, "refused", f"cannot tell its format from the suffix {suffix!r}; set "
                    "format in the stream configuration",
                )  # fmt: skip
                return None
        if fmt == "csv" and self.spec.mapping is None:
            self._notice(name, "refused", "CSV files need a mapping in the stream configuration")
            return None
        return fmt

    def _envelopes(self, path: Path, location: str, fmt: str) -> Iterator[Envelope]:
        if self.spec.mapping is None:
            yield from self._standard_envelopes(path, location, fmt)
        else:
            yield from self._mapped_envelopes(path, location, fmt)

    def _standard_envelopes(self, path: Path, location: str, fmt: str) -> Iterator[Envelope]:
        limits = ParseLimits(max_file_bytes=self.config.max_file_bytes)
        count = 0
        try:
            for raw in iter_raw_records(path, limits=limits, kind=self.spec.kind):
                count += 1
                # The reader names the staged copy; the hub must see the source's name.
                raw.location = SourceLocation(location, raw.location.record, raw.location.line)
                record, findings = to_record(raw)
                yield Envelope(self.stream, raw.location, raw.data, record, findings)
        except (UnsafeInput, UnreadableInput) as exc:
            yield self._file_problem(location, count, exc.rule, exc.message, exc.line)

    def _file_problem(
        self, location: str, count: int, rule: str, message: str, line: int | None
    ) -> Envelope:
        """The rest of a damaged file, reported: records before it were already yielded."""
        where = SourceLocation(location, count + 1, line)
        text = f"{location}: {message}; records after this point were not read"
        return Envelope(
            self.stream, where, {"file": location, "error": message}, None, [Finding(rule, text)]
        )

    def _mapped_envelopes(self, path: Path, location: str, fmt: str) -> Iterator[Envelope]:
        """Department files: payload rows through the stream's mapping."""
        from adapters import payloads

        mapping = self.source.mapping_for(self.stream)
        limits = ParseLimits(max_file_bytes=self.config.max_file_bytes)
        if fmt == "csv":
            encoding = self.spec.encoding or mapping.encoding
            rows = payloads.iter_csv_rows(path, encoding=encoding, limits=limits, source=location)
        elif fmt == "xml":
            if self.spec.record_tag is None:
                raise ConfigError(
                    self.source.describe(),
                    [(f"streams.{self.stream}.record_tag", "department XML needs the element "
                      "name of one record")],
                )  # fmt: skip
            rows = payloads.iter_xml_rows(
                path, record_tag=self.spec.record_tag, limits=limits, source=location
            )
        else:
            rows = payloads.iter_json_rows(path, limits=limits, source=location)
        count = 0
        try:
            for row, where in rows:
                count += 1
                if isinstance(row, payloads.PayloadProblem):
                    yield row.envelope(self.stream, where)
                    continue
                record, findings = mapping.map(row, where)
                yield Envelope(self.stream, where, dict(row), record, findings)
        except (UnsafeInput, UnreadableInput) as exc:
            yield self._file_problem(location, count, exc.rule, exc.message, exc.line)


# --------------------------------------------------------------------------- sources


class DropSource(Source, ABC):
    """Base of the ``files`` and ``sftp`` sources.

    A department adapter can name its single stream with class attributes instead of
    configuration::

        class MarketDrop(FilesSource):
            stream = "cases"
            mapping = "mapping.yaml"     # beside this module, or beside the config file
            patterns = ("*.csv",)
    """

    Config: ClassVar[type[DropConfig]]

    default_stream: ClassVar[str | None] = None
    mapping: ClassVar[str | None] = None
    kind: ClassVar[str | None] = None
    patterns: ClassVar[tuple[str, ...]] = DEFAULT_PATTERNS
    record_tag: ClassVar[str | None] = None
    _mapping_home: ClassVar[Path | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ``stream = "cases"`` (the department style) would hide Source.stream(): keep the
        # method and remember the name as the default stream.
        declared = cls.__dict__.get("stream")
        if isinstance(declared, str):
            cls.default_stream = declared
            delattr(cls, "stream")
        if "mapping" in cls.__dict__ and cls.__dict__["mapping"] is not None:
            try:
                cls._mapping_home = Path(inspect.getfile(cls)).resolve().parent
            except (TypeError, OSError):
                cls._mapping_home = None

    def __init__(self, config: AdapterConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._streams = self._stream_configs()
        self._mappings: dict[str, Any] = {}

    def _stream_configs(self) -> dict[str, DropStreamConfig]:
        config: DropConfig = self.config  # type: ignore[assignment]
        if config.streams:
            return dict(config.streams)
        if self.default_stream is None:
            raise ConfigError(
                type(self).__name__,
                [("streams", "no stream configured: give streams: {NAME: {patterns: […], "
                  "kind: case}} (or mapping: FILE), or set the class attribute stream")],
            )  # fmt: skip
        try:
            spec = DropStreamConfig(
                patterns=list(self.patterns), kind=self.kind, mapping=self.mapping,  # type: ignore[arg-type]
                record_tag=self.record_tag,
            )  # fmt: skip
        except ValueError as exc:
            raise ConfigError(type(self).__name__, [("(class attributes)", str(exc))]) from None
        return {self.default_stream: spec}

    # -- what subclasses provide ------------------------------------------------------

    @abstractmethod
    def open_folder(self) -> DropFolder:
        """Connect to the drop folder."""

    @abstractmethod
    def describe(self) -> str:
        """The drop folder for messages (no secrets)."""

    @abstractmethod
    def staging_key(self) -> str:
        """What identifies this drop folder, so two sources never share staged files."""

    # -- Source -----------------------------------------------------------------------

    def streams(self) -> list[StreamSpec]:
        out = []
        for name, spec in self._streams.items():
            kind = spec.kind or self.mapping_for(name).kind
            out.append(StreamSpec(name, kind, RECORD_KINDS[kind].primary_key, cursor_field=None))
        return out

    def read(self, stream: str, state: State | None = None) -> DropRead:
        if stream not in self._streams:
            known = ", ".join(self._streams)
            raise AdapterError(f"{self.describe()} has no stream {stream!r} (streams: {known})")
        return DropRead(self, stream, self._streams[stream], state)

    def mapping_for(self, stream: str) -> Any:
        """The stream's mapping (adapters.mapping.Mapping), loaded once."""
        if stream not in self._mappings:
            from adapters.mapping import Mapping

            spec = self._streams[stream]
            assert spec.mapping is not None
            path = Path(spec.mapping)
            if not path.is_absolute():
                homes = [self.base_dir]
                if spec.mapping == type(self).mapping and self._mapping_home is not None:
                    homes.insert(0, self._mapping_home)
                path = next((h / path for h in homes if (h / path).exists()), homes[0] / path)
            mapping = Mapping.load(path)
            if spec.kind is not None and mapping.kind != spec.kind:
                raise ConfigError(
                    str(path), [("kind", f"the mapping builds {mapping.kind} records, the "
                                         f"stream {stream!r} is declared as {spec.kind}")],
                )  # fmt: skip
            self._mappings[stream] = mapping
        return self._mappings[stream]

    def staging_path(self, stream: str) -> Path:
        """Where this stream's copies are staged; stable across runs so downloads resume."""
        config: DropConfig = self.config  # type: ignore[assignment]
        if config.staging_dir is not None:
            base = Path(config.staging_dir)
            if not base.is_absolute():
                base = self.base_dir / base
        elif os.environ.get(ENV_HUB_HOME):
            base = Path(os.environ[ENV_HUB_HOME]) / "staging"
        else:
            base = Path(tempfile.gettempdir()) / "tongyuan-staging"
        key = hashlib.sha256(f"{self.staging_key()}\x00{stream}".encode()).hexdigest()[:24]
        path = base / f"{self.name}-{key}"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path


# --------------------------------------------------------------------------- harness


@dataclass
class CaseFileWriter:
    """Standard-format case files for the conformance harnesses, written as text.

    Records are valid by construction (real check characters, a legal state history,
    timestamps matching the events) and rendered straight to the exchange XML layout, so
    a million of them take seconds rather than the minutes pydantic models would.
    """

    source_system: str = "TY-DROP-TEST"
    prefix: str = field(default_factory=lambda: os.urandom(4).hex().upper())
    _seq: int = 0
    _versions: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from standards.identifiers import citizen_id_check_char, make_impl_code, uscc_check_char

        auth17 = "11440305" + "007510000"
        authority = auth17 + uscc_check_char(auth17)
        self.impl_code = make_impl_code(authority, "4", "440107008000")
        self.citizen_ids = []
        for n in range(97):
            body = f"440305198503{(n % 28) + 1:02d}{n:03d}"
            self.citizen_ids.append(body + citizen_id_check_char(body))
        self.names = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇"]

    def next_key(self) -> tuple[str, str]:
        self._seq += 1
        return (self.source_system, f"{self.prefix}{self._seq:09d}")

    def case_xml(self, key: tuple[str, str], *, version: int = 0, at: int | None = None) -> str:
        seq = int(key[1][-9:])
        day = 1 + seq % 27
        base = f"2026-02-{day:02d}T"
        events = (
            f"<event><state>1</state><at>{base}09:00:00+08:00</at></event>"
            f"<event><state>3</state><at>{base}10:00:00+08:00</at></event>"
        )
        if version:
            hour = 10 + min(version, 9)
            events += f"<event><state>8</state><at>{base}{hour:02d}:30:00+08:00</at></event>"
        updated = ""
        if at is not None:
            stamp = datetime.fromtimestamp(at, _CST).isoformat()
            updated = f"<updated_at>{stamp}</updated_at>"
        pid = self.citizen_ids[seq % len(self.citizen_ids)]
        name = self.names[seq % len(self.names)]
        self._versions[key] = (seq, version)
        return (
            f"<case><source_system>{key[0]}</source_system><dept_case_no>{key[1]}</dept_case_no>"
            f"<impl_code>{self.impl_code}</impl_code><applicant><name>{name}</name>"
            f"<id_type>111</id_type><id_number>{pid}</id_number></applicant>"
            f"<events>{events}</events><accepted_at>{base}10:00:00+08:00</accepted_at>"
            f"{updated}</case>\n"
        )

    def bad_xml(self) -> str:
        """A record the reader reads and the standard refuses (an unknown case state code)."""
        key = self.next_key()
        text = self.case_xml(key).replace("<state>1</state>", "<state>99</state>", 1)
        self._versions.pop(key, None)
        return text

    def version_of(self, key: tuple[str, str]) -> int:
        if key not in self._versions:
            raise KeyError(f"the harness did not add a record with key {key}")
        return self._versions[key][1]

    @staticmethod
    def header() -> str:
        return '<?xml version="1.0" encoding="UTF-8"?>\n<cases version="1">\n'

    @staticmethod
    def footer() -> str:
        return "</cases>\n"


class DropHarness(Harness):
    """Conformance harness for a drop folder: adds standard-format case files.

    The cursor of a drop folder is the set of files delivered; a file's modification
    time plays the role of the cursor value, so ``add(cursor_value=…)`` writes files
    that share one modification time (the kit's boundary check).
    """

    bulk_file_records = 200_000

    def __init__(self, stream: str, kind: str | None) -> None:
        if kind != "case":
            raise AdapterError(
                "the drop-folder conformance harness writes standard case files: configure "
                "a stream with kind: case and no mapping to run the kit against it"
            )
        self.stream = stream
        self.writer = CaseFileWriter()
        self._files = 0
        self._last_mtime = 0

    @abstractmethod
    def _put(self, name: str, chunks: Iterator[str], mtime: int) -> None:
        """Make ``name`` appear in the drop folder complete, with modification time ``mtime``."""

    @abstractmethod
    def _clear(self) -> None:
        """Remove everything from the drop folder (and its done folder)."""

    # Harness protocol -------------------------------------------------------------
    def reset(self) -> None:
        self._clear()

    def _mtime(self, cursor_value: Any | None) -> int:
        if cursor_value is None:
            mtime = max(int(time.time()), self._last_mtime + 1)
        elif isinstance(cursor_value, datetime):
            mtime = int(cursor_value.timestamp())
        else:
            mtime = int(cursor_value)
        self._last_mtime = max(self._last_mtime, mtime)
        return mtime

    def _name(self) -> str:
        self._files += 1
        return f"{self.stream}-{self.writer.prefix}-{self._files:06d}.xml"

    def add(self, n: int, *, cursor_value: Any | None = None, bad: int = 0) -> list[tuple]:
        mtime = self._mtime(cursor_value)
        keys = [self.writer.next_key() for _ in range(n)]

        def chunks() -> Iterator[str]:
            yield self.writer.header()
            for key in keys:
                yield self.writer.case_xml(key, at=mtime)
            for _ in range(bad):
                yield self.writer.bad_xml()
            yield self.writer.footer()

        self._put(self._name(), chunks(), mtime)
        return keys

    def change(self, keys: list[tuple]) -> None:
        mtime = self._mtime(None)
        versions = {tuple(k): self.writer.version_of(tuple(k)) + 1 for k in keys}

        def chunks() -> Iterator[str]:
            yield self.writer.header()
            for key, version in versions.items():
                yield self.writer.case_xml(key, version=version, at=mtime)  # type: ignore[arg-type]
            yield self.writer.footer()

        self._put(self._name(), chunks(), mtime)

    def add_bulk(self, n: int) -> None:
        remaining = n
        while remaining > 0:
            count = min(remaining, self.bulk_file_records)
            remaining -= count
            mtime = self._mtime(None)

            def chunks(count: int = count, mtime: int = mtime) -> Iterator[str]:
                yield self.writer.header()
                batch: list[str] = []
                for _ in range(count):
                    batch.append(self.writer.case_xml(self.writer.next_key(), at=mtime))
                    if len(batch) == 2000:
                        yield "".join(batch)
                        batch.clear()
                self.writer._versions.clear()  # bulk rows are never changed: keep memory flat
                yield "".join(batch)
                yield self.writer.footer()

            self._put(self._name(), chunks(), mtime)


__all__ = [
    "DEFAULT_PATTERNS",
    "MANIFEST_NAME",
    "CaseFileWriter",
    "Delivered",
    "DropConfig",
    "DropFolder",
    "DropHarness",
    "DropRead",
    "DropSource",
    "DropStreamConfig",
    "Entry",
    "FileChanged",
    "Manifest",
    "Notice",
    "free_done_name",
    "in_progress",
    "unsafe_name_reason",
]
