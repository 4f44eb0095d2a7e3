"""One read of one drop-folder stream: list, settle, check, copy, parse, acknowledge.

The rules are described in :mod:`adapters.builtin.drop`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from adapters.builtin.drop_config import DropConfig, DropStreamConfig
from adapters.builtin.drop_files import MaterialFiles
from adapters.builtin.drop_folder import (
    MANIFEST_NAME,
    MARKER_SUFFIX,
    MAX_MANIFEST_BYTES,
    SIDECAR_SUFFIX,
    DropFolder,
    Entry,
    FileChanged,
    Manifest,
    ManifestEntry,
    discard_part,
    in_progress,
    parse_sidecar,
    part_meta,
    sha256_of,
    shown_name,
    unsafe_name_reason,
)
from adapters.conformance.scratch import MARK as KIT_MARK
from adapters.sdk import AdapterError, ConfigError, Envelope, StreamRead
from adapters.sdk.source import State
from standards.formats import UnreadableInput, UnsafeInput, iter_raw_records, to_record
from standards.formats.limits import ParseLimits
from standards.privacy import mask_text
from standards.records import Material, SourceLocation
from standards.validation import Finding, Severity

if TYPE_CHECKING:
    from adapters.builtin.drop import DropSource

log = logging.getLogger("adapters.builtin.drop")


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


def marker_acknowledges(folder: DropFolder, entry: Entry) -> bool:
    """Whether ``entry``'s ``.done`` marker in ``folder`` acknowledges this very file (same
    size and modification time); an absent or unreadable marker acknowledges nothing."""
    try:
        marker = json.loads(folder.read_small(entry.name + MARKER_SUFFIX, 4096))
        return (int(marker["size"]), int(marker["mtime"])) == (entry.size, entry.mtime)
    except (OSError, AdapterError, ValueError, KeyError, TypeError):
        return False  # an unreadable marker acknowledges nothing: deliver again


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
        self._material_files: MaterialFiles | None = None
        if source.fetches_material_files:
            tree, parts = source.material_files_path()
            self._material_files = MaterialFiles(tree, parts, self.config.max_file_bytes)

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

    @property
    def ingested(self) -> tuple[Delivered, ...]:
        """The files whose records this read yielded (not those only awaiting their
        acknowledgement): what a run that must read nothing new checks is empty."""
        return tuple(self._delivered)

    def commit(self) -> None:
        """Acknowledge every delivered file: the hub has committed their records."""
        todo = [*self._pending, *self._delivered]
        if not todo:
            return
        folder = self._open()
        # A view (a verified signed delivery) stats what was read; acknowledge only a live
        # file that is still the one read — for a view, down to its bytes: the same size
        # and modification time do not prove the same content.
        live: DropFolder = getattr(folder, "live", folder)
        still_verified = getattr(folder, "still_verified", None)
        for item in todo:
            try:
                now = live.stat(item.name)
                if (
                    now is None
                    or not item.same_file(now)
                    or (still_verified is not None and not still_verified(item.name, item.sha256))
                ):
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
        if self._material_files is not None:
            self._material_files.clear()
        if self._folder is not None:
            self._folder.close()
            self._folder = None

    # -- steps ------------------------------------------------------------------------

    def _open(self) -> DropFolder:
        if self._folder is None:
            folder = self.source.open_folder()
            view = self.source.folder_view
            self._folder = folder if view is None else view(folder)
        return self._folder

    def _notice(self, name: str, action: Literal["refused", "deferred"], reason: str) -> None:
        notice = Notice(shown_name(name), action, mask_text(reason))
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
            if not self._matches(name) or name in (MANIFEST_NAME, KIT_MARK) or name in pending:
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
        return marker_acknowledges(self._folder, entry)

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
            notice = Notice(shown_name(name), "deferred", reason)
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
            for envelope in self._envelopes(staged, folder.location(name), fmt):
                yield self._with_material_file(folder, envelope)
        finally:
            staged.unlink(missing_ok=True)
        self._delivered.append(Delivered(name, entry.size, entry.mtime, digest))

    def _with_material_file(self, folder: DropFolder, envelope: Envelope) -> Envelope:
        """A material from a remote folder: its file downloaded first, or the reason why not."""
        record = envelope.record
        if (
            self._material_files is None
            or not isinstance(record, Material)
            or any(f.severity is Severity.ERROR for f in envelope.findings)
        ):
            return envelope
        problem = self._material_files.fetch(folder, record)
        if problem is not None:
            envelope.findings = [*envelope.findings, problem]
        return envelope

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
