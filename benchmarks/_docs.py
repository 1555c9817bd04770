"""Write one benchmark's section of docs/performance.md between its markers."""

from __future__ import annotations

import platform
import re
from datetime import datetime, timezone
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def write_section(area: str, body: str) -> None:
    begin, end = f"<!-- BEGIN {area} -->", f"<!-- END {area} -->"
    stamp = (
        f"_Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on "
        f"{platform.machine()}, Python {platform.python_version()}._"
    )
    text = DOC.read_text("utf-8") if DOC.exists() else "# Performance\n"
    block = f"{begin}\n{body.rstrip()}\n\n{stamp}\n{end}"
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text, "utf-8")
