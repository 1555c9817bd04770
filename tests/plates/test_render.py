"""Plate rendering: layout choices, physical sizes, fonts, and round trips per format."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib

import numpy as np
import pytest
from plates_helpers import (
    SAMPLE_CSV,
    bitmap_image,
    decode_qr_texts,
    pdf_pages_png,
    svg_symbol_bitmap,
)

from chipkit.plates import layout as L
from chipkit.plates import writers as W
from chipkit.plates.carriers import CarrierUnavailable, QRCarrier, get_carrier, row_runs
from chipkit.register import read_register
from chipkit.token import Claims, to_text


def _token(keyring, hid="JD-100201-001", serial=None):
    from datetime import date

    issuer = keyring.issuer()
    serial = serial or keyring.reserve_serials(1)[0]
    raw = issuer.seal_bytes(Claims(hid, "330703100201", serial, date.today()))
    return to_text(raw), raw, serial


@pytest.mark.parametrize(
    "house_no,street,number",
    [
        ("浦口路5号", "浦口路", "5号"),
        ("兴村街 17 号", "兴村街", "17号"),
        ("12", "", "12号"),
        ("大佛寺前街3-2号", "大佛寺前街", "3-2号"),
        ("无门牌", "", "无门牌"),
    ],
)
def test_split_house_no(house_no, street, number):
    assert L.split_house_no(house_no) == (street, number)


def test_head_and_household_id_not_printed_by_default():
    h = read_register(SAMPLE_CSV).households[0]
    d = L.plate_data(h, 7)
    printed = " ".join(str(v) for v in d.__dict__.values())
    assert h.head not in printed and h.household_id not in printed
    assert h.village_name in printed and h.worker_phone in printed and "No.0000007" in printed
    d2 = L.plate_data(h, 7, show_head=True, show_household_id=True)
    assert any(h.head in e for e in d2.extra) and any(h.household_id in e for e in d2.extra)


def test_sheet_grids_are_n_up_with_margins():
    a4, a3 = W.sheet_grid("a4"), W.sheet_grid("a3")
    assert a4.per_page == 4 and a3.per_page == 8
    for g in (a4, a3):
        for slot in range(g.per_page):
            x, y = g.origin(slot)
            assert x >= W.MIN_MARGIN_MM - 1e-9 and y >= W.MIN_MARGIN_MM - 1e-9
            assert x + L.PLATE_W_MM <= g.page_w - W.MIN_MARGIN_MM + 1e-9
            assert y + L.PLATE_H_MM <= g.page_h - W.MIN_MARGIN_MM + 1e-9


def test_row_runs_rebuild_the_matrix():
    rng = np.random.default_rng(1)
    m = rng.random((21, 21)) > 0.5
    back = np.zeros_like(m)
    for r, c, n in row_runs(m):
        back[r, c : c + n] = True
    assert (back == m).all()


def test_png_roundtrip_zxing_pyzbar_and_integer_modules(tmp_path, keyring, font):
    text, raw, serial = _token(keyring)
    car = QRCarrier("Q")
    h = read_register(SAMPLE_CSV).households[0]
    m = L.Measurer(font.path, font.index)
    r = W.PngRenderer(font, 200, car)
    info = r.write(tmp_path / "p.png", L.plate_data(h, serial), car.encode(text, raw), m)
    assert isinstance(info.module_px, int) and info.module_px >= 2
    assert info.module_mm == pytest.approx(info.module_px * 25.4 / 200, abs=1e-4)
    from PIL import Image

    img = Image.open(tmp_path / "p.png")
    assert img.size == (round(120 * 200 / 25.4), round(90 * 200 / 25.4))
    assert img.info["dpi"][0] == pytest.approx(200, abs=0.01)
    assert decode_qr_texts(tmp_path / "p.png") == [text]
    assert keyring.verifier().verify(text).serial == serial
    # interoperability: pyzbar (libzbar) reads it too
    from pyzbar import pyzbar

    got = [d.data.decode() for d in pyzbar.decode(img.convert("L"))]
    assert got == [text]
    # the symbol is drawn without interpolation: only pure black and white in the panel
    arr = np.asarray(img.convert("L"))
    s = 200 / 25.4
    panel = arr[
        int((L.SYMBOL_Y + 1) * s) : int((L.SYMBOL_Y + 30) * s),
        int((L.SYMBOL_X + 1) * s) : int((L.SYMBOL_X + 30) * s),
    ]
    assert set(np.unique(panel).tolist()) <= {0, 255}


def test_chinese_text_renders_with_glyphs_not_boxes(font):
    from PIL import ImageFont

    f = ImageFont.truetype(str(font.path), 48, index=font.index)
    masks = {bytes(f.getmask(ch)) for ch in "浦口村网格员"}
    assert len(masks) == 6  # six distinct glyphs, not six identical .notdef boxes


def test_svg_is_mm_sized_and_symbol_roundtrips(tmp_path, keyring, font):
    text, raw, serial = _token(keyring)
    car = QRCarrier("Q")
    h = read_register(SAMPLE_CSV).households[0]
    info = W.SvgRenderer(font, car).write(
        tmp_path / "p.svg", L.plate_data(h, serial), car.encode(text, raw), L.Measurer(font.path)
    )
    svg = (tmp_path / "p.svg").read_text("utf-8")
    assert 'width="120.0mm" height="90.0mm"' in svg and "浦口村" in svg
    assert "WenQuanYi Micro Hei" in svg
    assert info.module_mm == pytest.approx(38.0 / car.encode(text, raw).size, abs=1e-4)
    grid = svg_symbol_bitmap(svg)
    assert decode_qr_texts(bitmap_image(grid)) == [text]
    import xml.dom.minidom

    xml.dom.minidom.parseString(svg.encode())  # well-formed


@pytest.mark.parametrize("vector", [False, True])
def test_pdf_sheet_exact_size_symbol_embedded_font_roundtrip(tmp_path, keyring, font, vector):
    car = QRCarrier("H", pdf_vector=vector)
    households = read_register(SAMPLE_CSV).households[:5]
    m = L.Measurer(font.path)
    pdf = W.PdfSheetWriter(tmp_path / "s.pdf", font, car, sheet="a4", label="test")
    texts = []
    for h in households:
        text, raw, serial = _token(keyring, h.household_id)
        texts.append(text)
        info = pdf.add(L.plate_data(h, serial), car.encode(text, raw), m)
    pdf.close()
    assert (info.page, info.slot) == (2, 1)
    data = (tmp_path / "s.pdf").read_bytes()
    mb = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert mb and float(mb.group(1)) == pytest.approx(297 * 72 / 25.4, abs=0.01)
    assert float(mb.group(2)) == pytest.approx(210 * 72 / 25.4, abs=0.01)
    assert b"/FontFile2" in data  # the CJK TrueType font is embedded
    assert b"/Subtype /Image" not in data  # no resampled bitmap XObjects anywhere
    content = b"".join(
        zlib.decompress(m)
        for m in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S)
        if m[:1] == b"x"
    )
    if vector:
        assert b" 1 re" in content and b" BI " not in content
    else:  # one sample per module, image mask, interpolation off
        sym = car.encode(texts[0], b"")
        assert (
            f"BI /W {sym.size} /H {sym.size} /IM true /BPC 1 /D [1 0] /I false".encode() in content
        )
    if shutil.which("pdftotext"):
        txt = subprocess.run(
            ["pdftotext", str(tmp_path / "s.pdf"), "-"], capture_output=True, text=True
        ).stdout
        assert "浦口村" in txt and "第一网格" in txt
    pages = pdf_pages_png(tmp_path / "s.pdf", tmp_path / "page", dpi=150, first=1, last=2)
    found = []
    for p in pages:
        found += decode_qr_texts(p)
    assert sorted(found) == sorted(texts)
    v = keyring.verifier()
    assert {v.verify(t).household_id for t in found} == {h.household_id for h in households}


def test_snowflake_carrier_unavailable_or_roundtrips(tmp_path, keyring, font):
    try:
        car = get_carrier("snowflake")
    except CarrierUnavailable as e:
        assert "not available yet" in str(e) and "--carrier qr" in str(e)
        return
    from chipkit import snowflake

    text, raw, serial = _token(keyring)
    h = read_register(SAMPLE_CSV).households[0]
    m = L.Measurer(font.path)
    img, info = W.PngRenderer(font, 200, car).render(
        L.plate_data(h, serial), car.encode(text, raw), m
    )
    dets = snowflake.decode_image(np.asarray(img.convert("L")))
    assert [d.payload for d in dets] == [raw]
    assert keyring.verifier().verify(dets[0].payload).serial == serial
    pdf = W.PdfSheetWriter(tmp_path / "sf.pdf", font, car, sheet="a4")
    pdf.add(L.plate_data(h, serial), car.encode(text, raw), m)
    pdf.close()
    (page,) = pdf_pages_png(tmp_path / "sf.pdf", tmp_path / "sfp", dpi=200)
    from PIL import Image

    dets = snowflake.decode_image(np.asarray(Image.open(page).convert("L")))
    assert [d.payload for d in dets] == [raw]


def test_unknown_carrier_is_value_error():
    with pytest.raises(ValueError):
        get_carrier("datamatrix")


def test_pdf_plate_measures_120_by_90_mm_on_the_page(tmp_path, keyring, font):
    """Rendered at 254 dpi (10 px/mm), the first plate's blue hexagon spans 120 x 90 mm."""
    from PIL import Image

    car = QRCarrier("Q")
    h = read_register(SAMPLE_CSV).households[0]
    text, raw, serial = _token(keyring)
    pdf = W.PdfSheetWriter(tmp_path / "one.pdf", font, car, sheet="a4")
    pdf.add(L.plate_data(h, serial), car.encode(text, raw), L.Measurer(font.path))
    pdf.close()
    (page,) = pdf_pages_png(tmp_path / "one.pdf", tmp_path / "pg", dpi=254, crop_px=(1500, 1200))
    rgb = np.asarray(Image.open(page).convert("RGB")).astype(int)
    blue = (
        (abs(rgb[..., 0] - L.BLUE[0]) < 25)
        & (abs(rgb[..., 1] - L.BLUE[1]) < 25)
        & (abs(rgb[..., 2] - L.BLUE[2]) < 25)
    )
    ys, xs = np.nonzero(blue)
    g = W.sheet_grid("a4")
    assert (xs.max() - xs.min() + 1) / 10 == pytest.approx(L.PLATE_W_MM, abs=0.3)
    assert (ys.max() - ys.min() + 1) / 10 == pytest.approx(L.PLATE_H_MM, abs=0.3)
    assert xs.min() / 10 == pytest.approx(g.x0, abs=0.3) and ys.min() / 10 == pytest.approx(
        g.y0, abs=0.3
    )
