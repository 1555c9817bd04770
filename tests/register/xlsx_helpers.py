"""Hand-made XLSX files: exactly the XML a test needs (formulas, broken parts, bombs)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from xml.sax.saxutils import escape

CT = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
BOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
BOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def cell_xml(ref: str, value: object) -> str:
    """A value, or a raw '<c ...>' snippet given as ('raw', xml) with {ref} in it."""
    if isinstance(value, tuple) and value[0] == "raw":
        return value[1].format(ref=ref)
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def sheet_xml(rows: Sequence[tuple[int, Sequence[object]]]) -> str:
    body = []
    for n, cells in rows:
        cs = "".join(cell_xml(f"{col(i)}{n}", v) for i, v in enumerate(cells))
        body.append(f'<row r="{n}">{cs}</row>')
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><sheetData>{"".join(body)}</sheetData></worksheet>'


def shared_xml(strings: Sequence[str]) -> str:
    si = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
    return f'<?xml version="1.0" encoding="UTF-8"?><sst {NS} count="{len(strings)}">{si}</sst>'


def make_xlsx(
    rows: Sequence[tuple[int, Sequence[object]]] | None = None,
    *,
    sheet: str | bytes | None = None,
    shared: Sequence[str] = (),
    extra: dict[str, bytes] | None = None,
    content_types: bool = True,
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        if content_types:
            z.writestr("[Content_Types].xml", CT)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("xl/workbook.xml", BOOK)
        z.writestr("xl/_rels/workbook.xml.rels", BOOK_RELS)
        z.writestr("xl/sharedStrings.xml", shared_xml(shared))
        z.writestr(
            "xl/worksheets/sheet1.xml", sheet if sheet is not None else sheet_xml(rows or [])
        )
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def _local(name: bytes, crc: int, csize: int, usize: int) -> bytes:
    import struct

    return (
        struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, csize, usize, len(name), 0)
        + name
    )


def _central(name: bytes, crc: int, csize: int, usize: int, offset: int) -> bytes:
    import struct

    return (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0,
            crc,
            csize,
            usize,
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        + name
    )


def raw_zip(members: Sequence[tuple[str, bytes, int, int]]) -> bytes:
    """A ZIP from already-deflated members: (name, raw deflate stream, crc32, declared size)."""
    import struct

    out = io.BytesIO()
    central = []
    for name, stream, crc, usize in members:
        off = out.tell()
        nb = name.encode()
        out.write(_local(nb, crc, len(stream), usize))
        out.write(stream)
        central.append(_central(nb, crc, len(stream), usize, off))
    cd_off = out.tell()
    cd = b"".join(central)
    out.write(cd)
    out.write(
        struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(cd), cd_off, 0)
    )
    return out.getvalue()


def deflated(data: bytes) -> tuple[bytes, int, int]:
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(), zlib.crc32(data), len(data)


def bomb_xlsx(cell_mib: int, *, declared: int | None = None) -> bytes:
    """A workbook whose one cell is ``cell_mib`` MiB of 'a' (1024 gives the issue's
    1 MB file with a 1 GiB cell). ``declared`` overrides the size the ZIP claims."""
    import zlib

    head = (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><sheetData><row r="1">'
        '<c r="A1" t="inlineStr"><is><t>'
    ).encode()
    tail = b"</t></is></c></row></sheetData></worksheet>"
    block = b"a" * 2**20
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    rep = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    assert rep == again  # a full flush resets the window: every block compresses alike
    last = c.compress(tail) + c.flush()
    crc = zlib.crc32(head)
    for _ in range(cell_mib):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + cell_mib * 2**20 + len(tail)
    stream = first + rep * (cell_mib - 1) + again + last if cell_mib else first + last
    parts = [
        ("[Content_Types].xml", *deflated(CT.encode())),
        ("_rels/.rels", *deflated(ROOT_RELS.encode())),
        ("xl/workbook.xml", *deflated(BOOK.encode())),
        ("xl/_rels/workbook.xml.rels", *deflated(BOOK_RELS.encode())),
        ("xl/sharedStrings.xml", *deflated(shared_xml([]).encode())),
    ]
    members = [(n, s, crc_, size_) for n, s, crc_, size_ in parts]
    members.append(
        ("xl/worksheets/sheet1.xml", stream, crc, declared if declared is not None else size)
    )
    return raw_zip(members)
