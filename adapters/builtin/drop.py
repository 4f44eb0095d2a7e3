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

import hashlib
import inspect
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from adapters.builtin.drop_config import DEFAULT_PATTERNS, DropConfig, DropStreamConfig
from adapters.builtin.drop_folder import (
    MANIFEST_NAME,
    DropFolder,
    Entry,
    FileChanged,
    Manifest,
    discard_part,
    free_done_name,
    in_progress,
    part_meta,
    unsafe_name_reason,
)
from adapters.builtin.drop_harness import CaseFileWriter, DropHarness
from adapters.builtin.drop_read import Delivered, DropRead, Notice
from adapters.sdk import AdapterConfig, AdapterError, ConfigError, Source
from adapters.sdk.source import State, StreamSpec
from standards.records import RECORD_KINDS

ENV_HUB_HOME = "TONGYUAN_HOME"


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
    #: Whether a read downloads the files its materials reference (a remote folder).
    fetches_material_files: ClassVar[bool] = False

    mapping: ClassVar[str | None] = None
    kind: ClassVar[str | None] = None
    patterns: ClassVar[tuple[str, ...]] = DEFAULT_PATTERNS
    record_tag: ClassVar[str | None] = None
    _mapping_home: ClassVar[Path | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)  # Source moves ``stream = "…"`` aside
        if "mapping" in cls.__dict__ and cls.__dict__["mapping"] is not None:
            try:
                cls._mapping_home = Path(inspect.getfile(cls)).resolve().parent
            except (TypeError, OSError):
                cls._mapping_home = None

    def __init__(self, config: AdapterConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._streams = self._stream_configs()
        self._mappings: dict[str, Any] = {}
        #: How reads see the folder: the hub sets it to the snapshot of a verified signed
        #: delivery, so a read ingests what was verified and never the live folder again.
        self.folder_view: Callable[[DropFolder], DropFolder] | None = None

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
        """The stream's mapping (adapters.mapping.Mapping), loaded once; None for a stream
        of standard exchange files, which has none (the conformance kit asks every stream)."""
        if stream not in self._mappings:
            from adapters.mapping import Mapping

            spec = self._streams[stream]
            if spec.mapping is None:
                return None
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
        return self._staging_dir(f"\x00{stream}", "")

    def verified_path(self, department: str) -> Path:
        """Where the hub keeps the copies of ``department``'s signed delivery it verified
        (and ingests): in this source's staging area, not the system's temporary
        directory, and one directory per department — the hub's lock is per department,
        so two departments sharing a drop folder must not share (and sweep) copies."""
        return self._staging_dir(f"\x00\x00verified\x00{department}", "-verified")

    def material_files_path(self) -> tuple[Path, Path]:
        """Where a remote source stages the files its materials reference: the tree the
        hub looks them up in (``file`` relative to it) and the folder of partial copies.

        One tree per drop folder, not per stream: the hub is given it once for every
        stream it reads (see :mod:`adapters.builtin.drop_files`).
        """
        base = self._staging_dir("\x00\x00material-files", "-files")
        tree, parts = base / "tree", base / "parts"
        for path in (tree, parts):
            path.mkdir(exist_ok=True, mode=0o700)
        return tree, parts

    def _staging_dir(self, salt: str, suffix: str) -> Path:
        config: DropConfig = self.config  # type: ignore[assignment]
        if config.staging_dir is not None:
            base = Path(config.staging_dir)
            if not base.is_absolute():
                base = self.base_dir / base
        elif os.environ.get(ENV_HUB_HOME):
            base = Path(os.environ[ENV_HUB_HOME]) / "staging"
        else:
            base = Path(tempfile.gettempdir()) / "tongyuan-staging"
        key = hashlib.sha256(f"{self.staging_key()}{salt}".encode()).hexdigest()[:24]
        path = base / f"{self.name}-{key}{suffix}"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path


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
    "discard_part",
    "free_done_name",
    "in_progress",
    "part_meta",
    "unsafe_name_reason",
]
