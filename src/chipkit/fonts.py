"""Finding a font that really has Chinese glyphs (for plates, PDFs and PNGs).

Order of search (first hit wins):

1. an explicit path (``--font PATH`` in the CLI),
2. the ``CHIPKIT_FONT`` environment variable,
3. ``fc-match`` / ``fc-list :lang=zh`` (fontconfig), when installed,
4. well-known paths of Debian/Ubuntu/Fedora/macOS/Windows CJK fonts.

Every candidate is checked: it must open with FreeType (Pillow) and have real glyphs
for the test characters (a font without them would print empty boxes). Nothing found
raises :class:`FontNotFound`, whose message says how to install or pass a font.

On Debian/Ubuntu the set-up installs ``fonts-wqy-microhei``
(``/usr/share/fonts/truetype/wqy/wqy-microhei.ttc``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from chipkit.errors import ChipkitError

FONT_ENV = "CHIPKIT_FONT"
TEST_TEXT = "金东区村门牌号网格员"

INSTALL_HINT = (
    "install a CJK font (Debian/Ubuntu: `apt-get install fonts-wqy-microhei`; "
    "Fedora: `dnf install wqy-microhei-fonts`) or pass one with --font PATH "
    f"(or set {FONT_ENV}=PATH) pointing to a .ttf/.ttc/.otf with Chinese glyphs"
)

# Well-known locations, best first. TrueType outlines (wqy, Droid, simhei) are listed
# before CFF-based OTC files because reportlab embeds TrueType fonts only.
KNOWN_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/google-droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansSC-Regular.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "C:/Windows/Fonts/simhei.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simsun.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)


_CFF_WHY = (
    "has PostScript (CFF) outlines, which cannot be embedded in PDFs; "
    "use a TrueType-outline font such as WenQuanYi Micro Hei"
)


class FontNotFound(ChipkitError):
    """No usable CJK font: the message says how to install one or pass ``--font``."""


@dataclass(frozen=True)
class CJKFont:
    """A font file with Chinese glyphs. ``index`` is the face inside a .ttc collection."""

    path: Path
    index: int = 0
    source: str = "system"  # "explicit" | "env" | "fontconfig" | "known-path"

    @property
    def truetype_outlines(self) -> bool:
        """True when the face has TrueType (glyf) outlines, which reportlab can embed."""
        return _has_glyf(self.path, self.index)

    def __str__(self) -> str:
        return f"{self.path}" + (f" (face {self.index})" if self.index else "")


def _has_glyf(path: Path, index: int) -> bool:
    try:
        from fontTools.ttLib import TTFont  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            data = Path(path).read_bytes()[:65536]
        except OSError:
            return False
        return b"glyf" in data
    try:  # pragma: no cover - fontTools is not installed by default
        font = TTFont(str(path), fontNumber=index, lazy=True)
        return "glyf" in font
    except Exception:  # noqa: BLE001
        return False


def _check(path: Path, index: int = 0) -> str | None:
    """None if the face renders the test text with real glyphs, else the reason."""
    if not path.is_file():
        return "no such file"
    try:
        from PIL import ImageFont

        font = ImageFont.truetype(str(path), 32, index=index)
    except OSError as e:
        return f"not a font FreeType can open ({e})"
    # A glyph-less character renders as .notdef (usually an empty box) — identical for
    # every missing character, so two different test characters that render the same
    # are a sign of missing glyphs.
    try:
        masks = [bytes(font.getmask(ch)) for ch in "金门网"]
    except Exception as e:  # noqa: BLE001 - FreeType raises various errors
        return f"cannot render with this font ({e})"
    if len(set(masks)) < 3 or not all(any(m) for m in masks):
        return "has no Chinese glyphs"
    return None


# What fontconfig needs from the environment; nothing else (no secret such as
# $CHIPKIT_PASSPHRASE) is passed to the child processes.
_FC_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "FONTCONFIG_FILE", "FONTCONFIG_PATH")


def _fc_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in _FC_ENV or k.startswith("XDG_")}


def _fontconfig_candidates() -> list[Path]:
    out: list[Path] = []
    fc_match = shutil.which("fc-match")
    fc_list = shutil.which("fc-list")
    try:
        if fc_match:
            r = subprocess.run(
                [fc_match, "-f", "%{file}", "sans-serif:lang=zh-cn"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
                env=_fc_env(),
            )
            if r.stdout.strip():
                out.append(Path(r.stdout.strip()))
        if fc_list:
            r = subprocess.run(
                [fc_list, ":lang=zh", "file"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
                env=_fc_env(),
            )
            for line in sorted(r.stdout.splitlines()):
                p = line.strip().rstrip(":").strip()
                if p:
                    out.append(Path(p))
    except (OSError, subprocess.SubprocessError):
        return out
    return out


def find_cjk_font(path: str | os.PathLike[str] | None = None, *, index: int = 0) -> CJKFont:
    """Return a usable CJK font or raise FontNotFound (see the module docstring for the order)."""
    if path is not None:
        p = Path(path)
        why = _check(p, index)
        if why is None and not _has_glyf(p, index):
            why = _CFF_WHY
        if why:
            raise FontNotFound(f"font {p}: {why}; {INSTALL_HINT}")
        return CJKFont(p, index, "explicit")
    env = os.environ.get(FONT_ENV)
    if env:
        p = Path(env)
        why = _check(p, index)
        if why is None and not _has_glyf(p, index):
            why = _CFF_WHY
        if why:
            raise FontNotFound(f"{FONT_ENV}={p}: {why}; {INSTALL_HINT}")
        return CJKFont(p, index, "env")
    return _discover()


@lru_cache(maxsize=1)
def _discover() -> CJKFont:
    seen: set[Path] = set()
    known = [Path(p) for p in KNOWN_PATHS]
    # Prefer known TrueType-outline fonts, then whatever fontconfig reports.
    for source, candidates in (("known-path", known), ("fontconfig", _fontconfig_candidates())):
        for p in candidates:
            if p in seen:
                continue
            seen.add(p)
            if p.suffix.lower() not in {".ttf", ".ttc", ".otf", ".otc"}:
                continue
            if _check(p) is None and _has_glyf(p, 0):
                return CJKFont(p, 0, source)
    raise FontNotFound(f"no font with Chinese glyphs found; {INSTALL_HINT}")


__all__ = ["FONT_ENV", "INSTALL_HINT", "CJKFont", "FontNotFound", "find_cjk_font"]
