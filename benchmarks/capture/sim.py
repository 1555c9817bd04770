"""Seeded simulator of phone captures of door plates.

Renders a chip symbol on a simple plate-like card (frame, text, quiet zone), places it in
3-D in front of a pinhole camera (70 degree field of view) with tilt and any in-plane
rotation, composites it over real photographs (scikit-image's sample images) and degrades
it like a phone does: defocus blur, dim light, shadow, glare, dirt and scratches on the
plate, sensor noise, JPEG compression.

Carriers are pluggable (``CARRIERS``): each has ``modules(payload) -> bool matrix`` and a
quiet zone; "qr" is segno at error level Q; "snowflake" registers itself when
``chipkit.snowflake`` imports (``encode`` + ``render``).

Everything is a pure function of the seed: ``capture(level, seed)`` always returns the same
JPEG bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import cv2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from chipkit import token as tk
from chipkit.verifier import SigningKey, Verifier

FOV_DEG = 70.0

# Difficulty levels. pitch: module pitch in image pixels (sqrt of symbol area / modules^2).
LEVELS: dict[int, dict] = {
    0: dict(
        pitch=(2.6, 2.8),
        tilt=15,
        blur=(0.3, 0.5),
        noise=(1, 3),
        dim=(0.8, 1.0),
        shadow=0.1,
        glare=0.1,
        dirt=0.1,
        scratch=0.1,
        jpeg=(60, 65),
    ),
    1: dict(
        pitch=(2.4, 2.8),
        tilt=30,
        blur=(0.3, 0.6),
        noise=(2, 4),
        dim=(0.65, 1.0),
        shadow=0.3,
        glare=0.25,
        dirt=0.3,
        scratch=0.25,
        jpeg=(50, 65),
    ),
    2: dict(
        pitch=(2.2, 2.8),
        tilt=40,
        blur=(0.35, 0.65),
        noise=(2, 5),
        dim=(0.5, 1.0),
        shadow=0.45,
        glare=0.35,
        dirt=0.45,
        scratch=0.35,
        jpeg=(45, 60),
    ),
    3: dict(
        pitch=(2.0, 2.6),
        tilt=48,
        blur=(0.4, 0.7),
        noise=(3, 6),
        dim=(0.45, 1.0),
        shadow=0.55,
        glare=0.45,
        dirt=0.55,
        scratch=0.45,
        jpeg=(40, 55),
    ),
    4: dict(
        pitch=(1.6, 2.4),
        tilt=55,
        blur=(0.45, 0.8),
        noise=(3, 7),
        dim=(0.35, 1.0),
        shadow=0.65,
        glare=0.55,
        dirt=0.65,
        scratch=0.55,
        jpeg=(35, 50),
    ),
}
BACKGROUNDS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "brick",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "coins",
    "clock",
)

# ----------------------------------------------------------------- bench keys (DEMO ONLY)
# Deterministic keys for the benchmark and tests. DEMO ONLY: never use for real plates.
_DEMO_SIGN_SEED = bytes(range(32))
_DEMO_READ_KEY = bytes(range(64, 128))


@lru_cache(maxsize=1)
def demo_keys() -> tuple[Ed25519PrivateKey, AESSIV]:
    return Ed25519PrivateKey.from_private_bytes(_DEMO_SIGN_SEED), AESSIV(_DEMO_READ_KEY)


def demo_verifier(revoked: dict[int, str] | None = None) -> Verifier:
    sk, _ = demo_keys()
    return Verifier(
        {1: SigningKey(1, sk.public_key(), date(2020, 1, 1))}, {1: _DEMO_READ_KEY}, revoked
    )


def make_token(rng: np.random.Generator, hid_len: int = 17) -> tuple[str, int]:
    """A genuine chip text (CK1: + Base45, 178 characters for hid_len 17) and its serial."""
    sk, rk = demo_keys()
    alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    hid = "".join(alphabet[i] for i in rng.integers(0, len(alphabet), hid_len))
    serial = int(rng.integers(1, 2**31))
    claims = tk.Claims(
        hid,
        f"3307030{int(rng.integers(0, 99999)):05d}",
        serial,
        date(2025, 1, 1) + np.timedelta64(int(rng.integers(0, 300)), "D").item(),
    )
    return tk.to_text(tk.seal_bytes(claims, sk, 1, rk, 1)), serial


# ----------------------------------------------------------------- carriers
CELL = 8  # plate pixels per module
REF_SIDE = 53  # modules across the reference QR (version 9, the 178-character chip text)


@dataclass(frozen=True)
class Carrier:
    """A printed symbology: ``symbol(payload)`` -> (gray image at CELL px per module,
    quiet zone included; symbol box inside it (x0, y0, x1, y1); modules across)."""

    name: str

    def symbol(self, payload: str | bytes) -> tuple[np.ndarray, tuple[int, int, int, int], float]:
        raise NotImplementedError


class QRCarrier(Carrier):
    def symbol(self, payload):
        import segno

        q = segno.make(payload, error="Q", micro=False, boost_error=False)
        mods = np.array(q.matrix, dtype=bool)
        quiet = 4
        n = mods.shape[0]
        big = np.kron(mods.astype(np.uint8), np.ones((CELL, CELL), np.uint8)).astype(bool)
        img = np.full(((n + 2 * quiet) * CELL,) * 2, 255, np.uint8)
        o = quiet * CELL
        img[o : o + n * CELL, o : o + n * CELL][big] = 0
        return img, (o, o, o + n * CELL, o + n * CELL), float(n)


class SnowflakeCarrier(Carrier):
    def symbol(self, payload):
        from chipkit import snowflake

        raw = payload if isinstance(payload, bytes) else tk.from_text(payload)
        sym = snowflake.encode(raw)
        quiet = 2.0
        img = snowflake.render(sym, CELL, quiet=quiet)
        w_mod, h_mod = snowflake.symbol_extent(sym, quiet)
        q = int(round(quiet * CELL))
        box = (q, q, img.shape[1] - q, img.shape[0] - q)
        # modules across an equal-area square: sqrt of the symbol's area in modules
        return img, box, float(np.sqrt((w_mod - 2 * quiet) * (h_mod - 2 * quiet)))


CARRIERS: dict[str, Carrier] = {"qr": QRCarrier("qr")}
try:  # registers itself once chipkit.snowflake is importable
    from chipkit import snowflake as _sf

    if hasattr(_sf, "render") and hasattr(_sf, "encode"):
        CARRIERS["snowflake"] = SnowflakeCarrier("snowflake")
except Exception:  # noqa: BLE001, S110
    pass


# ----------------------------------------------------------------- rendering


def card_number(plate: np.ndarray, rng: np.random.Generator, frame: int, colour) -> None:
    """A random plate number printed along the card's bottom edge."""
    h = plate.shape[0]
    num = f"No. {rng.integers(1, 999):03d}  JD-{rng.integers(1000, 9999)}"
    cv2.putText(
        plate,
        num,
        (frame + CELL, h - frame - 3 * CELL),
        cv2.FONT_HERSHEY_SIMPLEX,
        CELL * 0.22,
        colour,
        max(1, CELL // 3),
        cv2.LINE_AA,
    )


def dirt_blob(plate: np.ndarray, rng: np.random.Generator, cx: int, cy: int) -> None:
    """One dirt blob about two modules wide (dark or, less often, light) centred at cx, cy."""
    ax = int(rng.uniform(0.7, 1.3) * CELL)
    ay = int(rng.uniform(0.5, 1.2) * CELL)
    col = int(rng.integers(40, 120)) if rng.random() < 0.7 else int(rng.integers(200, 255))
    cv2.ellipse(
        plate,
        (cx, cy),
        (ax, ay),
        float(rng.uniform(0, 180)),
        0,
        360,
        (col, col, col),
        -1,
        cv2.LINE_AA,
    )


def scratches(plate: np.ndarray, rng: np.random.Generator, p: float) -> None:
    """With probability p, one to four straight scratches across the card."""
    h, w = plate.shape[:2]
    if rng.random() < p:
        for _ in range(int(rng.integers(1, 5))):
            p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            col = int(rng.integers(150, 255)) if rng.random() < 0.6 else int(rng.integers(20, 90))
            cv2.line(plate, p1, p2, (col, col, col), max(1, CELL // 4), cv2.LINE_AA)


def render_plate(
    sym_img: np.ndarray, box: tuple, rng: np.random.Generator, dirt: float, scratch: float
) -> tuple[np.ndarray, np.ndarray]:
    """A colour plate (H, W, 3 uint8) around a symbol, and the symbol's corners on it."""
    sh, sw = sym_img.shape
    frame = 3 * CELL
    text_h = 10 * CELL
    w = sw + 2 * frame
    h = sh + 2 * frame + text_h
    paper = np.array([rng.integers(225, 250), rng.integers(225, 250), rng.integers(220, 250)])
    plate = np.empty((h, w, 3), np.uint8)
    plate[:] = paper
    frame_col = [(40, 40, 170), (160, 50, 30), (30, 30, 30), (20, 90, 40)][rng.integers(0, 4)]
    cv2.rectangle(plate, (CELL, CELL), (w - CELL, h - CELL), frame_col, CELL)
    ink = int(rng.integers(10, 45))
    # ink where the symbol is dark, keeping anti-aliased edges
    a = (255 - sym_img.astype(np.float32)) / 255.0
    region = plate[frame : frame + sh, frame : frame + sw].astype(np.float32)
    plate[frame : frame + sh, frame : frame + sw] = (
        region * (1 - a[..., None]) + ink * a[..., None]
    ).astype(np.uint8)
    card_number(plate, rng, frame, frame_col)
    x0, y0, x1, y1 = (v + frame for v in box)
    n_x = (x1 - x0) / CELL
    n_y = (y1 - y0) / CELL
    # dirt: dark blobs about two modules wide; half of them on a finder pattern (corner)
    if rng.random() < dirt:
        for _ in range(int(rng.integers(1, 4))):
            if rng.random() < 0.5:
                fx, fy = [(3.5, 3.5), (n_x - 3.5, 3.5), (3.5, n_y - 3.5)][rng.integers(0, 3)]
            else:
                fx, fy = rng.uniform(0, n_x), rng.uniform(0, n_y)
            dirt_blob(plate, rng, int(x0 + fx * CELL), int(y0 + fy * CELL))
    scratches(plate, rng, scratch)
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    return plate, corners


@lru_cache(maxsize=32)
def _background(name: str) -> np.ndarray:
    import skimage.data as sd

    im = getattr(sd, name)()
    if im.dtype == bool:
        im = im.astype(np.uint8) * 255
    if im.ndim == 2:
        im = np.stack([im] * 3, -1)
    return np.ascontiguousarray(im[..., :3][..., ::-1])  # RGB -> BGR


def background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    im = _background(BACKGROUNDS[rng.integers(0, len(BACKGROUNDS))])
    ih, iw = im.shape[:2]
    scale = max(w / iw, h / ih) * rng.uniform(1.0, 1.4)
    big = cv2.resize(
        im, (math.ceil(iw * scale), math.ceil(ih * scale)), interpolation=cv2.INTER_CUBIC
    )
    y = int(rng.integers(0, big.shape[0] - h + 1))
    x = int(rng.integers(0, big.shape[1] - w + 1))
    out = big[y : y + h, x : x + w].copy()
    if rng.random() < 0.5:
        out = out[:, ::-1].copy()
    return out


def _pose(rng, w, h, plate_size, sym_corners, pitch, n_mod, tilt_max, center=None):
    """Homography plate->image for a plate placed in 3-D with the given module pitch."""
    f = (w / 2) / math.tan(math.radians(FOV_DEG / 2))
    tilt = math.radians(rng.uniform(0, tilt_max))
    az = rng.uniform(0, 2 * math.pi)
    roll = rng.uniform(0, 2 * math.pi)
    # rotation: in-plane roll, then tilt about an axis in the plane at azimuth az
    cr, sr = math.cos(roll), math.sin(roll)
    r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    axis = np.array([math.cos(az), math.sin(az), 0.0])
    r_tilt, _ = cv2.Rodrigues(axis * tilt)
    rot = r_tilt @ r_roll
    pw, ph = plate_size
    cell = (sym_corners[1, 0] - sym_corners[0, 0]) / n_mod  # plate px per module
    dist = cell * f * math.sqrt(math.cos(tilt)) / pitch
    plate_diag = math.hypot(pw, ph) * f / dist
    margin = plate_diag / 2 + 4
    if center is None:
        u = rng.uniform(margin, max(margin + 1, w - margin))
        v = rng.uniform(margin, max(margin + 1, h - margin))
    else:
        u, v = center
    t = np.array([(u - w / 2) * dist / f, (v - h / 2) * dist / f, dist])

    def project(pts):
        p3 = np.c_[pts[:, 0] - pw / 2, pts[:, 1] - ph / 2, np.zeros(len(pts))] @ rot.T + t
        return np.c_[f * p3[:, 0] / p3[:, 2] + w / 2, f * p3[:, 1] / p3[:, 2] + h / 2]

    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float64)
    hom = cv2.getPerspectiveTransform(src.astype(np.float32), project(src).astype(np.float32))
    return hom, project(sym_corners), pw * f / dist


def place(canvas: np.ndarray, plate: np.ndarray, hom: np.ndarray, scale: float) -> None:
    """Warp ``plate`` into ``canvas`` (in place), anti-aliased for the downscale."""
    h, w = canvas.shape[:2]
    ds = plate.shape[1] / max(scale, 1e-6)
    if ds > 1.2:
        sigma = 0.45 * ds
        plate = cv2.GaussianBlur(plate, (0, 0), sigma)
    warped = cv2.warpPerspective(
        plate, hom, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    mask = cv2.warpPerspective(
        np.full(plate.shape[:2], 255, np.uint8), hom, (w, h), flags=cv2.INTER_LINEAR
    )
    a = (mask.astype(np.float32) / 255.0)[..., None]
    canvas[:] = (canvas * (1 - a) + warped * a).astype(np.uint8)


def degrade(img: np.ndarray, rng: np.random.Generator, p: dict, focus: list) -> np.ndarray:
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < p["shadow"]:  # a soft-edged shadow across the plate
        cx, cy = focus[int(rng.integers(0, len(focus)))]
        ang = rng.uniform(0, 2 * math.pi)
        d = (xx - cx) * math.cos(ang) + (yy - cy) * math.sin(ang) - rng.uniform(-30, 30)
        soft = rng.uniform(2, 25)
        depth = rng.uniform(0.35, 0.7)
        f *= (1 - depth / (1 + np.exp(-d / soft)))[..., None]
    f *= rng.uniform(*p["dim"])
    if rng.random() < p["glare"]:  # a specular highlight
        cx, cy = focus[int(rng.integers(0, len(focus)))]
        cx += rng.normal(0, 25)
        cy += rng.normal(0, 25)
        s = rng.uniform(6, 30)
        amp = rng.uniform(120, 260)
        f += (amp * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s)))[..., None]
    b = rng.uniform(*p["blur"])
    f = cv2.GaussianBlur(f, (0, 0), b)
    f += rng.normal(0, rng.uniform(*p["noise"]), f.shape).astype(np.float32)
    return np.clip(f, 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, q: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(q)])
    assert ok
    return buf.tobytes()


@dataclass
class Capture:
    jpeg: bytes
    truth: list[dict] = field(default_factory=list)  # {"text", "serial", "corners", "pitch"}
    level: int = 0
    kind: str = "single"


def capture(
    level: int,
    seed: int,
    *,
    carrier: str = "qr",
    size=(800, 600),
    n_plates: int = 1,
    pitch: tuple | None = None,
    payloads=None,
) -> Capture:
    """One simulated phone capture. ``payloads`` (texts) default to fresh chips."""
    rng = np.random.default_rng([level, seed, n_plates, size[0]])
    p = dict(LEVELS[level])
    if pitch is not None:
        p["pitch"] = pitch
    w, h = size
    img = background(rng, w, h)
    truth = []
    centers = None
    if n_plates > 1:
        cols = math.ceil(math.sqrt(n_plates))
        rows = math.ceil(n_plates / cols)
        cells = [(c, r) for r in range(rows) for c in range(cols)]
        centers = [
            ((c + 0.5) * w / cols + rng.normal(0, 8), (r + 0.5) * h / rows + rng.normal(0, 8))
            for c, r in cells[:n_plates]
        ]
    car = CARRIERS[carrier]
    focus = []
    for i in range(n_plates):
        if payloads is not None:
            text, serial = payloads[i], None
        else:
            text, serial = make_token(rng)
        sym_img, box, n_mod = car.symbol(text)
        plate, sym = render_plate(sym_img, box, rng, p["dirt"], p["scratch"])
        pt = rng.uniform(*p["pitch"])
        # the same printed area for every carrier: scale the pitch to the reference QR
        pt_c = pt * REF_SIDE / n_mod
        center = None if centers is None else centers[i]
        size = (plate.shape[1], plate.shape[0])
        hom, corners, scale = _pose(rng, w, h, size, sym, pt_c, n_mod, p["tilt"], center)
        place(img, plate, hom, scale)
        focus.append(tuple(corners.mean(0)))
        truth.append({"text": text, "serial": serial, "corners": corners.tolist(), "pitch": pt})
    img = degrade(img, rng, p, focus)
    q = int(rng.integers(p["jpeg"][0], p["jpeg"][1] + 1))
    return Capture(jpeg(img, q), truth, level, "multi" if n_plates > 1 else "single")


def big_photo(seed: int, *, with_chip: bool = True, size=(4000, 3000)) -> Capture:
    """A 12-megapixel phone photo (JPEG q 90) with one readable plate, or none."""
    rng = np.random.default_rng([99, seed, int(with_chip)])
    w, h = size
    img = background(rng, w, h)
    truth = []
    if with_chip:
        text, serial = make_token(rng)
        sym_img, box, n_mod = CARRIERS["qr"].symbol(text)
        plate, sym = render_plate(sym_img, box, rng, 0.0, 0.0)
        pt = rng.uniform(3.0, 8.0)
        size = (plate.shape[1], plate.shape[0])
        hom, corners, scale = _pose(rng, w, h, size, sym, pt, n_mod, 30)
        place(img, plate, hom, scale)
        truth.append({"text": text, "serial": serial, "corners": corners.tolist(), "pitch": pt})
    f = img.astype(np.float32) + rng.normal(0, 3, img.shape).astype(np.float32)
    img = np.clip(f, 0, 255).astype(np.uint8)
    return Capture(jpeg(img, 90), truth, -1, "12mp" if with_chip else "12mp-empty")
