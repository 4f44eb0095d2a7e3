"""Conformance harness for drop folders: standard-format case files, written fast."""

from __future__ import annotations

import os
import time
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from adapters.conformance.harness import Harness
from adapters.sdk import AdapterError

_CST = timezone(timedelta(hours=8))


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
