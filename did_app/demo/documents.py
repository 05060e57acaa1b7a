"""Tiny generated proof documents for the demo: a one-page PDF with a few text lines and a PNG
"scan" (a card with a header band and a photo box), built by hand so no library is needed.

They are valid files (they open in a PDF viewer and an image viewer) of a few hundred bytes, and
they start with the signatures proof_store.sniff() checks, as an upload would.
"""
import struct
import zlib

from did_app.demo.rows import _ascii

PAGE_WIDTH, PAGE_HEIGHT = 420, 297  # A6 landscape, in points: small, and big enough to read


def _pdf_text(text: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252, which holds the em dash); letters it lacks lose
    their accents."""
    try:
        raw = text.encode("cp1252")
    except UnicodeEncodeError:
        raw = _ascii(text).encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def pdf(lines: list[str]) -> bytes:
    """A one-page PDF 1.4 showing `lines` (the first one larger), with a correct xref table."""
    text = [b"BT /F1 16 Tf 24 250 Td", _pdf_text(lines[0]) + b" Tj", b"/F1 10 Tf 0 -28 Td"]
    for line in lines[1:]:
        text += [_pdf_text(line) + b" Tj", b"0 -16 Td"]
    stream = b"\n".join([*text, b"ET"])
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>" % (PAGE_WIDTH, PAGE_HEIGHT),
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(band: tuple[int, int, int], width: int = 160, height: int = 100) -> bytes:
    """An RGB PNG of an ID card: white, a coloured header band, a grey photo box, three text bars."""
    white, grey, ink = b"\xff\xff\xff", b"\xc8\xc8\xc8", b"\x50\x50\x50"
    rows = []
    for y in range(height):
        if y < 18:
            row = bytes(band) * width
        elif 28 <= y < 82:
            bars = (34 <= y < 40) or (50 <= y < 56) or (66 <= y < 72)
            row = white * 10 + grey * 40 + white * 14 + (ink if bars else white) * (width - 74) + white * 10
        else:
            row = white * width
        rows.append(b"\x00" + row)  # filter type 0 (none) for every scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + _chunk(b"IEND", b""))
