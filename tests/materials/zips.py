"""Hostile and harmless zip archives, built in memory for the material tests."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path


def build(entries: list[tuple[str | zipfile.ZipInfo, bytes]], *, deflate: bool = True) -> bytes:
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def safe() -> bytes:
    inner = build([("说明.txt", "附件说明".encode())])
    return build(
        [
            ("营业执照.pdf", b"%PDF-1.7\n" + os.urandom(2000)),
            ("附件/照片.jpg", b"\xff\xd8\xff\xe0" + os.urandom(2000)),
            ("附件/", b""),
            ("附件/说明.zip", inner),
        ]
    )


def zip_slip() -> bytes:
    return build([("ok.txt", b"x"), ("../../etc/cron.d/evil", b"* * * * * root sh")])


def absolute_path() -> bytes:
    return build([("/etc/passwd", b"root::0:0::/:/bin/sh")])


def drive_letter() -> bytes:
    return build([("C:/Windows/System32/evil.dll", b"MZ")])


def backslash() -> bytes:
    return build([("..\\..\\evil.exe", b"MZ")])


def symlink() -> bytes:
    info = zipfile.ZipInfo("link")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return build([(info, b"/etc/shadow")])


def ratio_bomb(size: int = 4 << 20) -> bytes:
    return build([("zeros.bin", bytes(size))])


def total_size(entries: int = 8, size: int = 64 << 10) -> bytes:
    """Incompressible entries whose sum is large: no ratio problem, just too much."""
    return build([(f"part{i}.bin", os.urandom(size)) for i in range(entries)], deflate=False)


def many_entries(count: int) -> bytes:
    return build([(f"f{i}.txt", b"") for i in range(count)])


def nested(depth: int) -> bytes:
    data = build([("core.txt", b"payload")])
    for level in range(depth - 1):
        data = build([(f"level{level}.zip", data)])
    return data


def duplicate_names() -> bytes:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate we want
        return build([("a.txt", b"one"), ("A.txt", b"two"), ("a.txt", b"three")])


def encrypted() -> bytes:
    """Sets the 'encrypted' flag in both headers (zipfile cannot write encrypted zips)."""
    data = bytearray(build([("secret.txt", b"hidden")]))
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 6] |= 0x01
    data[central + 8] |= 0x01
    return bytes(data)


def lying_size() -> bytes:
    """The central directory claims 10 bytes for an entry that inflates to 1 MiB."""
    data = bytearray(build([("small.txt", bytes(1 << 20))]))
    central = data.find(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    local = data.find(b"PK\x03\x04")
    data[local + 22 : local + 26] = (10).to_bytes(4, "little")
    return bytes(data)


def overlapping() -> bytes:
    """A second directory entry pointing at the first one's data (non-recursive bomb)."""
    data = build([("a", bytes(4096))])
    cd_at = data.find(b"PK\x01\x02")
    eocd_at = data.find(b"PK\x05\x06")
    record = data[cd_at:eocd_at]
    twin = record[:46] + b"b" + record[47:]  # the name starts at byte 46
    eocd = bytearray(data[eocd_at:])
    eocd[8:10] = (2).to_bytes(2, "little")
    eocd[10:12] = (2).to_bytes(2, "little")
    eocd[12:16] = (len(record) * 2).to_bytes(4, "little")
    return data[:eocd_at] + twin + bytes(eocd)
