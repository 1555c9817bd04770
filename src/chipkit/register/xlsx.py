"""A bounded XLSX reader: zip bombs, corrupt workbooks and formulas are refused, not suffered.

An XLSX file is a ZIP of XML parts. Before anything is decompressed the ZIP's central
directory is checked (entry count, directory size) and each member's declared size; while a
member is decompressed the bytes are counted again (a member that lies about its size is cut
off by :mod:`zipfile` and fails its CRC); while XML is parsed, a cell's text is counted as it
arrives and refused past Excel's own limit of 32,767 characters. XML with a DTD (entity
expansion) is refused. Any broken part (bad ZIP, bad XML, a shared-string index that does
not exist) is one :class:`XlsxError` naming what broke.

Cells are returned as text (numbers as Excel shows them: ``330703100201``, ``29.3``), or as
:class:`~chipkit.register.fields.SheetCell` for a formula or an error value, so the field
rules can say what happened instead of reading a silent blank.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import Any
from xml.parsers import expat

from chipkit.register.fields import SheetCell

MAX_MEMBER_BYTES = 64 * 2**20  # one decompressed part (a 10,000-household sheet is ~5 MB)
MAX_TOTAL_BYTES = 160 * 2**20  # all parts read from one workbook
MAX_ZIP_ENTRIES = 10_000
MAX_CENTRAL_DIRECTORY = 2 * 2**20
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
MAX_SHARED_STRINGS = 2_000_000
MAX_COLUMNS = 256  # cells right of column IV are ignored (a register never goes there)
MAX_ROW = 1_048_576  # Excel's last row
_CHUNK = 256 * 1024
_REF_RE = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

XlsxRow = tuple[int, list["str | SheetCell | None"]]


class XlsxError(Exception):
    """The workbook is unusable; the message says why (no file name: the caller adds it)."""


def looks_like_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _check_directory(data: bytes) -> None:
    """Refuse a ZIP whose central directory is huge before zipfile parses it."""
    tail = data[-(65535 + 22) :]
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise XlsxError("not a readable XLSX workbook (no ZIP directory)")
    entries, cd_size = struct.unpack("<HI", tail[at + 10 : at + 16])
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
        raise XlsxError("ZIP64 archives are not accepted as registers")
    if entries > MAX_ZIP_ENTRIES or cd_size > MAX_CENTRAL_DIRECTORY:
        raise XlsxError(f"the ZIP holds {entries} entries: not a register workbook")


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_TOTAL_BYTES


def _chunks(zf: zipfile.ZipFile, name: str, budget: _Budget) -> Iterator[bytes]:
    """Decompress one member in chunks, within MAX_MEMBER_BYTES and the workbook budget."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise XlsxError(f"the workbook has no part {name}") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise XlsxError(
            f"{name} would unpack to {info.file_size:,} bytes (limit "
            f"{MAX_MEMBER_BYTES:,}): refused as a zip bomb"
        )
    seen = 0
    try:
        with zf.open(info) as f:
            while chunk := f.read(_CHUNK):
                seen += len(chunk)
                budget.left -= len(chunk)
                if seen > MAX_MEMBER_BYTES or budget.left < 0:
                    raise XlsxError(f"{name} unpacks to more than allowed: refused as a zip bomb")
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
        raise XlsxError(f"{name} is corrupt ({e})") from None
    except (RuntimeError, NotImplementedError) as e:  # encrypted, unknown compression
        raise XlsxError(f"{name} cannot be unpacked ({e})") from None


def _parser(
    start: Callable[..., None], end: Callable[[str], None], text: Callable[[str], None]
) -> Any:
    p = expat.ParserCreate(namespace_separator=" ")

    def no_dtd(*_: object) -> None:
        raise XlsxError("XML with a document type declaration (entities) is refused")

    p.StartDoctypeDeclHandler = no_dtd
    p.EntityDeclHandler = no_dtd
    p.StartElementHandler = lambda name, attrs: start(name.rsplit(" ", 1)[-1], attrs)
    p.EndElementHandler = lambda name: end(name.rsplit(" ", 1)[-1])
    p.CharacterDataHandler = text
    p.buffer_text = True
    return p


def _parse_all(zf: zipfile.ZipFile, name: str, budget: _Budget, p: Any) -> None:
    try:
        for chunk in _chunks(zf, name, budget):
            p.Parse(chunk, False)
        p.Parse(b"", True)
    except expat.ExpatError as e:
        raise XlsxError(
            f"{name}: broken XML ({expat.ErrorString(e.code)}, line {e.lineno})"
        ) from None


def _attr(attrs: dict[str, str], key: str) -> str | None:
    """An attribute by local name (expat gives namespaced ones as 'uri local')."""
    for k, v in attrs.items():
        if k == key or k.endswith(" " + key):
            return v
    return None


class _TextCap:
    """Collects one cell's text, refusing it past MAX_CELL_CHARS as it arrives."""

    def __init__(self, what: str) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.what = what

    def add(self, s: str) -> None:
        self.size += len(s)
        if self.size > MAX_CELL_CHARS:
            raise XlsxError(f"{self.what}: a cell longer than {MAX_CELL_CHARS:,} characters")
        self.parts.append(s)

    def take(self) -> str:
        s = "".join(self.parts)
        self.parts, self.size = [], 0
        return s


def _relationships(zf: zipfile.ZipFile, name: str, budget: _Budget) -> dict[str, tuple[str, str]]:
    """A .rels part -> {id: (type, target)}; {} when the part is missing."""
    if name not in zf.NameToInfo:
        return {}
    rels: dict[str, tuple[str, str]] = {}

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "Relationship":
            rels[attrs.get("Id", "")] = (attrs.get("Type", ""), attrs.get("Target", ""))

    _parse_all(zf, name, budget, _parser(start, lambda _t: None, lambda _s: None))
    return rels


def _resolve(base: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = []
    for part in (PurePosixPath(base).parent / target).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/".join(parts)


def _shared_strings(zf: zipfile.ZipFile, name: str | None, budget: _Budget) -> list[str]:
    if name is None or name not in zf.NameToInfo:
        return []
    out: list[str] = []
    cap = _TextCap(name)
    state = {"si": False, "t": False, "rph": 0}

    def start(tag: str, _attrs: dict[str, str]) -> None:
        if tag == "si":
            state["si"] = True
        elif tag == "rPh":
            state["rph"] += 1
        elif tag == "t" and state["si"] and not state["rph"]:
            state["t"] = True

    def end(tag: str) -> None:
        if tag == "si":
            out.append(cap.take())
            state["si"] = False
            if len(out) > MAX_SHARED_STRINGS:
                raise XlsxError(f"{name}: more than {MAX_SHARED_STRINGS:,} shared strings")
        elif tag == "rPh":
            state["rph"] -= 1
        elif tag == "t":
            state["t"] = False

    def text(s: str) -> None:
        if state["t"]:
            cap.add(s)

    _parse_all(zf, name, budget, _parser(start, end, text))
    return out


def _number(v: str) -> str:
    """A numeric cell as Excel shows it: 330703100201, 29.3, 1001 (not 1001.0)."""
    try:
        return str(int(v))
    except ValueError:
        pass
    try:
        f = float(v)
    except ValueError:
        raise XlsxError(f"number cell holds {v[:20]!r}") from None
    return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)


class _SheetParser:
    """Turns sheet XML into (row number, cells); fed in chunks, rows collected as they end."""

    def __init__(self, name: str, strings: list[str]) -> None:
        self.name = name
        self.strings = strings
        self.rows: list[XlsxRow] = []
        self.row_no = 0
        self.cells: dict[int, str | SheetCell | None] = {}
        self.col = -1
        self.kind = "n"
        self.cap = _TextCap(name)
        self.reading: str | None = None  # "v", "f" or "t" while inside one
        self.v: str | None = None
        self.f: str | None = None
        self.inline: str | None = None
        self.rph = 0
        self.parser = _parser(self.start, self.end, self.text)

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "row":
            r = attrs.get("r")
            n = self.row_no + 1 if r is None else _int(r, "row number")
            if not self.row_no < n <= MAX_ROW:
                raise XlsxError(f"{self.name}: row number {n} out of order")
            self.row_no, self.cells, self.col = n, {}, -1
        elif tag == "c":
            ref = attrs.get("r")
            self.col = self.col + 1 if ref is None else _column(ref)
            self.kind = attrs.get("t", "n")
            self.v = self.f = self.inline = None
        elif tag in ("v", "f") or (tag == "t" and not self.rph):
            self.reading = tag
            self.cap.what = f"{self.name} row {self.row_no}"
            if tag == "f":
                self.f = ""
        elif tag == "rPh":
            self.rph += 1

    def end(self, tag: str) -> None:
        if tag == self.reading:
            s = self.cap.take()
            if tag == "v":
                self.v = s
            elif tag == "f":
                self.f = s
            else:
                self.inline = (self.inline or "") + s
            self.reading = None
        elif tag == "rPh":
            self.rph -= 1
        elif tag == "c":
            if 0 <= self.col < MAX_COLUMNS:
                self.cells[self.col] = self._value()
        elif tag == "row" and self.cells:
            width = max(self.cells) + 1
            self.rows.append((self.row_no, [self.cells.get(i) for i in range(width)]))

    def text(self, s: str) -> None:
        if self.reading is not None:
            self.cap.add(s)

    def _value(self) -> str | SheetCell | None:
        kind, v = self.kind, self.v
        if v == "" and (self.f is not None or kind not in ("str", "inlineStr")):
            v = None  # what scripts (openpyxl, pandas) write for a formula: no saved value
        if kind == "e":
            return SheetCell(None, self.f, error=v or "#ERROR")
        if kind == "inlineStr":
            value: str | None = self.inline or ""
        elif v is None:
            value = None
        elif kind == "s":
            i = _int(v, "shared-string index")
            if not 0 <= i < len(self.strings):
                raise XlsxError(
                    f"{self.name} row {self.row_no}: shared-string index {i} does not exist "
                    f"(the workbook has {len(self.strings)})"
                )
            value = self.strings[i]
        elif kind == "b":
            value = "TRUE" if v.strip() in ("1", "true") else "FALSE"
        elif kind in ("str", "d"):
            value = v
        else:
            value = _number(v.strip())
        if self.f is not None:
            return SheetCell(value, self.f)
        return value


def _int(s: str, what: str) -> int:
    if not (s.isascii() and s.strip().isdigit() and len(s) < 12):
        raise XlsxError(f"bad {what} {s[:20]!r}")
    return int(s)


def _column(ref: str) -> int:
    m = _REF_RE.fullmatch(ref)
    if m is None:
        raise XlsxError(f"bad cell reference {ref[:20]!r}")
    n = 0
    for ch in m.group(1):
        n = n * 26 + ord(ch) - 64
    return n - 1


class Workbook:
    """An XLSX workbook opened for bounded reading (the bytes are already in memory)."""

    def __init__(self, data: bytes) -> None:
        _check_directory(data)
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(data))
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            NotImplementedError,
        ) as e:
            raise XlsxError(f"not a readable XLSX workbook ({e})") from None
        if "[Content_Types].xml" not in self.zf.NameToInfo:
            raise XlsxError("a ZIP archive but not an XLSX workbook (no [Content_Types].xml)")
        self.budget = _Budget()
        self.book = self._book_part()
        self.sheets: list[tuple[str, str]] = []  # (name, part)
        self.strings_part: str | None = None
        self._read_book()

    def _book_part(self) -> str:
        for kind, target in _relationships(self.zf, "_rels/.rels", self.budget).values():
            if kind.endswith("/officeDocument"):
                return _resolve("", target)
        return "xl/workbook.xml"

    def _read_book(self) -> None:
        rels_name = _resolve(self.book, "_rels/" + PurePosixPath(self.book).name + ".rels")
        rels = _relationships(self.zf, rels_name, self.budget)
        for kind, target in rels.values():
            if kind.endswith("/sharedStrings"):
                self.strings_part = _resolve(self.book, target)
        if self.strings_part is None and "xl/sharedStrings.xml" in self.zf.NameToInfo:
            self.strings_part = "xl/sharedStrings.xml"
        found: list[tuple[str, str]] = []

        def start(tag: str, attrs: dict[str, str]) -> None:
            if tag == "sheet" and len(found) < 1000:
                rid = _attr(attrs, "id") or ""
                target = rels.get(rid, ("", ""))[1]
                part = _resolve(self.book, target) if target else ""
                guess = f"xl/worksheets/sheet{len(found) + 1}.xml"  # no relationships part
                if not part and guess in self.zf.NameToInfo:
                    part = guess
                found.append((attrs.get("name", ""), part))

        _parse_all(
            self.zf, self.book, self.budget, _parser(start, lambda _t: None, lambda _s: None)
        )
        self.sheets = found
        if not found:
            raise XlsxError("the workbook has no worksheet")

    @property
    def sheet_names(self) -> list[str]:
        return [n for n, _ in self.sheets]

    def rows(self, sheet: str | None = None) -> tuple[str, Iterator[XlsxRow]]:
        """(sheet name, iterator of (Excel row number, cells)) of one sheet (default: first)."""
        if sheet is None:
            name, part = self.sheets[0]
        else:
            match = [s for s in self.sheets if s[0] == sheet]
            if not match:
                raise XlsxError(f"no sheet named {sheet!r} (sheets: {', '.join(self.sheet_names)})")
            name, part = match[0]
        if not part:
            raise XlsxError(f"sheet {name!r} has no part in the workbook")
        strings = _shared_strings(self.zf, self.strings_part, self.budget)
        return name, self._iter(part, strings)

    def _iter(self, part: str, strings: list[str]) -> Iterator[XlsxRow]:
        sp = _SheetParser(part, strings)
        try:
            for chunk in _chunks(self.zf, part, self.budget):
                sp.parser.Parse(chunk, False)
                yield from sp.rows
                sp.rows = []
            sp.parser.Parse(b"", True)
        except expat.ExpatError as e:
            raise XlsxError(
                f"{part}: broken XML ({expat.ErrorString(e.code)}, line {e.lineno})"
            ) from None
        yield from sp.rows

    def close(self) -> None:
        self.zf.close()
