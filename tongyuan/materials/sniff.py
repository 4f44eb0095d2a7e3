"""What a file's first bytes say it is, and whether that agrees with what was declared.

Only signatures that cannot be mistaken are used (a PDF header, a zip record, image
magic numbers); content with no known signature is "unknown" and never contradicts a
declaration. Zip-based formats (OFD per GB/T 33190, OOXML, OpenDocument) sniff as zip,
so those declared types agree with zip content — and get the archive inspection too.
"""

from __future__ import annotations

from pathlib import Path

SNIFF_BYTES = 64

ZIP = "application/zip"
OLE = "application/x-ole-storage"

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, ZIP),
    (b"PK\x05\x06", 0, ZIP),  # an empty archive
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"Rar!\x1a\x07", 0, "application/vnd.rar"),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, OLE),
    (b"WEBP", 8, "image/webp"),
    (b"<?xml", 0, "application/xml"),
)

_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "application/x-zip-compressed": ZIP,
    "application/x-zip": ZIP,
    "application/x-pdf": "application/pdf",
    "text/xml": "application/xml",
    "application/x-rar-compressed": "application/vnd.rar",
    "application/x-gzip": "application/gzip",
}

# Declared types whose content is a zip container.
_ZIP_BASED = frozenset(
    {
        ZIP,
        "application/ofd",
        "application/epub+zip",
        "application/java-archive",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)
_OLE_BASED = frozenset({OLE, "application/msword", "application/vnd.ms-excel",
                        "application/vnd.ms-powerpoint"})  # fmt: skip
_GENERIC = frozenset({"application/octet-stream", "binary/octet-stream"})


def normalize_media_type(value: str) -> str:
    """Lower case, parameters dropped, common aliases folded (``image/jpg`` → jpeg)."""
    base = value.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def sniff_bytes(head: bytes) -> str | None:
    """The media type the leading bytes prove, or None when they prove nothing."""
    for magic, offset, media_type in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if media_type == "image/webp" and not head.startswith(b"RIFF"):
                continue
            return media_type
    return None


def sniff_file(path: Path) -> str | None:
    with path.open("rb") as fh:
        return sniff_bytes(fh.read(SNIFF_BYTES))


def agrees(declared: str, sniffed: str | None) -> bool:
    """Whether content of type ``sniffed`` may be declared as ``declared``."""
    if sniffed is None:
        return True
    want = normalize_media_type(declared)
    if want in _GENERIC or want == sniffed:
        return True
    if sniffed == ZIP:
        return want in _ZIP_BASED
    if sniffed == OLE:
        return want in _OLE_BASED
    if sniffed == "application/xml":
        return want.endswith("+xml") or want in ("application/xml", "text/plain")
    return False
