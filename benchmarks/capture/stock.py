"""Stock decoders, called the plain way a developer would, as benchmark anchors.

Each takes a grayscale uint8 array and returns the list of decoded texts (bytes decoded
as UTF-8 where a decoder hands out bytes).
"""

from __future__ import annotations

import cv2
import numpy as np
import zxingcpp


def zxing(gray: np.ndarray) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)]


def zbar(gray: np.ndarray) -> list[str]:
    from pyzbar import pyzbar

    out = []
    for s in pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE]):
        out.append(s.data.decode("utf-8", "replace"))
    return out


_cv_det = None


def opencv(gray: np.ndarray) -> list[str]:
    global _cv_det
    if _cv_det is None:
        _cv_det = cv2.QRCodeDetector()
    try:
        ok, texts, _pts, _ = _cv_det.detectAndDecodeMulti(gray)
        out = [t for t in texts if t] if ok else []
        if not out:
            text, _pts, _ = _cv_det.detectAndDecode(gray)
            out = [text] if text else []
    except cv2.error:
        return []
    return out


_wc = None


def wechat(gray: np.ndarray) -> list[str]:
    global _wc
    if _wc is None:
        _wc = cv2.wechat_qrcode_WeChatQRCode()
    try:
        texts, _pts = _wc.detectAndDecode(gray)
    except (cv2.error, UnicodeDecodeError):
        return []
    return [t for t in texts if t]


def available() -> dict:
    out = {"zxing-cpp": zxing, "OpenCV": opencv, "WeChat": wechat}
    try:
        from pyzbar import pyzbar  # noqa: F401

        out["ZBar"] = zbar
    except Exception:  # noqa: BLE001
        pass
    return out
