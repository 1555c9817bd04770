"""Issue 14 (reading speed): what the scanner may skip when the snowflake reader's own
search of the whole photo was complete, and the reader's cheaper component labelling."""

from __future__ import annotations

import cv2
import numpy as np

from chipkit import snowflake
from chipkit.scan import _read
from chipkit.snowflake import _locate


def _photo(payloads: list[bytes], size=(600, 800)) -> np.ndarray:
    img = np.full(size, 235, np.uint8)
    x = 20
    for p in payloads:
        sym = snowflake.render(snowflake.encode(p), 3.0)
        h, w = sym.shape
        img[20 : 20 + h, x : x + w] = sym
        x += w + 20
    return cv2.GaussianBlur(img, (0, 0), 0.6)


def _hexagon_blob(img: np.ndarray, cx: int, cy: int, r: int) -> None:
    """A dark regular hexagon with random light holes: symbol-shaped, never decodes."""
    ang = np.radians(np.arange(6) * 60.0)
    pts = np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1).astype(np.int32)
    cv2.fillPoly(img, [pts], 20)
    rng = np.random.default_rng(3)
    for _ in range(150):
        px, py = rng.integers(-r // 2, r // 2, size=2)
        cv2.circle(img, (int(cx + px), int(cy + py)), 2, 235, -1)


def test_reading_is_complete_when_every_outline_decoded():
    payloads = [bytes(range(i, i + 116)) for i in (1, 2)]
    reading = snowflake.read_image(_photo(payloads))
    assert sorted(d.payload for d in reading.detections) == sorted(payloads)
    assert reading.complete


def test_reading_is_incomplete_with_an_undecoded_hexagon_or_nothing():
    img = _photo([bytes(range(1, 117))])
    _hexagon_blob(img, 560, 420, 110)
    reading = snowflake.read_image(img)
    assert [d.payload for d in reading.detections] == [bytes(range(1, 117))]
    assert not reading.complete
    assert not snowflake.read_image(np.full((300, 300), 200, np.uint8)).complete


def _texture_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = _read.texture_regions

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(_read, "texture_regions", counting)
    return calls


def test_scan_skips_the_texture_search_after_a_complete_snowflake_read(monkeypatch):
    calls = _texture_calls(monkeypatch)
    payloads = [bytes(range(i, i + 116)) for i in (5, 6)]
    rep = _read.read_gray(_photo(payloads))
    assert sorted(c.raw for c in rep.codes) == sorted(payloads)
    assert calls == []


def test_scan_keeps_the_texture_search_when_a_hexagon_did_not_decode(monkeypatch):
    calls = _texture_calls(monkeypatch)
    img = _photo([bytes(range(5, 121))])
    _hexagon_blob(img, 560, 420, 110)
    rep = _read.read_gray(img)
    assert [c.raw for c in rep.codes] == [bytes(range(5, 121))]
    assert calls == [1]


def test_component_labelling_falls_back_to_32_bit_labels():
    many = np.zeros((600, 800), np.uint8)
    many[::2, ::2] = 255  # 120,000 single-pixel components: more than 16 bits hold
    n, labels, stats = _locate._components(many)
    assert n == 120_001 and labels.dtype == np.int32
    one = np.zeros((100, 100), np.uint8)
    one[10:20, 30:60] = 255
    n, labels, stats = _locate._components(one)
    assert n == 2 and labels.dtype == np.uint16 and stats[1].tolist() == [30, 10, 30, 10, 300]


def test_outlines_that_failed_are_reported_and_can_be_skipped(monkeypatch):
    img = _photo([bytes(range(1, 117))])
    _hexagon_blob(img, 560, 420, 110)
    first = snowflake.read_image(img)
    assert len(first.failed) == 1 and first.failed[0].shape == (6, 2)
    calls: list[int] = []
    from chipkit.snowflake import reader

    real = reader._decode_candidate

    def counting(gray, corners):
        calls.append(1)
        return real(gray, corners)

    monkeypatch.setattr(reader, "_decode_candidate", counting)
    crop = np.ascontiguousarray(img[250:600, 380:760])  # the blob, in a crop
    again = snowflake.read_image(crop, [c - (380, 250) for c in first.failed])
    assert again.detections == [] and calls == []  # same pixels: not decoded again
    snowflake.read_image(crop)
    assert calls  # without the hint it is


def test_qr_only_decoders_skip_a_crop_centred_on_a_failed_hexagon():
    img = _photo([])
    _hexagon_blob(img, 400, 300, 110)
    seen: list[str] = []

    def fake(name):
        def stage(crop, ox, oy, side, quad=None):
            seen.append(name)
            return []

        return stage

    rd = _read._Reader(img, 1.0, 6)
    rd.whole_snowflake(None)
    assert len(rd.snowflake_failed) == 1
    wechat = rd.qr_only_stage(fake("wechat"))
    wechat(img[200:400, 300:500], 300, 200, 200.0)  # centred on the hexagon: skipped
    assert seen == []
    wechat(img[0:200, 0:200], 0, 0, 200.0)  # elsewhere: runs
    assert seen == ["wechat"]


def test_phone_sized_photos_get_a_half_size_first_look():
    """An 800x600 photo is first searched at half size (a quarter of the labelling and
    tracing), the outline re-traced at full size before decoding."""
    from chipkit.snowflake import reader

    assert reader._search_scales((600, 800)) == [0.5, 1.0]
    assert reader._search_scales((3000, 4000)) == [reader._COARSE_SIDE / 4000, 0.4]


def _count(monkeypatch, module, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(module, name)

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(module, name, counting)
    return calls


def test_an_unreadable_symbol_is_decoded_at_most_twice_per_photo(monkeypatch):
    """The binarisations, search scales and the scanner's crop stage trace one symbol again
    and again, a little differently: a symbol that failed twice is not decoded a third
    time (each failed decode costs tens of ms on a phone photo)."""
    from chipkit.snowflake import reader

    calls = _count(monkeypatch, reader, "_decode_candidate")
    img = np.full((600, 800), 235, np.uint8)
    _hexagon_blob(img, 400, 300, 60)
    img = cv2.GaussianBlur(img, (0, 0), 1.5)
    assert _read.read_gray(img).codes == []
    assert 1 <= len(calls) <= reader._MAX_TRIES_PER_SYMBOL


def test_a_failing_candidate_tries_a_bounded_number_of_hypotheses(monkeypatch):
    """A real symbol whose data cells are wrecked: every outline stops after
    _MAX_HYPOTHESES hypotheses plus the refinements, not after all 14."""
    from chipkit.snowflake import _decode, reader

    sym = snowflake.render(snowflake.encode(bytes(range(1, 117))), 3.0)
    img = np.full((600, 800), 235, np.uint8)
    h, w = sym.shape
    img[50 : 50 + h, 50 : 50 + w] = sym
    rng = np.random.default_rng(0)
    for _ in range(400):
        x, y = rng.integers(-w // 3, w // 3, size=2)
        shade = int(rng.choice([20, 235]))
        cv2.circle(img, (int(50 + w // 2 + x), int(50 + h // 2 + y)), 3, shade, -1)
    candidates = _count(monkeypatch, reader, "_decode_candidate")
    attempts = _count(monkeypatch, _decode, "_equalise")
    assert snowflake.read_image(cv2.GaussianBlur(img, (0, 0), 0.8)).detections == []
    assert candidates
    assert len(attempts) <= len(candidates) * (_decode._MAX_HYPOTHESES + _decode._MAX_REFINES)


def test_the_crop_stage_skips_a_symbol_the_whole_photo_search_exhausted(monkeypatch):
    """A crop centred on a symbol that failed as often as the reader allows is not
    searched again (it could not be decoded there); a crop elsewhere is."""
    from chipkit.snowflake import reader

    img = np.full((600, 800), 235, np.uint8)
    _hexagon_blob(img, 400, 300, 60)
    img = cv2.GaussianBlur(img, (0, 0), 1.5)
    rd = _read._Reader(img, 1.0, 6)
    rd.whole_snowflake(None)
    assert len(rd.snowflake_failed) == reader._MAX_TRIES_PER_SYMBOL
    assert rd.snowflake_reading.exhausted((400.0, 300.0))
    searches = _count(monkeypatch, snowflake, "read_image")
    rd.snowflake_crop_stage(img[200:400, 300:500], 300, 200, 200.0)  # on the symbol
    assert searches == []
    rd.snowflake_crop_stage(img[0:200, 0:200], 0, 0, 200.0)  # elsewhere
    assert searches == [1]


def test_after_a_read_in_the_ladder_less_plate_like_texture_is_not_climbed():
    """Once a region read (a snowflake reads in the ladder, not in zxing-cpp's first
    pass), texture regions scoring under ALIKE_SCORE_SHARE of it are background: the
    same rule the first pass's reads already apply."""
    from chipkit.scan._candidates import Region

    img = np.full((600, 800), 200, np.uint8)
    rd = _read._Reader(img, 1.0, 6)
    plate = Region((100, 100, 300, 300), "texture", 1000.0)
    text = Region((400, 100, 500, 200), "texture", 0.5 * _read.ALIKE_SCORE_SHARE * 1000.0)
    rd.regions = [plate, text]
    seen: list[tuple[int, int]] = []

    def stage(crop, ox, oy, side, quad=None):
        seen.append((ox, oy))
        if not seen[1:]:  # the first region reads
            return [
                _read.Code(
                    "Snowflake",
                    "x",
                    b"x",
                    ((100, 100), (300, 100), (300, 300)),
                    "snowflake",
                    "snowflake",
                )
            ]
        return []

    rd.climb([plate, text], [("zxing-up", stage)])
    assert plate.read and len(seen) == 1


def test_a_12_mp_photo_gets_the_whole_photo_snowflake_search():
    """A plate filling a fair part of a 12 MP frame is read by the reader's own search
    of the whole photo (a ~1000-px look made by pyramid halving, then 1600 px), not only
    through texture crops that may hold parts of it."""
    payload = bytes(range(9, 125))
    sym = snowflake.render(snowflake.encode(payload), 10.0)
    img = np.full((3000, 4000), 230, np.uint8)
    h, w = sym.shape
    img[1200 : 1200 + h, 1700 : 1700 + w] = sym
    rd = _read._Reader(cv2.GaussianBlur(img, (0, 0), 2.0), 1.0, 6)
    assert rd.whole_snowflake(None)
    assert [c.raw for c in rd.codes] == [payload]
