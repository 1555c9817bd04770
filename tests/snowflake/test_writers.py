"""Encoder API and writers: Symbol, render, SVG, PNG, reportlab, extent."""

from __future__ import annotations

import dataclasses
import io
import math
import re
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

from chipkit import ChipkitError, snowflake


def test_symbol_is_frozen_and_complete():
    sym = snowflake.encode(b"x" * 110)
    assert sym.variant == 28
    assert sym.payload == b"x" * 110
    assert sym.cells.shape == (snowflake.layout(28).n_cells,)
    assert set(np.unique(sym.cells)) <= {0, 1}
    with pytest.raises(dataclasses.FrozenInstanceError):
        sym.variant = 27  # type: ignore[misc]
    with pytest.raises(ValueError):
        sym.cells[0] = 1


def test_cell_centres_are_a_unit_hexagonal_lattice():
    sym = snowflake.encode(bytes(100))
    xy = sym.cell_centres()
    assert xy.shape == (sym.cells.size, 2)
    d = np.linalg.norm(xy[1:] - xy[:-1], axis=1)
    assert math.isclose(float(d.min()), 1.0, abs_tol=1e-9)  # row neighbours
    centre = np.flatnonzero((np.abs(xy) < 1e-9).all(axis=1))
    assert sym.cells[centre[0]] == 1  # the bullseye's dark centre cell


def test_no_large_uniform_areas_in_data():
    sym = snowflake.encode(bytes(131))  # all-zero payload: whitening must still mix it
    lay = sym.layout
    data = sym.cells[lay.data_order]
    assert 0.4 < data.mean() < 0.6
    runs = np.diff(np.flatnonzero(np.diff(data) != 0))
    assert runs.max() < 25


def test_variant_choice_and_errors():
    assert snowflake.encode(bytes(1)).variant == 24
    assert snowflake.encode(bytes(117)).variant == 28
    assert snowflake.encode(bytes(118)).variant == 29
    assert snowflake.encode(bytes(131)).variant == 30
    with pytest.raises(snowflake.SnowflakeError):
        snowflake.encode(b"")
    with pytest.raises(snowflake.SnowflakeError):
        snowflake.encode(bytes(138))
    with pytest.raises(snowflake.SnowflakeError):
        snowflake.encode(bytes(120), variant=24)
    with pytest.raises(snowflake.SnowflakeError):
        snowflake.encode(bytes(10), variant=99)
    with pytest.raises(TypeError):
        snowflake.encode("text")  # type: ignore[arg-type]
    assert issubclass(snowflake.SnowflakeError, ChipkitError)


def test_render_size_matches_extent_and_ink():
    sym = snowflake.encode(bytes(range(100)))
    w, h = snowflake.symbol_extent(sym)
    img = snowflake.render(sym, 5.0)
    assert img.dtype == np.uint8 and img.ndim == 2
    assert img.shape == (round(h * 5), round(w * 5))
    assert img[0, 0] == 255 and img[img.shape[0] // 2, img.shape[1] // 2] < 64  # bullseye centre
    wq, hq = snowflake.symbol_extent(sym, quiet=4)
    assert math.isclose(wq - w, 4.0) and math.isclose(hq - h, 4.0)
    assert snowflake.render(sym, 5.0, quiet=4).shape == (round(hq * 5), round(wq * 5))
    with pytest.raises(ValueError):
        snowflake.render(sym, 0)


def test_png_reads_back():
    payload = bytes(range(1, 120))
    sym = snowflake.encode(payload)
    png = snowflake.to_png(sym, dpi=300, size_mm=30)
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert abs(img.shape[1] - round(30 / 25.4 * 300)) <= 1
    assert [d.payload for d in snowflake.decode_image(img)] == [payload]


def test_svg_is_vector_with_every_dark_cell():
    sym = snowflake.encode(bytes(range(105)))
    svg = snowflake.to_svg(sym, size_mm=25)
    root = ET.fromstring(svg)
    assert root.get("width") == "25.000mm"
    w, h = snowflake.symbol_extent(sym)
    vb = [float(v) for v in root.get("viewBox").split()]
    assert vb[2:] == pytest.approx([w, h])
    paths = [el.get("d") for el in root.iter() if el.tag.endswith("path")]
    assert len(paths) == 2
    assert paths[1].count("M") == int(sym.cells.sum())
    assert paths[0].count("M") == 2  # the frame: outer and inner hexagon


def test_svg_rasterised_by_hand_decodes():
    """Fill the SVG's polygons with OpenCV: the vector geometry itself is readable."""
    payload = bytes(range(7, 120))
    sym = snowflake.encode(payload)
    svg = snowflake.to_svg(sym, size_mm=25)
    w, h = snowflake.symbol_extent(sym)
    scale = 4.0
    img = np.full((round(h * scale), round(w * scale)), 255, np.uint8)
    root = ET.fromstring(svg)
    frame_d, cells_d = [el.get("d") for el in root.iter() if el.tag.endswith("path")]

    def polys(d):
        out = []
        for sub in re.findall(r"M([^Z]*)Z", d):
            pts = [tuple(map(float, p.split(","))) for p in sub.split("L")]
            out.append((np.array(pts) * scale * 16).astype(np.int32))
        return out

    frame = polys(frame_d)
    cv2.fillPoly(img, frame[:1], 0, cv2.LINE_AA, shift=4)
    cv2.fillPoly(img, frame[1:], 255, cv2.LINE_AA, shift=4)
    cv2.fillPoly(img, polys(cells_d), 0, cv2.LINE_AA, shift=4)
    assert [d.payload for d in snowflake.decode_image(img)] == [payload]


def test_reportlab_drawing():
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas as rl_canvas

    from chipkit.snowflake import writers

    sym = snowflake.encode(bytes(range(110)))
    buf = io.BytesIO()
    c = rl_canvas.Canvas(buf, pagesize=(80 * mm, 80 * mm))
    c.setPageCompression(0)
    snowflake.draw_reportlab(c, sym, 10 * mm, 10 * mm, 60 * mm)
    snowflake.draw_reportlab(c, sym, 10 * mm, 10 * mm, 20 * mm)  # the font is added once
    c.showPage()
    c.save()
    pdf = buf.getvalue()
    assert pdf.startswith(b"%PDF")
    # the frame is one even-odd path; the cells are text in the Type 3 cell font
    assert pdf.count(b"f*") == 2
    assert pdf.count(b"/Subtype /Type3") == 1
    assert pdf.count(f"/{writers.CELL_FONT} 1 Tf".encode()) == 2


def test_pdf_cell_rows_are_the_cell_map():
    """The text rows of the PDF operators, read back, are the symbol's cells in spec
    order, and every row starts at its first cell's centre."""
    from chipkit.snowflake import writers

    sym = snowflake.encode(bytes(range(7, 123)))
    rad = sym.variant
    ops = writers.pdf_ops(sym, 0.0, 0.0, 100.0)
    rows = re.findall(r"\(([01]+)\) Tj", ops)
    assert "".join(rows) == sym.to_string()
    assert [len(r) for r in rows] == [2 * rad + 1 - abs(r) for r in range(-rad, rad + 1)]
    # replay the text positioning: start + Td steps, in module units (y up)
    tm = re.search(r"([-\d.]+) 0 0 ([-\d.]+) ([-\d.]+) ([-\d.]+) Tm", ops)
    scale, x, y = float(tm.group(1)), float(tm.group(3)), float(tm.group(4))
    w, h = snowflake.symbol_extent(sym)
    cx, cy = w / 2 * scale, h / 2 * scale
    steps = [(0.0, 0.0)] + [
        (float(a), float(b)) for a, b in re.findall(r"([-\d.]+) ([-\d.]+) Td", ops)
    ]
    lay = sym.layout
    px, py = 0.0, 0.0
    for r, (dx, dy) in zip(range(-rad, rad + 1), steps, strict=True):
        px, py = px + dx, py + dy
        first = lay.xy[lay.r == r][0]  # the row's first cell (q ascending), y down
        assert x + px * scale == pytest.approx(cx + first[0] * scale, abs=1e-3)
        assert y + py * scale == pytest.approx(cy - first[1] * scale, abs=1e-3)
    assert scale == pytest.approx(100.0 / w, abs=1e-5)


def test_pdf_matches_the_raster_writer(tmp_path):
    """poppler's rendering of the PDF and render() agree cell for cell (frame included)."""
    import shutil
    import subprocess

    import cv2
    import numpy as np

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) not installed: cannot rasterise the PDF")
    sym = snowflake.encode(bytes(range(3, 119)))
    w_mod, _ = snowflake.symbol_extent(sym)
    px = 12.0  # pixels per module
    size_mm = w_mod * px / 300 * 25.4
    (tmp_path / "s.pdf").write_bytes(snowflake.to_pdf(sym, size_mm=size_mm))
    subprocess.run(
        ["pdftoppm", "-r", "300", "-gray", "-png", str(tmp_path / "s.pdf"), str(tmp_path / "p")],
        check=True,
    )
    (png,) = tmp_path.glob("p*.png")
    got = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    want = snowflake.render(sym, px)
    hh, ww = min(got.shape[0], want.shape[0]), min(got.shape[1], want.shape[1])
    # compare at the cell centres: every cell dark or light as in the map
    lay = sym.layout
    h_mod = snowflake.symbol_extent(sym)[1]
    cols = np.clip(np.rint((lay.xy[:, 0] + w_mod / 2) * px - 0.5).astype(int), 0, ww - 1)
    rows_ = np.clip(np.rint((lay.xy[:, 1] + h_mod / 2) * px - 0.5).astype(int), 0, hh - 1)
    assert ((got[rows_, cols] < 128) == sym.cells.astype(bool)).all()
    assert ((want[rows_, cols] < 128) == sym.cells.astype(bool)).all()
    # and the pictures agree almost everywhere (edges differ by the 0.02-module bleed)
    differ = np.abs(got[:hh, :ww].astype(int) - want[:hh, :ww].astype(int)) > 128
    assert differ.mean() < 0.03


def test_standalone_pdf():
    from reportlab.lib.units import mm

    sym = snowflake.encode(bytes(range(100)))
    pdf = snowflake.to_pdf(sym, size_mm=30)
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    w, h = snowflake.symbol_extent(sym)
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)", pdf)
    assert float(box.group(1)) == pytest.approx(30 * mm, abs=0.01)
    assert float(box.group(2)) == pytest.approx(30 * mm * h / w, abs=0.01)


def test_pdf_rasterised_by_poppler_decodes(tmp_path):
    import shutil
    import subprocess

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) not installed: cannot rasterise the PDF")
    payload = bytes(range(9, 125))
    pdf = tmp_path / "s.pdf"
    pdf.write_bytes(snowflake.to_pdf(snowflake.encode(payload), size_mm=30))
    subprocess.run(
        ["pdftoppm", "-r", "200", "-gray", "-png", str(pdf), str(tmp_path / "p")], check=True
    )
    (png,) = tmp_path.glob("p*.png")
    img = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    assert [d.payload for d in snowflake.decode_image(img)] == [payload]
