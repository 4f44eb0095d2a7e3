"""Safe inspection of zip materials: read as streams, never extracted.

A zip submitted as a material is untrusted. Before it is accepted every entry is checked:
names that would escape a folder when extracted (``../``, absolute paths, drive letters,
backslashes, NUL), symbolic links and other special files (Unix mode in
``external_attr``), encrypted entries, duplicate names, too many entries, too much
expansion (total size, ratio), entries that overlap (the non-recursive zip bomb), and
zips inside zips beyond a depth. The entry count is read from the end-of-central-directory
record before :mod:`zipfile` parses the directory, so a million-entry archive is refused
without building a million objects. Every entry is then decompressed into a counter,
which checks its CRC and proves its declared size (zipfile stops at the declared size, so
a lying header cannot expand further). A nested zip is spooled to memory, or to a
temporary file in the system temporary folder when large, and inspected the same way
with the budget that is left.
"""

from __future__ import annotations

import itertools
import posixpath
import re
import stat
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from standards.validation.findings import Finding
from tongyuan.materials.limits import MaterialLimits

_CHUNK = 1 << 16
_SPOOL_IN_MEMORY = 8 << 20
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22  # the end-of-central-directory record without its comment
# Zip readers look for the end record in the last 64 KiB (its comment's longest) plus
# the record: a zip appended to a PDF, or to anything, opens as an archive in every unzip
# tool. Such a file passes a sniff of its first bytes, so the tail is checked as well.
ZIP_TAIL_BYTES = _EOCD_SIZE + 0xFFFF
_EOCD64_LOCATOR = b"PK\x06\x07"
_DRIVE = re.compile(r"^[A-Za-z]:")
_LOCAL_HEADER = 30
_ENCRYPTED = 0x1
_STRONG_ENCRYPTION = 0x40
_UNIX = 3
_SPECIAL = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


@dataclass(slots=True)
class _Budget:
    """What all levels of one archive may still use together."""

    entries: int
    total_bytes: int


@dataclass(slots=True)
class ArchiveReport:
    """Findings, plus what was seen (entries and bytes over every level)."""

    findings: list[Finding] = field(default_factory=list)
    entries: int = 0
    uncompressed_bytes: int = 0


def _finding(rule: str, where: str, text: str) -> Finding:
    return Finding(rule, f"{where}: {text}", "file")


def _tail(fh: IO[bytes]) -> bytes:
    """The last bytes of a file where zip readers look for the end record."""
    size = fh.seek(0, 2)
    fh.seek(max(0, size - ZIP_TAIL_BYTES))
    return fh.read()


def ends_with_zip(tail: bytes) -> bool:
    """Whether data ending with ``tail`` holds a whole zip end record where readers look."""
    return tail.find(_EOCD, 0, len(tail) - _EOCD_SIZE + len(_EOCD)) != -1


def declared_entry_count(fh: IO[bytes]) -> int | None:
    """Entries the end-of-central-directory record announces (zip64 aware); None if absent."""
    tail = _tail(fh)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < _EOCD_SIZE:
        return None
    count = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    if count != 0xFFFF:
        return int(count)
    locator = tail[at - 20 : at] if at >= 20 else b""
    if not locator.startswith(_EOCD64_LOCATOR):
        return None
    offset = struct.unpack("<Q", locator[8:16])[0]
    fh.seek(offset)
    record = fh.read(56)
    if len(record) < 40 or not record.startswith(b"PK\x06\x06"):
        return None
    return int(struct.unpack("<Q", record[32:40])[0])


def unsafe_name_reason(name: str) -> str | None:
    """Why an entry name would write outside the extraction folder, or None if it would not."""
    if not name:
        return "an empty name"
    if "\x00" in name:
        return "a NUL character in the name"
    if "\\" in name:
        return "a backslash (a Windows path separator)"
    if _DRIVE.match(name):
        return "a drive letter"
    if name.startswith("/"):
        return "an absolute path"
    if ".." in name.split("/"):
        return "a '..' segment (path traversal)"
    return None


def _special_kind(info: zipfile.ZipInfo) -> str | None:
    if info.create_system != _UNIX:
        return None
    mode = info.external_attr >> 16
    return _SPECIAL.get(stat.S_IFMT(mode)) if mode else None


def _is_zip(head: bytes) -> bool:
    """By content, not by name: an OFD or a .docx inside a zip is a zip as well."""
    return head.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def hides_zip(path: Path) -> bool:
    """Whether the file at ``path`` opens as a zip archive without starting as one."""
    with path.open("rb") as fh:
        return not _is_zip(fh.read(4)) and ends_with_zip(_tail(fh))


def inspect_zip(path: Path, limits: MaterialLimits, *, label: str | None = None) -> ArchiveReport:
    """Every problem of the zip at ``path`` (an empty list of findings: safe to accept)."""
    report = ArchiveReport()
    budget = _Budget(limits.max_entries, limits.max_total_bytes)
    with path.open("rb") as fh:
        _inspect(fh, label or path.name, limits, budget, report, depth=1)
    return report


def _inspect(
    fh: IO[bytes],
    where: str,
    limits: MaterialLimits,
    budget: _Budget,
    report: ArchiveReport,
    depth: int,
) -> None:
    out = report.findings
    try:
        announced = declared_entry_count(fh)
    except (OSError, struct.error):
        announced = None
    if announced is not None and announced > budget.entries:
        out.append(
            _finding(
                "material.archive.entries",
                where,
                f"{announced} entries, more than the {limits.max_entries} allowed",
            )
        )
        return
    fh.seek(0)
    try:
        archive = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        out.append(_finding("material.archive.malformed", where, f"not a readable zip ({exc})"))
        return
    with archive:
        infos = archive.infolist()
        if len(infos) > budget.entries:
            out.append(
                _finding(
                    "material.archive.entries",
                    where,
                    f"{len(infos)} entries, more than the {limits.max_entries} allowed",
                )
            )
            return
        budget.entries -= len(infos)
        report.entries += len(infos)
        if not _check_directory(infos, where, limits, budget, out):
            return
        for info in infos:
            if info.is_dir() or _special_kind(info) or info.flag_bits & _ENCRYPTED:
                continue
            _read_entry(archive, info, where, limits, budget, report, depth)


def _check_directory(
    infos: list[zipfile.ZipInfo],
    where: str,
    limits: MaterialLimits,
    budget: _Budget,
    out: list[Finding],
) -> bool:
    """Checks on the central directory alone; False when nothing should be decompressed."""
    seen: dict[str, str] = {}
    declared_total = 0
    compressed_total = 0
    before = len(out)
    for info in infos:
        name = info.orig_filename
        shown = name.replace("\x00", "\\0")
        reason = unsafe_name_reason(name)
        if reason is not None:
            out.append(_finding("material.archive.path", where, f"entry {shown!r} has {reason}"))
        special = _special_kind(info)
        if special is not None:
            out.append(_finding("material.archive.symlink", where, f"entry {shown!r} is {special}"))
        if info.flag_bits & (_ENCRYPTED | _STRONG_ENCRYPTION):
            out.append(
                _finding("material.archive.encrypted", where, f"entry {shown!r} is encrypted")
            )
        key = posixpath.normpath(name.rstrip("/")).casefold()
        if key in seen:
            out.append(
                _finding(
                    "material.archive.duplicate",
                    where,
                    f"entry {shown!r} has the same name as {seen[key]!r}",
                )
            )
        else:
            seen[key] = shown
        declared_total += info.file_size
        compressed_total += info.compress_size
        if info.file_size > limits.ratio_min_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            out.append(
                _finding(
                    "material.archive.ratio",
                    where,
                    f"entry {shown!r} expands {ratio}:1 ({info.file_size} bytes), beyond "
                    f"the {limits.max_ratio}:1 allowed",
                )
            )
    if declared_total > budget.total_bytes:
        out.append(
            _finding(
                "material.archive.size",
                where,
                f"expands to {declared_total} bytes, more than the {limits.max_total_bytes} "
                "allowed",
            )
        )
    elif declared_total > limits.ratio_min_bytes and declared_total > limits.max_ratio * max(
        compressed_total, 1
    ):
        out.append(
            _finding(
                "material.archive.ratio",
                where,
                f"expands {declared_total // max(compressed_total, 1)}:1 as a whole, beyond the "
                f"{limits.max_ratio}:1 allowed",
            )
        )
    out.extend(_overlaps(infos, where))
    return len(out) == before


def _overlaps(infos: list[zipfile.ZipInfo], where: str) -> Iterator[Finding]:
    """Entries whose data overlap: many headers over one compressed stream (a zip bomb)."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for one, two in itertools.pairwise(ordered):
        end = one.header_offset + _LOCAL_HEADER + len(one.orig_filename.encode("utf-8", "replace"))
        if two.header_offset < end + one.compress_size:
            yield _finding(
                "material.archive.ratio",
                where,
                f"entries {one.orig_filename!r} and {two.orig_filename!r} overlap "
                "(a non-recursive zip bomb)",
            )
            return


def _read_entry(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    where: str,
    limits: MaterialLimits,
    budget: _Budget,
    report: ArchiveReport,
    depth: int,
) -> None:
    """Decompress one entry into a counter (and a spool, if it is itself a zip)."""
    name = info.orig_filename
    spool: IO[bytes] | None = None
    read = 0
    tail = b""
    try:
        with archive.open(info) as stream:
            head = stream.read(8)
            nested = _is_zip(head)
            if nested:
                spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
                spool.write(head)
            else:
                tail = head
            read = len(head)
            while chunk := stream.read(_CHUNK):
                if spool is None:
                    tail = (tail + chunk)[-ZIP_TAIL_BYTES:]
                read += len(chunk)
                if read > budget.total_bytes:
                    report.findings.append(
                        _finding(
                            "material.archive.size",
                            where,
                            f"entry {name!r} expands beyond the {limits.max_total_bytes} bytes "
                            "allowed",
                        )
                    )
                    return
                if spool is not None:
                    spool.write(chunk)
        budget.total_bytes -= read
        report.uncompressed_bytes += read
        if spool is None and ends_with_zip(tail):
            report.findings.append(
                _finding(
                    "material.archive.nesting",
                    where,
                    f"entry {name!r} hides a zip archive behind other content (a polyglot "
                    "file); archives inside archives must be plain zips",
                )
            )
            return
        if spool is not None:
            if depth >= limits.max_depth:
                report.findings.append(
                    _finding(
                        "material.archive.nesting",
                        where,
                        f"entry {name!r} is an archive inside an archive beyond the "
                        f"{limits.max_depth} levels allowed",
                    )
                )
                return
            spool.seek(0)
            _inspect(spool, f"{where}!{name}", limits, budget, report, depth + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        report.findings.append(
            _finding("material.archive.malformed", where, f"entry {name!r} cannot be read ({exc})")
        )
    finally:
        if spool is not None:
            spool.close()
