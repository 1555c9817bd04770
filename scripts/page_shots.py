"""Copy the README's page screenshots from a browser-test run into docs/img/, optimised.

The browser tests write 360 x 640 screenshots to tests/web/_screens/ (git-ignored); this picks
the README's few, reduces each to a 64-colour palette PNG (text and flat colours survive) and
checks it stays under 100 KB. Reproduce:

    .venv/bin/python -m pytest tests/web/test_a11y.py tests/web/test_dashboard.py \
        tests/web/test_clerk.py -m browser
    .venv/bin/python scripts/page_shots.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SCREENS = ROOT / "tests" / "web" / "_screens"
OUT = ROOT / "docs" / "img"
#: docs/img name <- the test's screenshot
PICK = {
    "page-household.png": "a11y-household.png",
    "page-worker.png": "a11y-worker-queue.png",
    "page-clerk.png": "clerk-issued.png",  # after an issue: replace-PINs box, PIN slips link
    "page-dash.png": "dash-charts.png",
}
LIMIT = 100_000


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    missing = []
    for name, src in PICK.items():
        path = SCREENS / src
        if not path.exists():
            missing.append(src)
            continue
        img = Image.open(path).convert("RGB")
        small = img.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        small.save(OUT / name, optimize=True)
        size = (OUT / name).stat().st_size
        print(f"{name}: {img.width}x{img.height}, {size / 1000:.0f} KB (from {src})")
        if size > LIMIT:
            print(f"page_shots: {name} is over {LIMIT // 1000} KB", file=sys.stderr)
            return 1
    if missing:
        print(
            f"page_shots: not in {SCREENS}: {', '.join(missing)} (run the tests)", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
