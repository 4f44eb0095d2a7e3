"""Small but valid document files: PDF, PNG, JPEG and plain text, built from a text.

Material files must be real files of their media type (readers and viewers open them in
the demo), small (a dataset holds tens of thousands), and byte-identical for the same
input. Nothing here depends on an imaging library.
"""

from __future__ import annotations

import struct
import zlib

MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "txt": "text/plain",
}


def _pdf_hex_utf16(text: str) -> str:
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def _pdf_ascii(text: str) -> str:
    safe = text.encode("ascii", "replace").decode("ascii")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_document(title: str, lines: list[str]) -> bytes:
    """A one-page PDF 1.4 with ``lines`` (ASCII shown; other text kept in /Title).

    Standard fonts carry no CJK glyphs, so Chinese text goes into the document
    information dictionary as UTF-16, where viewers show it as the title.
    """
    content_lines = ["BT", "/F1 11 Tf", "14 TL", "72 770 Td"]
    for line in lines:
        content_lines.append(f"({_pdf_ascii(line)}) Tj T*")
    content_lines.append("ET")
    stream = "\n".join(content_lines).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        f"<< /Title {_pdf_hex_utf16(title)} /Producer (Tongyuan generator) >>".encode("ascii"),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        len(objects),
        xref,
    )
    return bytes(out)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_image(seed: bytes, text: str, size: int = 16) -> bytes:
    """A ``size``×``size`` RGB PNG with a pattern derived from ``seed`` and ``text`` in iTXt."""
    colours = [seed[i % len(seed)] for i in range(6)] if seed else [128] * 6
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            c = colours[:3] if (x // 4 + y // 4) % 2 else colours[3:]
            rows += bytes(c)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    itxt = b"Description\x00\x00\x00\x00\x00" + text.encode("utf-8")
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"iTXt", itxt)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + _png_chunk(b"IEND", b"")
    )


# A baseline JPEG of one 8×8 grey block: quantisation all 1, one-symbol Huffman tables
# (DC category 0, AC end-of-block), so the entropy-coded data is the two bits "00".
_JPEG_HEAD = bytes.fromhex("FFD8FFE000104A46494600010100000100010000")
_JPEG_TABLES = (
    bytes.fromhex("FFDB004300") + b"\x01" * 64
    + bytes.fromhex("FFC0000B080008000801011100")
    + bytes.fromhex("FFC400140001" + "00" * 15 + "00")
    + bytes.fromhex("FFC400141001" + "00" * 15 + "00")
    + bytes.fromhex("FFDA0008010100003F00")
    + b"\x3f"
    + bytes.fromhex("FFD9")
)  # fmt: skip


def jpeg_image(text: str) -> bytes:
    """A tiny valid JPEG carrying ``text`` in a comment (COM) segment."""
    comment = text.encode("utf-8")[:60000]
    return _JPEG_HEAD + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + _JPEG_TABLES


def document_bytes(ext: str, title: str, lines: list[str], seed: bytes) -> bytes:
    """The file for a material of type ``ext`` (pdf, png, jpg, txt)."""
    text = "\n".join([title, *lines])
    if ext == "pdf":
        return pdf_document(title, lines)
    if ext == "png":
        return png_image(seed, text)
    if ext == "jpg":
        return jpeg_image(text)
    if ext == "txt":
        return (text + "\n").encode("utf-8")
    raise ValueError(f"no file builder for extension {ext!r}")
